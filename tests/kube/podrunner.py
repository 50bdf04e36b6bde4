"""A kubelet for tests: runs the emulator's Pods as local processes and reports their status.

:class:`PodRunner` watches Pods in a :class:`emulator.RunningEmulator` over HTTP (list, then
watch) from its own thread and event loop. For every new Pod it:

1. reports ``Pending`` (containers waiting, ``PodInitializing``), ``podIP``/``hostIP``;
2. runs the init containers in order: native sidecars (``restartPolicy: Always``) are started
   and kept running (restarted when they exit), the others run to completion (a failure makes
   the Pod ``Failed`` under ``restartPolicy: Never``, else the container is retried);
3. starts the main containers and reports ``Running``; a main container that exits is
   restarted as the Pod's ``restartPolicy`` says (after ``restart_delay_s``);
4. once every main container is done, sends SIGTERM to the sidecars in reverse order (SIGKILL
   after the grace period), records their termination, and reports ``Succeeded`` (every main
   container exited 0) or ``Failed``.

Statuses look like kubelet's: ``containerStatuses``/``initContainerStatuses`` with
``state.running.startedAt`` or ``state.terminated`` {``exitCode`` (128+N after signal N),
``reason`` (Completed/Error/StartError), ``message``, ``startedAt``, ``finishedAt``},
``lastState``, ``restartCount``, ``ready``, ``started``; conditions PodScheduled, Initialized,
ContainersReady, Ready. The message is the container's termination message file (max 4096
bytes), or with ``terminationMessagePolicy: FallbackToLogsOnError`` the log tail of a failed
container.

A Pod that is deleted (or gets a ``deletionTimestamp``) has its containers stopped: SIGTERM,
SIGKILL after ``terminationGracePeriodSeconds`` (capped at ``max_grace_s``), main containers
first, then the sidecars. With ``Emulator(graceful_pod_deletion=True)`` the runner then reports
the final status and deletes the Pod with ``gracePeriodSeconds=0``, as kubelet does.

Mapping a container onto the host:

- Images are ignored. ``command[0]`` is looked up in ``commands``: ``ffmpeg`` is the bundled
  ffmpeg (imageio-ffmpeg) through a symlink named ``ffmpeg`` (the agent finds ffmpeg by name),
  ``ffmpeg-operator`` is ``python -m ffmpeg_operator``, ``python``/
  ``python3`` this interpreter; anything else runs as is. A container without ``command`` runs
  the entrypoint ``entrypoints`` gives its image name (``ffmpeg-operator`` by default).
  ``$(VAR)`` references in command, args and env are expanded as Kubernetes does.
- Volumes become host directories: ``emptyDir`` (and anything unknown) a directory per Pod,
  ``persistentVolumeClaim`` a directory per claim shared by all Pods (``pvc_paths`` names it,
  e.g. ``{"diskfs": tmp_path / "disk"}``), ``hostPath`` itself, ``configMap``/``secret``
  files from the emulator's objects. Every ``mountPath`` (and the container's
  ``terminationMessagePath``) appearing in command, args, env values or ``workingDir`` is
  replaced with its host path (only where a path starts: ``/tmp/x`` and ``file:/tmp/x`` are
  rewritten, ``http://h/tmp/x`` is not). The working directory defaults to a directory per
  container.
- Environment: this process's environment, then the Pod's ``env``/``envFrom`` (``value``,
  ``fieldRef`` for ``metadata.name/namespace/uid/labels/annotations``, ``status.podIP``,
  ``status.hostIP``, ``spec.nodeName``, ``configMapKeyRef``/``secretKeyRef``), plus
  ``HOSTNAME``, ``PODRUNNER_POD_UID`` (to tell the processes of one Pod apart on the shared
  host) and ``PODRUNNER_TERMINATION_MESSAGE_PATH``.
- Network: every Pod shares the host's network (``podIP`` 127.0.0.1), so two Pods listening on
  the same port collide. ``isolate_loopback=True`` gives each Pod its own loopback address
  (127.0.1.N, reported as ``podIP``) and rewrites ``127.0.0.1``, ``0.0.0.0`` and
  ``localhost`` in command, args and env to it; addresses a program uses without them appearing
  there are not rewritten.
- Logs: each container's stdout+stderr goes to a file (the previous run's to ``.previous``);
  the runner installs the emulator's log provider, so ``GET .../pods/<name>/log?container=``
  (``tailLines``, ``previous``) serves them; :meth:`PodRunner.log` reads them directly.

For tests: ``runner.wait_phase(ns, name, "Succeeded", "Failed")`` returns the Pod status once
it reports one of the phases; ``runner.pids(ns, name)`` the host PIDs of its running
containers; ``runner.log(ns, name, container)`` a container's log; ``runner.host_path(ns, name,
volume)`` where a volume lives. The ``pod_runner`` fixture gives a runner with the defaults;
build one with ``PodRunner(emulator, tmp_path / "pods", pvc_paths=...)`` for other options.

A native sidecar's ``startupProbe`` (``httpGet``) is honoured: the containers after it start
once it answers (polled every 50 ms). Not emulated: other probes (a running container is
ready), resource limits, security contexts,
image pulls, CrashLoopBackOff delays, ephemeral containers, exec/attach/port-forward.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import re
import signal
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import imageio_ffmpeg
from apimachinery import now_rfc3339
from emulator import RunningEmulator

Obj = dict[str, Any]

_TERMINATION_MESSAGE_LIMIT = 4096
_FALLBACK_LOG_LINES = 80
_VAR_REFERENCE = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")


def default_commands() -> dict[str, list[str]]:
    """``command[0]`` -> the host argv prefix that stands for it."""
    return {
        "ffmpeg": [imageio_ffmpeg.get_ffmpeg_exe()],
        "ffmpeg-operator": [sys.executable, "-m", "ffmpeg_operator"],
        "python": [sys.executable],
        "python3": [sys.executable],
    }


def expand_references(text: str, env: Mapping[str, str]) -> str:
    """Kubernetes' ``$(VAR)`` expansion: defined variables expand, ``$$`` is a literal ``$``."""

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        return env.get(match.group(1), match.group(0))

    return _VAR_REFERENCE.sub(replace, text)


class PathMap:
    """Container paths (mount points) -> host paths, applied where a path starts in a string."""

    def __init__(self, mapping: Mapping[str, str]) -> None:
        self.mapping = {path.rstrip("/"): host for path, host in mapping.items() if path != "/"}
        ordered = sorted(self.mapping, key=len, reverse=True)
        self._pattern = (
            re.compile(r"(?<![\w.\-/])(" + "|".join(map(re.escape, ordered)) + r")(?=/|$|[^\w.\-])")
            if ordered
            else None
        )

    def __call__(self, text: str) -> str:
        if self._pattern is None:
            return text
        return self._pattern.sub(lambda match: self.mapping[match.group(1)], text)


_LOOPBACK = re.compile(r"(?<![\w.])(127\.0\.0\.1|0\.0\.0\.0|localhost)(?![\w.])")


@dataclass
class Container:
    """One container of a Pod and its runs on the host."""

    spec: Obj
    kind: str  # "init", "sidecar" or "main"
    directory: Path
    process: asyncio.subprocess.Process | None = None
    restart_count: int = 0
    state: Obj = field(default_factory=lambda: {"waiting": {"reason": "PodInitializing"}})
    last_state: Obj = field(default_factory=dict)
    stopping: bool = False

    @property
    def name(self) -> str:
        return str(self.spec["name"])

    @property
    def log_path(self) -> Path:
        return self.directory / "log"

    @property
    def previous_log_path(self) -> Path:
        return self.directory / "log.previous"

    @property
    def termination_path(self) -> Path:
        return self.directory / "termination-log"

    @property
    def container_id(self) -> str:
        return f"podrunner://{self.directory.parent.parent.name}/{self.name}/{self.restart_count}"

    @property
    def running(self) -> bool:
        return "running" in self.state

    @property
    def exit_code(self) -> int | None:
        terminated = self.state.get("terminated")
        return None if terminated is None else int(terminated["exitCode"])

    def status(self) -> Obj:
        status: Obj = {
            "name": self.name,
            "image": self.spec.get("image", ""),
            "imageID": "",
            "ready": self.running,
            "started": self.running,
            "restartCount": self.restart_count,
            "state": self.state,
            "lastState": self.last_state,
        }
        if "running" in self.state or "terminated" in self.state:
            status["containerID"] = self.container_id
        return status


class PodWorker:
    """Runs one Pod (one uid) through its lifecycle."""

    def __init__(self, runner: PodRunner, pod: Obj, pod_ip: str) -> None:
        self.runner = runner
        self.pod = pod
        meta = pod["metadata"]
        self.namespace: str = meta.get("namespace", "default")
        self.name: str = meta["name"]
        self.uid: str = meta["uid"]
        self.pod_ip = pod_ip
        self.directory = runner.root / f"{self.namespace}_{self.name}_{self.uid[:8]}"
        spec = pod.get("spec", {})
        self.restart_policy: str = spec.get("restartPolicy", "Always")
        self.containers = [
            Container(
                c,
                "sidecar" if c.get("restartPolicy") == "Always" else "init",
                self.directory / "containers" / c["name"],
            )
            for c in spec.get("initContainers", [])
        ] + [
            Container(c, "main", self.directory / "containers" / c["name"])
            for c in spec.get("containers", [])
        ]
        self.phase = "Pending"
        self.start_time = now_rfc3339()
        self.initialized = False
        self.deleting = False
        self.gone = False
        self.task: asyncio.Task[None] | None = None
        self._report_lock = asyncio.Lock()
        self.volumes = self._prepare_volumes(spec.get("volumes", []))

    def container(self, name: str) -> Container | None:
        return next((c for c in self.containers if c.name == name), None)

    @property
    def grace_s(self) -> float:
        spec = self.pod.get("spec", {})
        return min(float(spec.get("terminationGracePeriodSeconds", 30)), self.runner.max_grace_s)

    @property
    def finished(self) -> bool:
        return self.phase in ("Succeeded", "Failed")

    # --- lifecycle ---

    async def run(self) -> None:
        await self.report()
        try:
            sidecars: list[asyncio.Task[int]] = []
            for container in self.containers:
                if container.kind == "sidecar":
                    sidecars.append(asyncio.create_task(self._supervise(container)))
                    await self._started(container)
                    await self._startup_probe(container)
                elif container.kind == "init":
                    code = await self._supervise(container)
                    if code != 0 or self.deleting:
                        self.phase = "Failed" if code != 0 else self.phase
                        await self._stop_containers(
                            [c for c in self.containers if c.kind == "sidecar"]
                        )
                        await asyncio.gather(*sidecars, return_exceptions=True)
                        await self.report()
                        return
            self.initialized = True
            mains = [c for c in self.containers if c.kind == "main"]
            tasks = [asyncio.create_task(self._supervise(c)) for c in mains]
            for container in mains:
                await self._started(container)
            self.phase = "Running"
            await self.report()
            codes = await asyncio.gather(*tasks)
            # Like kubelet: the sidecars are stopped once every main container is done.
            await self._stop_containers([c for c in self.containers if c.kind == "sidecar"])
            await asyncio.gather(*sidecars, return_exceptions=True)
            self.phase = "Succeeded" if all(code == 0 for code in codes) else "Failed"
            await self.report()
        finally:
            await self.kill_all()

    async def terminate(self) -> None:
        """Stop the Pod's processes (deletion): main containers first, then the sidecars."""
        if self.deleting:
            return
        self.deleting = True
        await self._stop_containers([c for c in self.containers if c.kind != "sidecar"])
        await self._stop_containers([c for c in self.containers if c.kind == "sidecar"])
        if self.task is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.task
        await self.report()
        if not self.gone and self.runner.emulator.handler.graceful_pod_deletion:
            # As kubelet does: the Pod object goes once its containers are gone.
            with contextlib.suppress(aiohttp.ClientError):
                async with self.runner.session.delete(
                    self._url(), params={"gracePeriodSeconds": "0"}
                ):
                    pass

    async def _started(self, container: Container) -> None:
        """Wait until ``container`` has been started (or failed to start)."""
        while "waiting" in container.state and not self.deleting:
            await asyncio.sleep(0.005)
        await self.report()

    async def _startup_probe(self, container: Container) -> None:
        """Like kubelet, start what follows a sidecar once its startup probe passed (httpGet;
        polled quickly rather than every ``periodSeconds``). A container without one, or a
        probe that never passes within ``failureThreshold * periodSeconds``, does not wait.
        """
        probe = container.spec.get("startupProbe") or {}
        http = probe.get("httpGet")
        if not http:
            return
        port = http.get("port")
        if isinstance(port, str) and not port.isdigit():
            named = {p.get("name"): p.get("containerPort") for p in container.spec.get("ports", [])}
            port = named.get(port)
        url = f"http://{http.get('host') or self.pod_ip}:{port}{http.get('path', '/')}"
        patience = probe.get("failureThreshold", 3) * probe.get("periodSeconds", 10)
        deadline = time.monotonic() + patience
        while container.running and not self.deleting and time.monotonic() < deadline:
            try:
                async with self.runner.probes.get(
                    url, timeout=aiohttp.ClientTimeout(total=1)
                ) as response:
                    if 200 <= response.status < 400:
                        return
            except (aiohttp.ClientError, TimeoutError):
                pass
            await asyncio.sleep(0.05)

    async def _supervise(self, container: Container) -> int:
        """Run ``container`` (again, as its restart policy says); return the last exit code."""
        while True:
            code = await self._run_once(container)
            await self.report()
            restart = (
                container.kind == "sidecar"
                or (container.kind == "main" and self.restart_policy == "Always")
                or (self.restart_policy != "Never" and code != 0)  # init containers too
            )
            if not restart or container.stopping or self.deleting:
                return code
            await asyncio.sleep(self.runner.restart_delay_s)
            if container.stopping or self.deleting:
                return code
            container.restart_count += 1
            container.last_state = {"terminated": container.state["terminated"]}
            container.state = {"waiting": {"reason": "ContainerCreating"}}

    async def _run_once(self, container: Container) -> int:
        container.directory.mkdir(parents=True, exist_ok=True)
        if container.log_path.exists():
            container.log_path.replace(container.previous_log_path)
        container.termination_path.write_bytes(b"")
        started = now_rfc3339()
        try:
            if container.stopping or self.deleting:
                raise RuntimeError("the Pod is being deleted")
            argv, env, cwd = self._command_line(container)
            with container.log_path.open("wb") as log:
                container.process = await asyncio.create_subprocess_exec(
                    *argv,
                    stdin=asyncio.subprocess.DEVNULL,
                    stdout=log,
                    stderr=asyncio.subprocess.STDOUT,
                    env=env,
                    cwd=cwd,
                    start_new_session=True,
                )
        except Exception as error:  # whatever keeps it from starting is the container's failure
            container.state = {
                "terminated": {
                    "exitCode": 128,
                    "reason": "StartError",
                    "message": str(error),
                    "startedAt": started,
                    "finishedAt": now_rfc3339(),
                }
            }
            return 128
        container.state = {"running": {"startedAt": started}}
        if container.stopping or self.deleting:  # deleted while it was being started
            _signal_group(container.process, signal.SIGTERM)
            asyncio.get_running_loop().call_later(
                self.grace_s, _signal_group, container.process, signal.SIGKILL
            )
        if container.kind == "main" or container.restart_count:
            await self.report()
        returncode = await container.process.wait()
        code = 128 - returncode if returncode < 0 else returncode
        terminated: Obj = {
            "exitCode": code,
            "reason": "Completed" if code == 0 else "Error",
            "startedAt": started,
            "finishedAt": now_rfc3339(),
            "containerID": container.container_id,
        }
        if returncode < 0:
            terminated["signal"] = -returncode
        message = self._termination_message(container, code)
        if message:
            terminated["message"] = message
        container.state = {"terminated": terminated}
        container.process = None
        return code

    async def _stop_containers(self, containers: Sequence[Container]) -> None:
        """SIGTERM in reverse order, each waited for; SIGKILL when the grace period is over."""
        deadline = time.monotonic() + self.grace_s
        for container in reversed(containers):
            container.stopping = True
            process = container.process
            if process is None or process.returncode is not None:
                continue
            _signal_group(process, signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), max(0.0, deadline - time.monotonic()))
            except TimeoutError:
                _signal_group(process, signal.SIGKILL)
                await process.wait()
            for _ in range(400):  # let _run_once record the termination
                if container.process is not process:
                    break
                await asyncio.sleep(0.005)

    async def kill_all(self) -> None:
        for container in self.containers:
            container.stopping = True
            process = container.process
            if process is not None and process.returncode is None:
                _signal_group(process, signal.SIGKILL)
                await process.wait()

    # --- status ---

    async def report(self) -> None:
        """PATCH the Pod's status to what the containers are doing now."""
        if self.gone:
            return
        async with self._report_lock:
            # The uid is a precondition: a new Pod of the same name is not this one.
            body = {"metadata": {"uid": self.uid}, "status": self._status()}
            try:
                async with self.runner.session.patch(
                    self._url("/status"),
                    data=json.dumps(body),
                    headers={"Content-Type": "application/merge-patch+json"},
                ) as response:
                    if response.status in (404, 409):
                        self.gone = True
            except (aiohttp.ClientError, TimeoutError):
                pass  # the emulator is going away; the next report tells the truth

    def _status(self) -> Obj:
        mains = [c for c in self.containers if c.kind == "main"]
        ready = bool(mains) and all(c.running for c in mains) and not self.finished
        reason = {"reason": "PodCompleted"} if self.finished else {}
        condition_time = self.start_time

        def condition(kind: str, value: bool, extra: Obj | None = None) -> Obj:
            return {
                "type": kind,
                "status": "True" if value else "False",
                "lastTransitionTime": condition_time,
                **(extra or {}),
            }

        return {
            "phase": self.phase,
            "hostIP": "127.0.0.1",
            "hostIPs": [{"ip": "127.0.0.1"}],
            "podIP": self.pod_ip,
            "podIPs": [{"ip": self.pod_ip}],
            "startTime": self.start_time,
            "qosClass": "BestEffort",
            "conditions": [
                condition("PodReadyToStartContainers", True),
                condition("Initialized", self.initialized),
                condition("Ready", ready, reason if not ready else None),
                condition("ContainersReady", ready, reason if not ready else None),
                condition("PodScheduled", True),
            ],
            "initContainerStatuses": [c.status() for c in self.containers if c.kind != "main"],
            "containerStatuses": [c.status() for c in mains],
        }

    def _termination_message(self, container: Container, code: int) -> str:
        try:
            message = container.termination_path.read_bytes()[:_TERMINATION_MESSAGE_LIMIT]
        except OSError:
            message = b""
        if (
            not message
            and code != 0
            and (container.spec.get("terminationMessagePolicy") == "FallbackToLogsOnError")
        ):
            with contextlib.suppress(OSError):
                lines = container.log_path.read_bytes().splitlines()[-_FALLBACK_LOG_LINES:]
                message = b"\n".join(lines)[-2048:]
        return message.decode("utf-8", "replace")

    def _url(self, suffix: str = "") -> str:
        return f"/api/v1/namespaces/{self.namespace}/pods/{self.name}{suffix}"

    # --- host mapping ---

    def _prepare_volumes(self, volumes: Sequence[Obj]) -> dict[str, Path]:
        paths: dict[str, Path] = {}
        for volume in volumes:
            name = volume["name"]
            if "persistentVolumeClaim" in volume:
                claim = volume["persistentVolumeClaim"]["claimName"]
                path = Path(self.runner.pvc_paths.get(claim, self.runner.root / "pvc" / claim))
            elif "hostPath" in volume:
                path = Path(volume["hostPath"]["path"])
            else:
                path = self.directory / "volumes" / name
            path.mkdir(parents=True, exist_ok=True)
            for source, kind in (("configMap", "configmaps"), ("secret", "secrets")):
                if source in volume:
                    self._project(volume[source], kind, path)
            paths[name] = path
        return paths

    def _project(self, source: Obj, kind: str, path: Path) -> None:
        name = source.get("name") or source.get("secretName")
        obj = self.runner.emulator.get(f"v1/{kind}", self.namespace, str(name)) or {}
        for key, value in _data_of(obj).items():
            (path / key).write_text(value)

    def _command_line(self, container: Container) -> tuple[list[str], dict[str, str], str]:
        spec = container.spec
        mounts = {
            mount["mountPath"]: str(
                self.volumes.get(mount["name"], container.directory) / mount.get("subPath", "")
            )
            for mount in spec.get("volumeMounts", [])
        }
        mounts[spec.get("terminationMessagePath", "/dev/termination-log")] = str(
            container.termination_path
        )
        rewrite_paths = PathMap(mounts)

        def rewrite(text: str) -> str:
            text = rewrite_paths(text)
            return _LOOPBACK.sub(self.pod_ip, text) if self.runner.isolate_loopback else text

        env = self._environment(container, rewrite)
        command = [expand_references(part, env) for part in spec.get("command", [])]
        args = [expand_references(part, env) for part in spec.get("args", [])]
        if not command:
            image = spec.get("image", "").rsplit("/", 1)[-1].split(":")[0].split("@")[0]
            entrypoint = self.runner.entrypoints.get(image)
            if entrypoint is None:
                raise ValueError(f"no command and no known entrypoint for image {image!r}")
            command = list(entrypoint)
        prefix = self.runner.commands.get(command[0]) or self.runner.commands.get(
            os.path.basename(command[0])
        )
        argv = (list(prefix) if prefix else [command[0]]) + [
            rewrite(part) for part in command[1:] + args
        ]
        cwd = rewrite(spec["workingDir"]) if spec.get("workingDir") else str(container.directory)
        return argv, env, cwd

    def _environment(self, container: Container, rewrite: Any) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            HOSTNAME=self.name,
            PODRUNNER_POD_UID=self.uid,
            PODRUNNER_TERMINATION_MESSAGE_PATH=str(container.termination_path),
        )
        for source in container.spec.get("envFrom", []):
            ref = source.get("configMapRef") or source.get("secretRef") or {}
            kind = "configmaps" if "configMapRef" in source else "secrets"
            obj = self.runner.emulator.get(f"v1/{kind}", self.namespace, ref.get("name", ""))
            for key, value in _data_of(obj or {}).items():
                env[source.get("prefix", "") + key] = value
        for var in container.spec.get("env", []):
            if "value" in var:
                env[var["name"]] = rewrite(expand_references(str(var["value"]), env))
            elif "valueFrom" in var:
                value = self._value_from(var["valueFrom"])
                if value is not None:
                    env[var["name"]] = value
        return env

    def _value_from(self, source: Obj) -> str | None:
        meta = self.pod["metadata"]
        if "fieldRef" in source:
            path = source["fieldRef"]["fieldPath"]
            labelled = re.match(r"metadata\.(labels|annotations)\['(.+)'\]$", path)
            if labelled:
                return str((meta.get(labelled.group(1)) or {}).get(labelled.group(2), ""))
            return {
                "metadata.name": self.name,
                "metadata.namespace": self.namespace,
                "metadata.uid": self.uid,
                "status.podIP": self.pod_ip,
                "status.hostIP": "127.0.0.1",
                "spec.nodeName": "podrunner",
                "spec.serviceAccountName": self.pod.get("spec", {}).get(
                    "serviceAccountName", "default"
                ),
            }.get(path, "")
        for ref_name, kind in (("configMapKeyRef", "configmaps"), ("secretKeyRef", "secrets")):
            if ref_name in source:
                ref = source[ref_name]
                obj = self.runner.emulator.get(f"v1/{kind}", self.namespace, ref["name"]) or {}
                return _data_of(obj).get(ref["key"])
        return None


def _data_of(obj: Obj) -> dict[str, str]:
    """A ConfigMap's data, or a Secret's decoded data."""
    data = {str(k): str(v) for k, v in (obj.get("data") or {}).items()}
    if obj.get("kind") == "Secret":
        data = {k: base64.b64decode(v).decode() for k, v in data.items()}
        data.update(obj.get("stringData") or {})
    return data


def _signal_group(process: asyncio.subprocess.Process, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, sig)


class PodRunner:
    """The kubelet of the emulator's Pods (module docstring); a context manager."""

    def __init__(
        self,
        emulator: RunningEmulator,
        root: Path,
        *,
        commands: Mapping[str, Sequence[str]] | None = None,
        entrypoints: Mapping[str, Sequence[str]] | None = None,
        pvc_paths: Mapping[str, Path] | None = None,
        max_grace_s: float = 5.0,
        restart_delay_s: float = 0.2,
        isolate_loopback: bool = False,
    ) -> None:
        self.emulator = emulator
        self.root = root
        self.commands = {**default_commands(), **(commands or {})}
        self.entrypoints = {"ffmpeg-operator": ["ffmpeg-operator"], **(entrypoints or {})}
        self.pvc_paths = dict(pvc_paths or {})
        self.max_grace_s = max_grace_s
        self.restart_delay_s = restart_delay_s
        self.isolate_loopback = isolate_loopback
        self.workers: dict[str, PodWorker] = {}  # by uid
        self.session: aiohttp.ClientSession
        self.probes: aiohttp.ClientSession  # startup probes of the Pods' containers
        self._latest: dict[tuple[str, str], PodWorker] = {}  # by (namespace, name)
        self._ips = (f"127.0.{n // 254 + 1}.{n % 254 + 1}" for n in range(254 * 254))
        self._loop: asyncio.AbstractEventLoop | None = None
        self._main_task: asyncio.Task[None] | None = None
        self._thread = threading.Thread(target=self._thread_main, name="podrunner", daemon=True)
        self._ready = threading.Event()
        self._tasks: set[asyncio.Task[None]] = set()

    def __enter__(self) -> PodRunner:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> PodRunner:
        self.root.mkdir(parents=True, exist_ok=True)
        if self.commands["ffmpeg"] == default_commands()["ffmpeg"]:
            # Under its own name, as in the image: the agent looks for a process named ffmpeg.
            link = self.root / "bin" / "ffmpeg"
            link.parent.mkdir(exist_ok=True)
            if not link.is_symlink():
                link.symlink_to(self.commands["ffmpeg"][0])
            self.commands["ffmpeg"] = [str(link)]
        self.emulator.handler.log_provider = self.log_path
        self._thread.start()
        self._ready.wait(10)
        return self

    def stop(self) -> None:
        """Stop every Pod's processes (short grace) and the runner."""
        if self._loop is not None and self._main_task is not None:
            self._loop.call_soon_threadsafe(self._main_task.cancel)
        self._thread.join(30)
        if self.emulator.handler.log_provider == self.log_path:
            self.emulator.handler.log_provider = None

    # --- for tests ---

    def worker(self, namespace: str, name: str) -> PodWorker | None:
        """The worker of the latest Pod of that name (also after it finished)."""
        return self._latest.get((namespace, name))

    def log_path(
        self, namespace: str, name: str, container: str, previous: bool = False
    ) -> Path | None:
        worker = self._latest.get((namespace, name))
        found = worker.container(container) if worker else None
        if found is None:
            return None
        return found.previous_log_path if previous else found.log_path

    def log(self, namespace: str, name: str, container: str) -> str:
        path = self.log_path(namespace, name, container)
        return path.read_text(errors="replace") if path and path.exists() else ""

    def pids(self, namespace: str, name: str) -> dict[str, int]:
        """Host PIDs of the Pod's running containers, by container name."""
        worker = self._latest.get((namespace, name))
        return {
            c.name: c.process.pid
            for c in (worker.containers if worker else [])
            if c.process is not None and c.process.returncode is None
        }

    def host_path(self, namespace: str, name: str, volume: str) -> Path | None:
        """Where a volume of the Pod lives on the host."""
        worker = self._latest.get((namespace, name))
        return worker.volumes.get(volume) if worker else None

    def wait_phase(self, namespace: str, name: str, *phases: str, timeout: float = 10.0) -> Obj:
        """Block until the Pod's status reports one of ``phases``; return that status."""

        def status() -> Obj:
            return (self.emulator.get("v1/pods", namespace, name) or {}).get("status") or {}

        return self.emulator.wait_for(
            lambda: status().get("phase") in phases and status(),
            timeout,
            f"pod {namespace}/{name} never reached {phases}",
        )

    # --- the loop ---

    def _thread_main(self) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        self._loop = loop
        try:
            self._main_task = loop.create_task(self._main())
            loop.call_soon(self._ready.set)
            with contextlib.suppress(asyncio.CancelledError):
                loop.run_until_complete(self._main_task)
        finally:
            pending = asyncio.all_tasks(loop)
            for task in pending:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def _main(self) -> None:
        async with (
            aiohttp.ClientSession(base_url=self.emulator.url) as session,
            aiohttp.ClientSession() as probes,
        ):
            self.session, self.probes = session, probes
            try:
                await self._watch_pods()
            finally:
                self.max_grace_s = min(self.max_grace_s, 1.0)
                live = [w for w in self.workers.values() if not w.deleting]
                await asyncio.gather(
                    *(w.terminate() for w in live), *self._tasks, return_exceptions=True
                )
                for worker in self.workers.values():
                    await worker.kill_all()

    async def _watch_pods(self) -> None:
        while True:
            try:
                async with self.session.get("/api/v1/pods") as response:
                    listing = await response.json()
                for pod in listing.get("items", []):
                    self._observe("ADDED", pod)
                uids = {pod["metadata"]["uid"] for pod in listing.get("items", [])}
                for uid, worker in list(self.workers.items()):
                    if uid not in uids and not worker.gone:
                        self._observe("DELETED", worker.pod)
                params = {
                    "watch": "true",
                    "timeoutSeconds": "60",
                    "resourceVersion": listing["metadata"]["resourceVersion"],
                }
                async with self.session.get(
                    "/api/v1/pods", params=params, timeout=aiohttp.ClientTimeout(total=None)
                ) as stream:
                    async for line in stream.content:
                        if line.strip():
                            event = json.loads(line)
                            if event["type"] == "ERROR":
                                break
                            self._observe(event["type"], event["object"])
            except (aiohttp.ClientError, ValueError, KeyError):
                await asyncio.sleep(0.1)

    def _observe(self, kind: str, pod: Obj) -> None:
        meta = pod.get("metadata", {})
        uid = meta.get("uid")
        worker = self.workers.get(uid)
        if kind == "DELETED" or meta.get("deletionTimestamp"):
            if worker is not None:
                worker.gone = worker.gone or kind == "DELETED"
                if not worker.deleting:  # a finished Pod too: it may wait for its final delete
                    task = asyncio.get_running_loop().create_task(worker.terminate())
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)
            return
        if worker is not None or pod.get("status", {}).get("phase") in ("Succeeded", "Failed"):
            return
        ip = next(self._ips) if self.isolate_loopback else "127.0.0.1"
        worker = PodWorker(self, pod, ip)
        self.workers[uid] = worker
        self._latest[(worker.namespace, worker.name)] = worker
        worker.task = asyncio.get_running_loop().create_task(worker.run())


@contextlib.contextmanager
def pod_runner(emulator: RunningEmulator, root: Path, **options: Any) -> Iterator[PodRunner]:
    with PodRunner(emulator, root, **options) as runner:
        yield runner
