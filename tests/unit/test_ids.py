"""Generated process and input/output IDs (spec §2.1)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ffmpeg_operator.core import ids
from ffmpeg_operator.core.ids import ALPHABET, fill_io_ids, new_id
from ffmpeg_operator.core.models import ProcessConfig, ProcessConfigIO


def _config(inputs: list[str], outputs: list[str]) -> ProcessConfig:
    return ProcessConfig(
        id="p",
        input=[ProcessConfigIO(id=i, address=f"in{n}") for n, i in enumerate(inputs)],
        output=[ProcessConfigIO(id=o, address=f"out{n}") for n, o in enumerate(outputs)],
    )


def _scripted_ids(monkeypatch: pytest.MonkeyPatch, *values: str) -> None:
    sequence: Iterator[str] = iter(values)
    monkeypatch.setattr(ids, "new_id", sequence.__next__)


def test_new_id_is_22_characters_of_the_shortuuid_alphabet() -> None:
    for _ in range(200):
        generated = new_id()
        assert len(generated) == 22
        assert set(generated) <= set(ALPHABET)


def test_shortuuid_alphabet_leaves_out_look_alike_characters() -> None:
    assert len(ALPHABET) == 57
    assert not set("01IOl") & set(ALPHABET)


def test_new_id_is_random() -> None:
    assert len({new_id() for _ in range(1000)}) == 1000


def test_new_id_pads_small_numbers_with_the_first_letter(monkeypatch: pytest.MonkeyPatch) -> None:
    class _Small:
        int = 57  # "32" in base 57

    monkeypatch.setattr(ids.uuid, "uuid4", _Small)
    assert new_id() == "2" * 20 + "32"


def test_fill_io_ids_fills_only_empty_ids() -> None:
    filled = fill_io_ids(_config(["video", ""], ["", "null"]))
    assert filled.input[0].id == "video"
    assert len(filled.input[1].id) == 22
    assert len(filled.output[0].id) == 22
    assert filled.output[1].id == "null"


def test_fill_io_ids_keeps_whitespace_only_ids() -> None:
    filled = fill_io_ids(_config(["  "], ["\t"]))
    assert filled.input[0].id == "  "
    assert filled.output[0].id == "\t"


def test_generated_ids_are_distinct() -> None:
    filled = fill_io_ids(_config(["", "", ""], ["", ""]))
    assert len({io.id for io in filled.input}) == 3
    assert len({io.id for io in filled.output}) == 2


def test_generated_id_avoids_ids_already_in_the_array(monkeypatch: pytest.MonkeyPatch) -> None:
    _scripted_ids(monkeypatch, "video", "fresh")
    filled = fill_io_ids(_config(["video", ""], ["x"]))
    assert [io.id for io in filled.input] == ["video", "fresh"]


def test_inputs_and_outputs_are_separate_id_namespaces(monkeypatch: pytest.MonkeyPatch) -> None:
    _scripted_ids(monkeypatch, "shared")
    filled = fill_io_ids(_config(["shared"], [""]))
    assert filled.output[0].id == "shared"


def test_fill_io_ids_returns_a_copy() -> None:
    original = _config([""], [""])
    filled = fill_io_ids(original)
    assert original.input[0].id == ""
    assert original.output[0].id == ""
    assert filled.input[0].address == "in0"
    filled.input[0].options.append("-re")
    assert original.input[0].options == []
