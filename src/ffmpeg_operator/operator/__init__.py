"""The Kubernetes operator: FFmpegProcess objects in, run Pods and status out (design §4, §5).

``ffmpeg-operator operator`` runs kopf with the handlers of :mod:`.handlers`. Handlers are thin:
every decision is a pure function in :mod:`ffmpeg_operator.kube` (:mod:`~ffmpeg_operator.kube.
reconcile` above all); here are the loop per process (:mod:`.controller`), the API calls kopf
does not make (:mod:`.kubeclient`), cleanup rules applied to the volumes (:mod:`.cleanup`) and
the settings (:mod:`.config`).
"""
