"""``python -m ffmpeg_operator`` = the ``ffmpeg-operator`` command."""

from ffmpeg_operator.cli import main

main()
