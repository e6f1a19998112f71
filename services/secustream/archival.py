"""The contract between retention (which drops day partitions) and the archive (which keeps them first).

Domain code, so that storage's retention and the archive package meet here and neither imports the other:
retention hands every row of an expiring day to a ``PartitionArchiver`` and drops the partition only after
``archive`` returned a receipt for exactly that many rows. Any exception from ``archive`` blocks the drop.
A JSON column may arrive parsed or as its text (the fetch leaves an event's payload as text, so the archive
parses it once, in a worker); ``load_json`` parses it exactly as ``json.loads`` would, only faster.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol

import orjson

_LONG_NUMBER = re.compile(rb"\d{19}")  # an integer orjson would round to a float (beyond 64 bits), or a long float


def load_json(data: bytes | bytearray | memoryview | str) -> Any:
    """``json.loads``'s result, by orjson when that is certainly the same.

    orjson turns integers beyond 64 bits into floats (JSONB keeps any size) and refuses NaN; a document with a
    run of 19 digits, or one orjson refuses, goes to the standard library instead.
    """
    try:
        raw = data.encode() if isinstance(data, str) else bytes(data)
    except UnicodeEncodeError:  # a lone surrogate: orjson refuses it, json.loads takes it
        return json.loads(data)
    if _LONG_NUMBER.search(raw) is None:
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            pass
    return json.loads(raw)


class ArchiveError(RuntimeError):
    """Writing an archive failed; the partition it was for must not be dropped."""


@dataclass(frozen=True, slots=True)
class ArchiveReceipt:
    """Where a day of one table went, how many rows it holds and their digest (checked before the drop)."""

    table: str
    day: date
    rows: int
    location: str
    sha256: str


class PartitionArchiver(Protocol):
    """Writes one day of one table (``events`` rows carry their verdict's columns prefixed ``verdict_``)."""

    def archive(self, table: str, day: date, rows: Iterable[Mapping[str, Any]]) -> ArchiveReceipt: ...
