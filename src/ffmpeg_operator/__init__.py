"""ffmpeg-operator: FFmpeg processes behind the datarhei Core v3 process API.

Embedded mode supervises local ffmpeg children; the Kubernetes engine runs each process as
FFmpegProcess custom resources. See the README for the two set-up commands.
"""

__version__ = "0.1.0"
