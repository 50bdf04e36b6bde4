"""The API's watch cache: write answers and watch events in either order give the newest object."""

from __future__ import annotations

from typing import Any, cast

from ffmpeg_operator.api.backends.kubecache import ObjectCache
from ffmpeg_operator.api.backends.kubeclient import KubeClient


class _ListOnly:
    """A client whose only answer is one list."""

    def __init__(self, items: list[dict[str, Any]], version: str) -> None:
        self.listing = {"metadata": {"resourceVersion": version}, "items": items}

    async def request(self, method: str, path: str, **_: Any) -> dict[str, Any]:
        return self.listing


def obj(name: str, version: int, **spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": name, "resourceVersion": str(version)}, "spec": spec}


def cache(client: Any = None) -> ObjectCache:
    return ObjectCache(cast(KubeClient, client), "/apis/x/v1/namespaces/ns/things")


def test_an_event_older_than_the_write_answer_is_ignored() -> None:
    things = cache()
    things.observe(obj("a", 5, reference="mine"))

    things._apply("MODIFIED", obj("a", 4, reference="before"))

    assert things.get("a") == obj("a", 5, reference="mine")


def test_a_late_event_does_not_bring_back_a_deleted_object() -> None:
    things = cache()
    things.observe(obj("a", 5))
    things.forget("a", "6")

    things._apply("MODIFIED", obj("a", 5))

    assert things.get("a") is None


def test_an_object_created_again_after_its_deletion_is_taken() -> None:
    things = cache()
    things.observe(obj("a", 5))
    things.forget("a", "6")

    things._apply("ADDED", obj("a", 9, reference="again"))

    assert things.get("a") == obj("a", 9, reference="again")


def test_a_deletion_event_older_than_a_new_object_is_ignored() -> None:
    things = cache()
    things.observe(obj("a", 9))

    things._apply("DELETED", obj("a", 7))

    assert things.get("a") == obj("a", 9)


async def test_a_list_keeps_an_object_written_after_it_was_taken() -> None:
    things = cache(_ListOnly([obj("old", 3)], version="10"))
    things.observe(obj("fresh", 12))

    await things.refresh()

    assert things.get("fresh") == obj("fresh", 12)
    assert things.get("old") == obj("old", 3)


async def test_a_list_drops_what_it_no_longer_holds() -> None:
    things = cache(_ListOnly([], version="10"))
    things.observe(obj("gone", 8))
    changes: list[tuple[str, Any, Any]] = []
    things._on_change = lambda name, old, new: changes.append((name, old, new))

    await things.refresh()

    assert things.get("gone") is None
    assert changes == [("gone", obj("gone", 8), None)]
