"""The local supervisor: ffmpeg children, lifecycle, reconnect, persistence, filesystems."""
