"""The metadata read rule both backends share (core/metadata.py)."""

from __future__ import annotations

import pytest

from ffmpeg_operator.core.errors import UnknownMetadataKeyError
from ffmpeg_operator.core.metadata import metadata_value


@pytest.mark.parametrize("data", [None, {}])
def test_all_metadata_of_none_stored_is_null(data: dict[str, object] | None) -> None:
    assert metadata_value(data, None) is None


def test_all_metadata_is_the_stored_mapping() -> None:
    assert metadata_value({"a": 1, "b": {"c": None}}, None) == {"a": 1, "b": {"c": None}}


def test_one_key_is_its_value_also_when_falsy() -> None:
    assert metadata_value({"a": 0}, "a") == 0


@pytest.mark.parametrize("data", [None, {}, {"b": 1}])
def test_a_key_not_stored_is_unknown(data: dict[str, object] | None) -> None:
    with pytest.raises(UnknownMetadataKeyError):
        metadata_value(data, "a")
