"""kopf handlers: thin, every decision delegated to ffmpeg_operator.kube."""
