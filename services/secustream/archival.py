"""The contract between retention (which drops day partitions) and the archive (which keeps them first).

Domain code, so that storage's retention and the archive package meet here and neither imports the other:
retention hands every row of an expiring day to a ``PartitionArchiver`` and drops the partition only after
``archive`` returned a receipt for exactly that many rows. Any exception from ``archive`` blocks the drop.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol


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
