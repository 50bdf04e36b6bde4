"""Generated IDs: process IDs and input/output IDs (spec §2.1).

Core generates IDs with shortuuid: a random UUID written in base 57 with an alphabet that leaves
out look-alike characters (``0``, ``1``, ``I``, ``O``, ``l``), always 22 characters long.
"""

from __future__ import annotations

import uuid

from ffmpeg_operator.core.models import ProcessConfig, ProcessConfigIO

#: shortuuid's default alphabet (57 characters).
ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"

#: 57**22 > 2**128, so 22 digits hold every UUID; shorter numbers are padded.
ID_LENGTH = 22


def new_id() -> str:
    """A new random shortuuid: a uuid4 in base 57, most significant digit first, 22 chars."""
    number = uuid.uuid4().int
    base = len(ALPHABET)
    digits: list[str] = []
    while number:
        number, digit = divmod(number, base)
        digits.append(ALPHABET[digit])
    digits.extend(ALPHABET[0] * (ID_LENGTH - len(digits)))
    return "".join(reversed(digits))


def _with_ids(ios: list[ProcessConfigIO]) -> list[ProcessConfigIO]:
    # Only "" counts as missing: Core tests len(id) == 0, so "  " stays and fails validation.
    taken = {io.id for io in ios if io.id}
    filled: list[ProcessConfigIO] = []
    for io in ios:
        if io.id:
            filled.append(io.clone())
            continue
        generated = new_id()
        while generated in taken:
            generated = new_id()
        taken.add(generated)
        filled.append(io.clone(id=generated))
    return filled


def fill_io_ids(config: ProcessConfig) -> ProcessConfig:
    """A copy of ``config`` where every input/output with an empty ID has a new unique one.

    Inputs and outputs are separate namespaces: a generated ID is only unique within its array.
    A config without an empty ID is returned as it is (configs are values: nobody changes one
    in place), which spares create and update a copy.
    """
    if all(io.id for io in config.input) and all(io.id for io in config.output):
        return config
    return config.model_copy(
        update={"input": _with_ids(config.input), "output": _with_ids(config.output)}
    )
