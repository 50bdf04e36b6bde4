"""Manifest YAML loads back to the same objects, whatever the strings hold."""

from __future__ import annotations

import yaml
from hypothesis import given
from hypothesis import strategies as st

from ffmpeg_operator.kube.yamltext import dump_documents


@given(st.lists(st.text(), max_size=4))
def test_any_strings_survive_a_round_trip(values: list[str]) -> None:
    documents = [{"kind": "ConfigMap", "data": {str(i): v for i, v in enumerate(values)}}]
    assert list(yaml.safe_load_all(dump_documents(documents))) == documents


def test_keys_keep_the_order_they_were_built_in() -> None:
    text = dump_documents([{"kind": "Pod", "apiVersion": "v1"}])
    assert text.index("kind") < text.index("apiVersion")


def test_unicode_stays_readable() -> None:
    assert "Köln" in dump_documents([{"name": "Köln"}])
