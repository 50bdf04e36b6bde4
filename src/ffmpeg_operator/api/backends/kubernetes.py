"""The v3 process API over FFmpegProcess custom resources (``serve --backend kubernetes``).

Every process is one FFmpegProcess in one namespace; the operator turns it into run Pods (and
applies the cleanup rules, memfs ones over HTTP to this server). This backend only talks to the
Kubernetes API (FFmpegProcess CRUD and watch, Pods get/list and logs) and to the agents in run
Pods (``/state``). Field ownership and the mapping are documented in
``docs/kubernetes-api.md``; in short:

=========================  ====================================================================
v3 call                    FFmpegProcess operation
=========================  ====================================================================
POST                       create (desiredState from autostart)
PUT, same id               merge patch of the config fields (+ ``updated-at`` annotation)
PUT, new id (rename)       create the new object, then delete the old one (rolled back when
                           the deletion fails; nothing is deleted when the creation fails)
DELETE                     delete; waits until the operator's finalizer let it go (bounded)
start / stop               ``spec.desiredState`` running / stopped (stop waits for the run)
restart                    a new ``spec.restartRequest`` token while a run is alive
reload                     re-validate only (the operator re-resolves on every change)
metadata                   the ``ffmpeg-operator.io/metadata`` annotation (no spec change)
=========================  ====================================================================

Reads come from informers (:mod:`.kubecache`); every write carries the ``resourceVersion`` it
was computed from and is recomputed on 409 Conflict, so a concurrent ``kubectl apply`` is never
overwritten blindly. A PUT whose base config changed in between fails with 400 instead of
overwriting the other change.
"""

from __future__ import annotations

import asyncio

from ffmpeg_operator.api.backends.kubebounds import INT64_MAX, check_kubernetes_bounds
from ffmpeg_operator.api.backends.kubecommands import KubeCommands
from ffmpeg_operator.api.backends.kubemetadata import KubeMetadata
from ffmpeg_operator.api.backends.kubeoptions import KubernetesOptions
from ffmpeg_operator.api.backends.kubereads import KubeReads
from ffmpeg_operator.api.backends.kubeupdates import CONCURRENT_UPDATE, KubeUpdates
from ffmpeg_operator.core.skills import Skills
from ffmpeg_operator.supervision.skills import probe_skills

__all__ = [
    "CONCURRENT_UPDATE",
    "INT64_MAX",
    "KubernetesBackend",
    "KubernetesOptions",
    "check_kubernetes_bounds",
]


class KubernetesBackend(KubeReads, KubeUpdates, KubeCommands, KubeMetadata):
    """:class:`~ffmpeg_operator.api.backend.ProcessBackend` over FFmpegProcess objects.

    Use :meth:`open` / :meth:`close` around it (the server's lifespan). Each part lives in its
    own module: state and indexes (:mod:`.kubeindex`), object writes (:mod:`.kubeobjects`),
    waits (:mod:`.kubewaits`), reads (:mod:`.kubereads`), updates (:mod:`.kubeupdates`),
    commands (:mod:`.kubecommands`) and metadata (:mod:`.kubemetadata`).
    """

    async def skills(self, reload: bool = False) -> Skills:
        if self._skills is None or reload:
            self._skills = await asyncio.to_thread(probe_skills, self.options.ffmpeg)
        return self._skills

    def restarts(self) -> dict[str, int]:
        return {
            view.id: view.status.restarts if view.status is not None else 0
            for view in self._views.values()
        }
