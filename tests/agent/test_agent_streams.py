"""The agent's per-stream entries: ffmpeg's report and -vstats_file through FIFOs."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from ffmpeg_operator.agent.fifo import FifoReader
from ffmpeg_operator.agent.options import AgentOptions
from ffmpeg_operator.agent.run_agent import RunAgent
from ffmpeg_operator.core.ffmpeg.progress_block import build_block

REPORT = [
    "ffmpeg started on 2026-12-07 at 12:00:00",
    "Input #0, lavfi, from 'testsrc=size=160x120:rate=25':",
    "  Stream #0:0: Video: rawvideo (RGB[24] / 0x18424752), rgb24, 160x120, 25 tbr, 25 tbn",
    "Stream mapping:",
    "  Stream #0:0 -> #0:0 (rawvideo (native) -> h264 (libx264))",
    "Output #0, mpegts, to 'pipe:':",
    "  Stream #0:0: Video: h264, yuv444p(tv, progressive), 160x120, q=2-31, 25 fps, 90k tbn",
]
VSTATS = "out=  0 st=  0 frame=     {n} q= 28.0 f_size=   2048 s_size= 2kB time= 0.0 type= P"


def test_report_and_vstats_lines_give_the_state_its_stream_entries() -> None:
    agent = RunAgent(AgentOptions(progress_port=0))
    for line in REPORT:
        agent.on_report_line(line)
    for n in range(10):
        agent.on_stats_line(VSTATS.format(n=n))
    agent.on_block(build_block({"frame": "10", "total_size": "4096", "out_time_us": "400000"}))

    progress = agent.state().progress
    assert [(e.type, e.codec) for e in progress.inputs] == [("video", "rawvideo")]
    [output] = progress.outputs
    assert (output.codec, output.frame, output.size_kb) == ("h264", 10, 20)


def test_mux_stats_lines_count_audio_streams_too() -> None:
    agent = RunAgent(AgentOptions(progress_port=0))
    for line in [*REPORT[:-1], "  Stream #0:0: Audio: aac (LC), 48000 Hz, mono, fltp"]:
        agent.on_report_line(line)
    for n in range(4):
        agent.on_stats_line(f"0 0 {n} 256 K")
    agent.on_block(build_block({"total_size": "4096", "out_time_us": "400000"}))

    [output] = agent.state().progress.outputs
    assert (output.type, output.codec, output.packet, output.keyframe) == ("audio", "aac", 4, 4)


def test_a_fifo_is_made_and_its_lines_delivered_across_writers(tmp_path: Path) -> None:
    path = tmp_path / "report.fifo"
    path.write_text("a stale regular file")  # replaced by the FIFO
    lines: list[str] = []

    async def scenario() -> None:
        reader = FifoReader(path, lines.append)
        reader.start()
        try:
            for text in (b"first\n", b"second\nthird"):
                # A writer that opens, writes and goes, like two ffmpeg runs of one Pod.
                fd = os.open(path, os.O_WRONLY)
                os.write(fd, text + b"\n")
                os.close(fd)
            for _ in range(50):
                if len(lines) == 3:
                    break
                await asyncio.sleep(0.02)
        finally:
            await reader.close()

    asyncio.run(scenario())
    assert lines == ["first", "second", "third"]
