"""The v3 API's Kubernetes backend against the emulator: what it writes and reads, in-process.

The acceptance suites prove the datarhei behaviour over HTTP on both backends; these cases
prove the Kubernetes side of it: object names and fields, annotations, preconditions and
retries, deletion with a finalizer, state from the agent, report from Pod logs, and that the
backend needs nothing beyond its Role.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp.web
import pytest
from emulator import FFMPEG_PROCESSES, PODS, RunningEmulator

from ffmpeg_operator.api.backends.kubernetes import (
    CONCURRENT_UPDATE,
    KubernetesBackend,
    KubernetesOptions,
)
from ffmpeg_operator.core.errors import ConfigError, ProcessExistsError, UnknownProcessError
from ffmpeg_operator.core.models import ProcessConfig
from ffmpeg_operator.kube.migrate import METADATA_ANNOTATION
from ffmpeg_operator.kube.names import ID_HASH_LABEL, cr_name, id_hash
from ffmpeg_operator.kube.pod import OperatorSettings, build_run_pod
from ffmpeg_operator.supervision.binary import find_ffmpeg

NS = "default"


def config(pid: str = "cam1", **changes: Any) -> ProcessConfig:
    base: dict[str, Any] = {
        "id": pid,
        "input": [{"id": "in", "address": "testsrc", "options": ["-f", "lavfi"]}],
        "output": [{"id": "out", "address": "-", "options": ["-f", "null"]}],
        "autostart": False,
    }
    return ProcessConfig.model_validate({**base, **changes})


@pytest.fixture
async def backend(emulator: RunningEmulator, kubeconfig: Path) -> AsyncIterator[KubernetesBackend]:
    backend = KubernetesBackend(
        KubernetesOptions(
            kubeconfig=str(kubeconfig),
            namespace=NS,
            ffmpeg=find_ffmpeg(),
            delete_timeout=1.0,
            stop_timeout=1.0,
            start_timeout=0.5,
        )
    )
    await backend.open()
    yield backend
    await backend.close()


def cr(emulator: RunningEmulator, pid: str) -> dict[str, Any]:
    obj = emulator.get(FFMPEG_PROCESSES, NS, cr_name(pid))
    assert obj is not None, f"no FFmpegProcess for {pid!r}"
    return obj


async def eventually(check: Callable[[], Any], timeout: float = 5.0) -> Any:
    """Poll ``check()`` without blocking the loop the backend's watches run on."""
    deadline = time.monotonic() + timeout
    while not (result := check()):
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)
    return result


# --- identity and the written object --------------------------------------------------------


async def test_post_creates_an_object_named_after_a_plain_id(
    backend: KubernetesBackend, emulator: RunningEmulator
) -> None:
    await backend.create(config("cam1", autostart=True))

    obj = cr(emulator, "cam1")
    assert obj["metadata"]["name"] == "cam1"
    assert obj["metadata"]["labels"][ID_HASH_LABEL] == id_hash("cam1")
    assert (obj["spec"]["id"], obj["spec"]["desiredState"]) == ("cam1", "running")


async def test_any_id_gets_a_dns_name_and_reads_back_exactly(
    backend: KubernetesBackend, emulator: RunningEmulator
) -> None:
    pid = "Restreamer:ingest/Caméra 1"
    await backend.create(config(pid))

    assert cr(emulator, pid)["metadata"]["name"] == cr_name(pid)
    assert "--" in cr_name(pid)
    assert (await backend.get_config(pid)).id == pid
    assert await backend.list_references() == [(pid, "")]


async def test_object_written_by_hand_is_a_process(
    backend: KubernetesBackend, emulator: RunningEmulator
) -> None:
    # What kubectl apply of a GitOps manifest does: no API call involved.
    emulator.create(FFMPEG_PROCESSES, {
        "apiVersion": "ffmpeg-operator.io/v1alpha1", "kind": "FFmpegProcess",
        "metadata": {"name": "gitops"},
        "spec": {"id": "gitops", "input": [{"address": "testsrc"}],
                 "output": [{"address": "-"}], "desiredState": "stopped"},
    }, NS)  # fmt: skip

    found = await eventually(lambda: backend._lookup("gitops"))
    assert found.order == "stop"
    state = await backend.get_state("gitops")
    assert (state.order, state.exec) == ("stop", "finished")


async def test_more_than_64_inputs_are_refused_before_writing(
    backend: KubernetesBackend, emulator: RunningEmulator
) -> None:
    inputs = [{"id": f"in{n}", "address": "testsrc", "options": ["-f", "lavfi"]} for n in range(65)]

    with pytest.raises(ConfigError, match="at most 64 inputs"):
        await backend.create(config("many", input=inputs))
    assert emulator.get(FFMPEG_PROCESSES, NS, "many") is None


async def test_an_address_longer_than_the_crd_allows_is_refused_before_writing(
    backend: KubernetesBackend, emulator: RunningEmulator
) -> None:
    inputs = [{"id": "in", "address": "x" * 65537, "options": ["-f", "lavfi"]}]

    with pytest.raises(ConfigError, match="at most 65536 characters"):
        await backend.create(config("long", input=inputs))
    assert emulator.get(FFMPEG_PROCESSES, NS, "long") is None


async def test_post_of_an_existing_id_is_refused(backend: KubernetesBackend) -> None:
    await backend.create(config("cam1"))

    with pytest.raises(ProcessExistsError):
        await backend.create(config("cam1"))


# --- metadata and commands ----------------------------------------------------------------


async def test_metadata_is_an_annotation_and_leaves_the_spec_alone(
    backend: KubernetesBackend, emulator: RunningEmulator
) -> None:
    await backend.create(config("cam1"))
    generation = cr(emulator, "cam1")["metadata"]["generation"]

    await backend.set_metadata("cam1", "owner", {"team": 7})

    obj = cr(emulator, "cam1")
    assert obj["metadata"]["annotations"][METADATA_ANNOTATION] == '{"owner":{"team":7}}'
    assert obj["metadata"]["generation"] == generation
    assert await backend.get_metadata("cam1", None) == {"owner": {"team": 7}}


async def test_removing_the_last_metadata_key_removes_the_annotation(
    backend: KubernetesBackend, emulator: RunningEmulator
) -> None:
    await backend.create(config("cam1"))
    await backend.set_metadata("cam1", "owner", 1)

    await backend.set_metadata("cam1", "owner", None)

    assert METADATA_ANNOTATION not in (cr(emulator, "cam1")["metadata"].get("annotations") or {})
    assert await backend.get_metadata("cam1", None) is None


async def test_start_and_stop_set_the_desired_state(
    backend: KubernetesBackend, emulator: RunningEmulator
) -> None:
    await backend.create(config("cam1"))

    await backend.command("cam1", "start")
    assert cr(emulator, "cam1")["spec"]["desiredState"] == "running"
    await backend.command("cam1", "stop")
    assert cr(emulator, "cam1")["spec"]["desiredState"] == "stopped"


async def test_start_of_a_started_process_writes_nothing(
    backend: KubernetesBackend, emulator: RunningEmulator
) -> None:
    await backend.create(config("cam1", autostart=True))
    version = cr(emulator, "cam1")["metadata"]["resourceVersion"]

    await backend.command("cam1", "start")

    assert cr(emulator, "cam1")["metadata"]["resourceVersion"] == version


async def test_restart_without_a_live_run_writes_nothing(
    backend: KubernetesBackend, emulator: RunningEmulator
) -> None:
    await backend.create(config("cam1", autostart=True))

    await backend.command("cam1", "restart")

    assert "restartRequest" not in cr(emulator, "cam1")["spec"]


async def test_restart_of_a_live_run_sets_a_new_restart_request(
    backend: KubernetesBackend, emulator: RunningEmulator
) -> None:
    await backend.create(config("cam1", autostart=True))
    add_run_pod(emulator, "cam1", phase="Running")
    await backend._pods_now()

    await backend.command("cam1", "restart")  # waits up to stop_timeout for the run to end

    assert cr(emulator, "cam1")["spec"]["restartRequest"]


async def test_reload_of_an_invalid_process_fails_and_writes_nothing(
    backend: KubernetesBackend, emulator: RunningEmulator
) -> None:
    await backend.create(config("source"))
    referencing = config("copy", input=[{"id": "in", "address": "#source:output=out"}])
    await backend.create(referencing)
    emulator.delete(FFMPEG_PROCESSES, NS, "source")
    await eventually(lambda: backend._lookup("source") is None)
    version = cr(emulator, "copy")["metadata"]["resourceVersion"]

    with pytest.raises(ConfigError, match="unknown process 'source'"):
        await backend.command("copy", "reload")
    assert cr(emulator, "copy")["metadata"]["resourceVersion"] == version


# --- updates ------------------------------------------------------------------------------


async def test_a_list_shows_a_change_made_by_hand_after_an_earlier_list(
    backend: KubernetesBackend, emulator: RunningEmulator
) -> None:
    await backend.create(config("cam1"))
    await backend.create(config("cam2"))
    aspects = frozenset({"config", "metadata"})
    first = await backend.get_processes(["cam1", "cam2"], aspects)
    # Nothing changed: the same objects again (their JSON is made once).
    again = await backend.get_processes(["cam1", "cam2"], aspects)
    assert [a is b for a, b in zip(first, again, strict=True)] == [True, True]

    emulator.patch(FFMPEG_PROCESSES, NS, "cam1", {"spec": {"reference": "by-hand"}})
    await eventually(lambda: backend._lookup("cam1").config.reference == "by-hand")
    await backend.set_metadata("cam2", "owner", 1)

    cam1, cam2 = await backend.get_processes(["cam1", "cam2"], aspects)
    assert cam1.config is not None and cam1.config.reference == "by-hand"
    assert cam1.reference == "by-hand"
    assert cam2.metadata == {"owner": 1}
    config_only = await backend.get_processes(["cam1"], frozenset({"config"}))
    assert config_only[0].metadata is None


async def test_put_patches_the_config_and_keeps_kubernetes_fields(
    backend: KubernetesBackend, emulator: RunningEmulator
) -> None:
    await backend.create(config("cam1"))
    emulator.patch(FFMPEG_PROCESSES, NS, "cam1", {"spec": {"image": "ffmpeg:custom"}})
    await eventually(lambda: backend._lookup("cam1").spec.image == "ffmpeg:custom")

    await backend.get_config("cam1")
    await backend.update("cam1", config("cam1", reference="new"))

    spec = cr(emulator, "cam1")["spec"]
    assert (spec["reference"], spec["image"], spec["desiredState"]) == (
        "new",
        "ffmpeg:custom",
        "stopped",
    )


async def test_rename_creates_the_new_object_and_deletes_the_old(
    backend: KubernetesBackend, emulator: RunningEmulator
) -> None:
    await backend.create(config("cam1", autostart=True))
    await backend.set_metadata("cam1", "owner", 1)
    emulator.patch(FFMPEG_PROCESSES, NS, "cam1", {"spec": {"image": "ffmpeg:custom"}})
    await eventually(lambda: backend._lookup("cam1").spec.image == "ffmpeg:custom")

    await backend.get_config("cam1")
    await backend.update("cam1", config("cam2", autostart=True))

    assert emulator.get(FFMPEG_PROCESSES, NS, "cam1") is None
    renamed = cr(emulator, "cam2")
    assert renamed["spec"]["image"] == "ffmpeg:custom"
    assert renamed["spec"]["desiredState"] == "running"
    assert renamed["metadata"]["annotations"][METADATA_ANNOTATION] == '{"owner":1}'
    with pytest.raises(UnknownProcessError):
        await backend.get_config("cam1")


async def test_rename_that_cannot_create_deletes_nothing(
    backend: KubernetesBackend, emulator: RunningEmulator
) -> None:
    # The second creation (the rename's) is refused; kmock counts requests from the start.
    emulator.handler["post", FFMPEG_PROCESSES][1:2] << 403
    await backend.create(config("cam1"))

    await backend.get_config("cam1")
    with pytest.raises(Exception, match="403"):
        await backend.update("cam1", config("cam2"))

    assert cr(emulator, "cam1")["spec"]["id"] == "cam1"
    assert emulator.get(FFMPEG_PROCESSES, NS, "cam2") is None


async def test_put_over_a_concurrent_annotation_change_retries_and_keeps_it(
    backend: KubernetesBackend, emulator: RunningEmulator
) -> None:
    await backend.create(config("cam1"))
    base = await backend.get_config("cam1")
    await freeze_watch(backend)
    # Someone else writes meanwhile; the backend's copy is stale: its patch meets 409.
    emulator.patch(FFMPEG_PROCESSES, NS, "cam1", {"metadata": {"annotations": {"team": "a"}}})

    await backend.update("cam1", base.model_copy(update={"reference": "mine"}))

    obj = cr(emulator, "cam1")
    assert (obj["spec"]["reference"], obj["metadata"]["annotations"]["team"]) == ("mine", "a")


async def test_put_over_a_concurrent_spec_change_is_refused(
    backend: KubernetesBackend, emulator: RunningEmulator
) -> None:
    await backend.create(config("cam1"))
    base = await backend.get_config("cam1")
    await freeze_watch(backend)
    emulator.patch(FFMPEG_PROCESSES, NS, "cam1", {"spec": {"reference": "gitops"}})

    with pytest.raises(ConfigError, match=CONCURRENT_UPDATE):
        await backend.update("cam1", base.model_copy(update={"reference": "mine"}))
    assert cr(emulator, "cam1")["spec"]["reference"] == "gitops"


async def freeze_watch(backend: KubernetesBackend) -> None:
    """Stop the backend's watch of FFmpegProcess objects: its copies go stale."""
    task = backend._processes._task
    assert task is not None
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


# --- delete -------------------------------------------------------------------------------


async def test_delete_answers_when_the_finalizer_holds_the_object(
    backend: KubernetesBackend, emulator: RunningEmulator
) -> None:
    await backend.create(config("cam1"))
    emulator.patch(FFMPEG_PROCESSES, NS, "cam1", {"metadata": {"finalizers": ["x/purge"]}})
    await eventually(lambda: backend._processes.get("cam1")["metadata"].get("finalizers"))

    await backend.delete("cam1")  # waits delete_timeout (1 s) for the finalizer, then answers

    assert cr(emulator, "cam1")["metadata"]["deletionTimestamp"]
    with pytest.raises(UnknownProcessError):
        await backend.get_config("cam1")


async def test_post_after_delete_waits_for_the_terminating_object(
    backend: KubernetesBackend, emulator: RunningEmulator
) -> None:
    await backend.create(config("cam1"))
    emulator.patch(FFMPEG_PROCESSES, NS, "cam1", {"metadata": {"finalizers": ["x/purge"]}})
    await eventually(lambda: backend._processes.get("cam1")["metadata"].get("finalizers"))
    await backend.delete("cam1")
    # The operator's finalizer lets go a moment later.
    loop = asyncio.get_running_loop()
    loop.call_later(0.3, lambda: emulator.patch(
        FFMPEG_PROCESSES, NS, "cam1", {"metadata": {"finalizers": []}}
    ))  # fmt: skip

    await backend.create(config("cam1", reference="again"))

    assert cr(emulator, "cam1")["spec"]["reference"] == "again"


# --- state and report from the run Pods ---------------------------------------------------


def add_run_pod(
    emulator: RunningEmulator,
    pid: str,
    run: int = 1,
    *,
    phase: str = "Running",
    agent_port: int | None = None,
    exit_code: int | None = None,
    started: str = "2026-01-01T00:00:00Z",
) -> str:
    """A run Pod as the operator builds it, with the status kubelet would report."""
    owner = cr(emulator, pid)
    settings = OperatorSettings(agent_port=agent_port or OperatorSettings().agent_port)
    manifest = build_run_pod(owner, run, settings, lambda _: None).manifest
    created = emulator.create(PODS, manifest, NS)
    state: dict[str, Any] = {"running": {"startedAt": started}}
    if exit_code is not None:
        state = {"terminated": {"exitCode": exit_code, "startedAt": started,
                                "finishedAt": started}}  # fmt: skip
    emulator.patch_status(PODS, NS, created["metadata"]["name"], {
        "phase": phase, "podIP": "127.0.0.1",
        "containerStatuses": [{"name": "ffmpeg", "state": state}],
    })  # fmt: skip
    return str(created["metadata"]["name"])


@pytest.fixture
async def agent() -> AsyncIterator[tuple[int, dict[str, Any]]]:
    """A stand-in agent on 127.0.0.1: its ``/state`` answers the document in the dict."""
    document: dict[str, Any] = {}

    async def state(_: aiohttp.web.Request) -> aiohttp.web.Response:
        return aiohttp.web.json_response(document)

    app = aiohttp.web.Application()
    app.router.add_get("/state", state)
    runner = aiohttp.web.AppRunner(app)
    await runner.setup()
    site = aiohttp.web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield port, document
    await runner.cleanup()


async def test_state_takes_live_progress_from_the_agent(
    backend: KubernetesBackend, emulator: RunningEmulator, agent: tuple[int, dict[str, Any]]
) -> None:
    port, document = agent
    document.update(exec="running", memory_bytes=1234, cpu_usage=1.5,
                    progress={"frame": 42, "inputs": [{"index": 0, "type": "video"}]})  # fmt: skip
    await backend.create(config("cam1", autostart=True))
    add_run_pod(emulator, "cam1", agent_port=port)
    emulator.patch_status(FFMPEG_PROCESSES, NS, "cam1", {
        "state": "running", "order": "start", "run": 1, "command": ["-i", "x"],
        "runningSince": "2026-01-01T00:00:00Z",
    })  # fmt: skip
    await eventually(lambda: backend._lookup("cam1").status or False)

    state = await backend.get_state("cam1")

    assert (state.exec, state.progress.frame, state.memory_bytes) == ("running", 42, 1234)
    assert state.progress.inputs[0].id == "in"  # named after the config by index


async def test_state_falls_back_to_the_status_when_the_agent_is_unreachable(
    backend: KubernetesBackend, emulator: RunningEmulator
) -> None:
    await backend.create(config("cam1", autostart=True))
    add_run_pod(emulator, "cam1", agent_port=1)  # nothing listens there
    emulator.patch_status(
        FFMPEG_PROCESSES, NS, "cam1", {"state": "running", "order": "start", "run": 1}
    )
    await eventually(lambda: backend._lookup("cam1").status or False)

    state = await backend.get_state("cam1")

    assert (state.order, state.exec, state.progress.frame) == ("start", "running", 0)


async def test_report_reads_the_run_log_and_history_from_finished_pods(
    backend: KubernetesBackend, emulator: RunningEmulator, tmp_path: Path
) -> None:
    await backend.create(config("cam1", autostart=True))
    logs = {}
    for run in (1, 2):
        name = add_run_pod(emulator, "cam1", run, phase="Succeeded" if run == 1 else "Running",
                           exit_code=255 if run == 1 else None)  # fmt: skip
        logs[name] = tmp_path / f"{name}.log"
        logs[name].write_text(
            f"2026-01-01T00:00:0{run}.123456789Z ffmpeg version n9 run {run}\n"
            f"2026-01-01T00:00:0{run}.5Z Input #0, lavfi, from 'testsrc':\n"
            "2026-01-01T00:00:03Z frame=    1 fps=0.0 q=-0.0 size=N/A time=00:00:00.04 "
            "bitrate=N/A speed=1x\rframe=    2 fps=0.0 q=-0.0 size=N/A time=00:00:00.08\n"
            f"2026-01-01T00:00:04Z after progress {run}\n"
        )
    emulator.handler.log_provider = lambda ns, pod, container, previous: logs.get(pod)
    await backend._pods_now()  # run Pods are listed at most every second

    report = await backend.get_report("cam1")

    # This prelude never completes (no stream mapping), so it goes on, as Core's does.
    assert report.prelude[:2] == ["ffmpeg version n9 run 2", "Input #0, lavfi, from 'testsrc':"]
    assert report.log == [
        ("1767225602", "ffmpeg version n9 run 2"),
        ("1767225602", "Input #0, lavfi, from 'testsrc':"),
        ("1767225604", "after progress 2"),
    ]
    assert [entry.prelude[0] for entry in report.history] == ["ffmpeg version n9 run 1"]
    assert (await backend.get_state("cam1")).last_logline == "after progress 2"


# --- least privilege ----------------------------------------------------------------------


async def test_backend_needs_no_more_than_its_role(
    emulator: RunningEmulator, kubeconfig: Path, tmp_path: Path
) -> None:
    emulator.handler.request_log_limit = 100_000  # keep every request to look at them after
    backend = KubernetesBackend(
        KubernetesOptions(
            kubeconfig=str(kubeconfig),
            namespace=NS,
            ffmpeg=find_ffmpeg(),
            stop_timeout=0.5,
            start_timeout=0.5,
        )
    )
    await backend.open()
    try:
        await backend.create(config("cam1", autostart=True))
        add_run_pod(emulator, "cam1")
        logs = tmp_path / "log"
        logs.write_text("ffmpeg version n9\n")
        emulator.handler.log_provider = lambda *_: logs
        await backend._pods_now()
        await backend.get_processes(["cam1"], frozenset({"config", "state", "report", "metadata"}))
        await backend.set_metadata("cam1", "k", 1)
        await backend.get_config("cam1")
        await backend.update("cam1", config("cam1", reference="r"))
        for verb in ("restart", "stop", "start"):
            await backend.command("cam1", verb)
        await backend.get_config("cam1")
        await backend.update("cam1", config("cam2"))
        await backend.delete("cam2")
    finally:
        await backend.close()

    used = {_rbac(request) for request in emulator.call(lambda: list(emulator.handler))}
    role = {
        ("ffmpegprocesses", verb)
        for verb in ("create", "delete", "get", "list", "patch", "update", "watch")
    } | {("pods", "get"), ("pods", "list"), ("pods/log", "get")}
    allowed = {(kind, verb, NS) for kind, verb in role}
    assert used <= allowed, used - allowed
    assert ("pods", "watch", NS) not in used


def _rbac(request: Any) -> tuple[str, str, str]:
    """(resource, verb, namespace) of a request, as RBAC names them."""
    resource = request.resource.plural if request.resource is not None else ""
    if request.subresource:
        resource = f"{resource}/{request.subresource}"
    if request.method == "GET":
        watch = request.params.get("watch") in ("true", "1")
        verb = "watch" if watch else ("get" if request.name else "list")
    else:
        verb = {"POST": "create", "PATCH": "patch", "PUT": "update", "DELETE": "delete"}[
            request.method
        ]
    return resource, verb, request.namespace or ""
