"""Bounded waits of the Kubernetes backend for the operator and the run Pods."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable

from ffmpeg_operator.api.backends.kubeindex import ALIVE, RUN_POLL_S
from ffmpeg_operator.api.backends.kubeobjects import KubeObjects
from ffmpeg_operator.api.backends.kubeviews import ProcessView, RunView


class KubeWaits(KubeObjects):
    """Waits until objects are gone, runs are over or started (as Core answers after ffmpeg)."""

    async def _wait_gone(self, view: ProcessView) -> None:
        assert self._processes is not None
        cache = self._processes

        def gone() -> bool:
            current = cache.get(view.name)
            return current is None or current["metadata"].get("uid") != view.uid

        await cache.wait_for(gone, self.options.delete_timeout)

    async def _wait_until(self, condition: Callable[[], bool], timeout: float) -> bool:
        """Poll the run Pods (listed, not watched) until ``condition()``; False on timeout."""
        assert self._pods is not None
        deadline = time.monotonic() + timeout
        while True:
            await self._pods.refresh()
            if condition():
                return True
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(RUN_POLL_S)

    async def _wait_runs_over(self, view: ProcessView, runs: Iterable[RunView]) -> None:
        """Wait (bounded) until ``runs`` ended and the status says so, as Core's stop and
        restart return once ffmpeg exited. Their logs are read on the way: the operator
        deletes their Pods, and the report must keep them."""
        assert self._runs is not None
        runs = list(runs)
        names = {run.name for run in runs}
        newest = max((run.number for run in runs), default=0)
        deadline = time.monotonic() + self.options.stop_timeout

        def pods_over() -> bool:
            current = self._runs_by_process.get(view.name, {})
            return all(name not in current or current[name].done for name in names)

        while True:
            await self._pods_now()
            current = self._runs_by_process.get(view.name, {})
            present = [current[name] for name in names if name in current]
            await asyncio.gather(
                *(self._runs.report_entry(run, run.started_at or run.created_at, fresh=True)
                  for run in present)
            )  # fmt: skip
            if pods_over() or time.monotonic() > deadline:
                break
            # Quick: the Pod may go soon after ffmpeg's exit, and its last lines with it.
            await asyncio.sleep(RUN_POLL_S / 4)

        def status_over() -> bool:
            latest = self._views.get(view.name)
            status = latest.status if latest is not None else None
            return status is None or status.state not in ALIVE or status.run > newest

        assert self._processes is not None
        await self._processes.wait_for(status_over, max(0.0, deadline - time.monotonic()))

    async def _wait_started(self, view: ProcessView) -> None:
        """Wait (bounded) until the operator started a new run and ffmpeg runs (or the run
        already ended, or the config cannot run), as Core's start returns after the spawn."""
        before = view.status.run if view.status is not None else 0

        def started() -> bool:
            latest = self._views.get(view.name)
            status = latest.status if latest is not None else None
            if status is None:
                return latest is None
            if status.run > before and status.state != "starting":
                return True
            return any(
                condition.type in ("ConfigValid", "ReferencesResolved")
                and condition.status == "False"
                for condition in status.conditions
            )

        assert self._processes is not None
        await self._processes.wait_for(started, self.options.start_timeout)
