"""What the local runtime, the Kubernetes agent and the operator share: live progress,
watchdogs, log ring, the diskfs directory.

- :mod:`.binary` — which ffmpeg to run (flag, ``FFMPEG_OPERATOR_FFMPEG``, PATH, bundled).
- :mod:`.run` — :class:`~.run.FFmpegRun`, one ffmpeg child: no shell, null stdin/stdout, stderr
  and ``-progress`` lines to callbacks, exit → finished/failed/killed, SIGINT-then-SIGKILL stop.
- :mod:`.lines` — splitting stderr bytes on ``\\n``, ``\\r``, ``\\r\\n``.
- :mod:`.sampler` — CPU (normalised to the machine or cgroup quota) and RSS via psutil.
- :mod:`.watchdogs` — stale timeout and resource limits as pure state machines.
- :mod:`.monitor` — the 1 s loop that samples, checks the watchdogs and stops the run.
- :mod:`.logring` — the report log: last 50 non-progress lines with their time.
- :mod:`.fsroot` — the ``{diskfs}`` directory as a cleanup filesystem, contained in its root.
- :mod:`.probe`, :mod:`.skills` — one-shot ffmpeg runs for ``…/probe`` and ``/skills``.

Parsing lines is not done here: the parsers live in :mod:`ffmpeg_operator.core`.
"""
