"""The in-Pod sidecar: progress receiver, stale and limit watchdogs, /state and /metrics.

``ffmpeg-operator agent --progress-port P [--progress-host A] [--http-port H] ...`` runs as a
native sidecar of a run Pod (``shareProcessNamespace: true``). ffmpeg, started after it with
``-nostdin -progress tcp://A:P`` (A: 127.0.0.1 by default), streams its counters to the
agent; the agent finds ffmpeg's PID, samples it every second and stops it (SIGINT, SIGKILL
after 5 s) on a stale timeout or a limit breach.

HTTP (``--http-host``/``--http-port``):

- ``GET /state``: the run's datarhei ``ProcessState`` (plain JSON numbers) plus
  ``stop_reason`` (why the agent stopped ffmpeg, else null) and ``progress_updated_at``
  (unix seconds of the last real progress, else null);
- ``GET /metrics``: ``ffmpeg_process_{fps,bitrate_kbit,frame,cpu_usage_percent,memory_bytes,
  stale_seconds,running}{id="<process id>"}``;
- ``GET /healthz``: answers once the progress port listens (the startup probe).

Termination message (``--termination-message-path``, default ``/dev/termination-log``),
written when the agent stops ffmpeg, when ffmpeg exits, and on SIGTERM (then exit 0):
``{"reason": str|null, "exitCode": int|null, "killedBy": "stale"|"limit"|null}``.
"""
