"""Live progress of a run (spec §2.4): Core's ``state.progress`` from parsed progress samples.

Counters (``frame``, ``q``, ``size_kb``, ``time``, ``speed``, ``drop``, ``dup``) are copied from
ffmpeg; ``fps`` and ``bitrate_kbit`` are *computed* from counter deltas, as Core does: each
sample adds its delta to the current one-second bucket of a 30-bucket sliding window, and the
average is the sum of the last N completed buckets / N, N = min(elapsed seconds, 30). Values are
those of the latest sample's time; they are written into the :class:`Progress` model when it is
read, not at every sample (two samples a second per running process, read far less often).
Per-stream entries hold the static prelude data.

Output streams get live counters of their own from ffmpeg's per-stream statistics files
(:mod:`ffmpeg_operator.core.ffmpeg.streamstats`, encoded streams only). A stream without them
takes what the totals say of it, as ffmpeg computes them: the totals' ``frame`` counts the
first video output stream, the totals' ``size`` the first output file (so a file with one
stream). Inputs keep the static prelude data: stock ffmpeg reports nothing per input while it
runs.

Time is passed in (seconds, any monotonic clock), so everything here is pure.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence

from ffmpeg_operator.core.ffmpeg.prelude import PreludeDump, progress_ios
from ffmpeg_operator.core.ffmpeg.sample import ProgressSample
from ffmpeg_operator.core.ffmpeg.streamstats import StreamPacket
from ffmpeg_operator.core.models import Progress, ProgressIO

#: Core's averaging window: 30 buckets of one second.
WINDOW_BUCKETS = 30
BUCKET_SECONDS = 1.0

_ZERO = ProgressSample(
    frame=0, packet=0, q=0.0, size_bytes=0, time_sec=0.0, speed=0.0, drop=0, dup=0
)


class SlidingAverage:
    """Per-second sums over a sliding window; the clock starts at the first :meth:`add`."""

    def __init__(
        self, buckets: int = WINDOW_BUCKETS, bucket_seconds: float = BUCKET_SECONDS
    ) -> None:
        self._size = buckets
        self._bucket_seconds = bucket_seconds
        self._start: float | None = None
        self._current = 0  # number of the bucket being filled, counted from the start
        self._buckets: deque[float] = deque([0.0], maxlen=buckets + 1)

    def add(self, value: float, now: float) -> None:
        """Add ``value`` to the bucket of second ``now``."""
        if self._start is None:
            self._start = now
        self._advance(now)
        self._buckets[-1] += value

    def average(self, now: float) -> float:
        """Mean per bucket over the completed buckets of the window (0 before the first one
        completes). Core's shifter keeps ticking without samples, so empty seconds count.
        """
        if self._start is None:
            return 0.0
        self._advance(now)
        completed = min(self._current, self._size)
        if completed == 0:
            return 0.0
        # The deque holds up to `size` completed buckets followed by the current one.
        window = list(self._buckets)[-completed - 1 : -1]
        return math.fsum(window) / completed

    def reset(self) -> None:
        self._start = None
        self._current = 0
        self._buckets = deque([0.0], maxlen=self._size + 1)

    def _advance(self, now: float) -> None:
        assert self._start is not None
        target = max(self._current, int((now - self._start) // self._bucket_seconds))
        for _ in range(min(target - self._current, self._size + 1)):
            self._buckets.append(0.0)
        self._current = target


def advanced(previous: ProgressSample | None, current: ProgressSample) -> bool:
    """Real progress for the stale watchdog: frame, time or size grew since ``previous``.

    Wider than Core's frame-only rule (§4.6), so audio-only outputs (no ``frame``) and
    ``-filter_complex`` runs count too. Missing values never count as growth; ``None`` as
    ``previous`` means nothing was seen yet (all zero).
    """
    before = _ZERO if previous is None else previous.over(_ZERO)
    for name in ("frame", "time_sec", "size_bytes"):
        now_value = getattr(current, name)
        if now_value is not None and now_value > getattr(before, name):
            return True
    return False


class StreamCounter:
    """Live figures of one output stream from its :class:`StreamPacket` lines."""

    def __init__(self) -> None:
        self.count = 0
        self.size_bytes = 0
        self.keyframes = 0
        self.q: float | None = None
        self._rate = SlidingAverage()
        self._bits = SlidingAverage()

    def add(self, packet: StreamPacket, now: float) -> None:
        self._rate.add(max(0, packet.count - self.count), now)
        self._bits.add(packet.size_bytes * 8, now)
        self.count = max(self.count, packet.count)
        self.size_bytes += packet.size_bytes
        self.keyframes += int(packet.keyframe)
        if packet.q is not None and packet.q >= 0:
            self.q = packet.q

    def fill(self, entry: ProgressIO, now: float) -> None:
        rate = self._rate.average(now)
        entry.frame = entry.packet = self.count
        entry.keyframe = self.keyframes
        entry.fps = entry.pps = rate
        entry.size_kb = self.size_bytes // 1024
        entry.bitrate_kbit = self._bits.average(now) / 1024
        if self.q is not None:
            entry.q = self.q


class ProgressTracker:
    """Maintains the :class:`Progress` of the current run from samples. Feed it one source of
    counters (either ``-progress`` blocks or stderr stats lines): the two round sizes
    differently, and mixing them would fake size deltas.
    """

    def __init__(self, input_ids: Sequence[str] = (), output_ids: Sequence[str] = ()) -> None:
        self._input_ids = list(input_ids)
        self._output_ids = list(output_ids)
        self._last = _ZERO
        self._fps = SlidingAverage()
        self._bits = SlidingAverage()
        self._streams: dict[tuple[int, int], StreamCounter] = {}
        self._progress = Progress()
        #: Time of the latest sample not yet written into ``_progress`` (None: up to date).
        self._pending: float | None = None

    @property
    def progress(self) -> Progress:
        """The current progress (a copy: safe to hand out)."""
        if self._pending is not None:
            self._fill(self._pending)
            self._pending = None
        return self._progress.model_copy(deep=True)

    @property
    def last_sample(self) -> ProgressSample:
        """Latest known counters, missing values carried over from earlier samples."""
        return self._last

    def set_ids(self, input_ids: Sequence[str], output_ids: Sequence[str]) -> None:
        """The stored config's input and output ids, for the per-stream entries."""
        self._input_ids = list(input_ids)
        self._output_ids = list(output_ids)

    def set_streams(self, dump: PreludeDump) -> None:
        """Per-stream entries from the parsed prelude (static data, zero counters)."""
        self._progress.inputs = progress_ios(dump.inputs, self._input_ids)
        self._progress.outputs = progress_ios(dump.outputs, self._output_ids)

    def add_packet(self, packet: StreamPacket, now: float) -> None:
        """One line of a per-stream statistics file; shown at the next :meth:`update`."""
        key = (packet.file, packet.stream)
        counter = self._streams.get(key)
        if counter is None:
            counter = self._streams[key] = StreamCounter()
        counter.add(packet, now)

    def update(self, sample: ProgressSample, now: float) -> bool:
        """Take one sample seen at ``now``; return whether it shows :func:`advanced` progress."""
        previous = self._last
        current = sample.over(previous)
        self._last = current
        # Core's counters are unsigned; a counter going back (new output file) adds nothing.
        self._fps.add(_delta(current.frame, previous.frame), now)
        self._bits.add(_delta(current.size_bytes, previous.size_bytes) * 8, now)
        # Setting a dozen fields of a pydantic model per sample was most of a sample's cost:
        # it is done when the progress is read (:attr:`progress`), with this sample's time.
        self._pending = now
        return advanced(previous, current)

    def _fill(self, now: float) -> None:
        current = self._last
        progress = self._progress
        progress.frame = current.frame or 0
        progress.packet = current.packet or 0
        progress.q = current.q or 0.0
        progress.size_kb = (current.size_bytes or 0) // 1024
        progress.time = current.time_sec or 0.0
        progress.speed = current.speed or 0.0
        progress.drop = current.drop or 0
        progress.dup = current.dup or 0
        progress.fps = self._fps.average(now)
        progress.bitrate_kbit = self._bits.average(now) / 1024
        self._fill_outputs(now)

    def _fill_outputs(self, now: float) -> None:
        progress = self._progress
        outputs = progress.outputs
        first_video = next((entry for entry in outputs if entry.type == "video"), None)
        first_file = [entry for entry in outputs if entry.index == 0]
        for entry in outputs:
            counter = self._streams.get((entry.index, entry.stream))
            if counter is not None:
                counter.fill(entry, now)
                if counter.q is None and entry is first_video:
                    entry.q = progress.q
                continue
            if entry is first_video:
                entry.frame = entry.packet = progress.frame
                entry.fps = entry.pps = progress.fps
                entry.q = progress.q
            if len(first_file) == 1 and entry is first_file[0]:
                entry.size_kb = progress.size_kb
                entry.bitrate_kbit = progress.bitrate_kbit

    def reset(self) -> None:
        """Forget the run: all zeros and no streams (Core resets stats when a run ends)."""
        self._last = _ZERO
        self._fps.reset()
        self._bits.reset()
        self._streams = {}
        self._progress = Progress()
        self._pending = None


def _delta(current: float | None, previous: float | None) -> int:
    return max(0, int((current or 0) - (previous or 0)))
