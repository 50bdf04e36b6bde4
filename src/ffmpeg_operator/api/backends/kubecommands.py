"""The commands of the Kubernetes backend: start, stop, restart, reload, probe."""

from __future__ import annotations

import secrets
import time

from ffmpeg_operator.api.backends.kubeindex import Obj
from ffmpeg_operator.api.backends.kubeviews import ProcessView
from ffmpeg_operator.api.backends.kubewaits import KubeWaits
from ffmpeg_operator.core.argv import probe_argv
from ffmpeg_operator.core.errors import CommandFailedError, ConfigError
from ffmpeg_operator.core.models import Probe
from ffmpeg_operator.supervision.probe import probe_process


def _token() -> str:
    return f"{int(time.time())}-{secrets.token_hex(4)}"


class KubeCommands(KubeWaits):
    """start/stop/restart as spec changes, reload and probe as Core does them."""

    async def command(self, pid: str, command: str) -> None:
        view = self._require(pid)
        if command != "start":
            await self._pods_now()
        if command == "start":
            if view.order == "start":
                return  # Core: a start of a started process is a no-op, running or not
            await self._set_desired_state(view, "running")
            await self._wait_started(view)
        elif command == "stop":
            live = self._live_runs(view)
            if view.order == "stop" and not live:
                return
            await self._set_desired_state(view, "stopped")
            await self._wait_runs_over(view, live)
        elif command == "restart":
            live = self._live_runs(view)
            if view.order != "start" or not live:
                return  # Core: restart only interrupts a running ffmpeg
            await self._request_restart(view)
            await self._wait_runs_over(view, live)
        elif command == "reload":
            # Core re-resolves placeholders and references and re-validates (§3.5). The
            # operator does that on its own whenever something changes and replaces a run
            # whose resolved command changed; here the answer is Core's: 400 when invalid.
            self._prepare(view.config)
        else:  # pragma: no cover - the route passes known verbs only
            raise CommandFailedError(f"unknown command {command!r}")

    async def _set_desired_state(self, view: ProcessView, desired: str) -> None:
        def change(obj: Obj) -> Obj | None:
            if (obj.get("spec") or {}).get("desiredState") == desired:
                return None
            return {"spec": {"desiredState": desired}}

        await self._patch(view.name, change)

    async def _request_restart(self, view: ProcessView) -> None:
        token = _token()
        await self._patch(view.name, lambda obj: {"spec": {"restartRequest": token}})

    async def probe(self, pid: str) -> Probe:
        view = self._require(pid)
        try:
            prepared = self._prepare(view.config)
        except ConfigError as error:
            return Probe(streams=[], log=[str(error)])
        return await probe_process(self.options.ffmpeg, probe_argv(prepared.resolved))
