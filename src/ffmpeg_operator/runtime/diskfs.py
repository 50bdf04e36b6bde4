"""The ``{diskfs}`` data directory as a cleanup filesystem (spec §8, design §6).

The implementation is shared with the operator and lives in
:mod:`ffmpeg_operator.supervision.fsroot`.
"""

from __future__ import annotations

from ffmpeg_operator.supervision.fsroot import DiskFS

__all__ = ["DiskFS"]
