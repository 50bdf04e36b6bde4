"""Benchmarks of ffmpeg-operator against its targets (not tests): ``python -m bench``."""
