"""An archived day of events back as ``SecurityEvent``s in event-time order, for backfill and rule runs over history.

Pure of messaging: the caller hands a ``send`` (the CLI's producer), so the same loop counts in a dry run.
Records whose ``raw_data`` is not a valid event (stored before a schema change) are counted, not sent.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from secustream.archival import ArchiveError
from secustream.archive.ocsf import TABLE_KEY
from secustream.archive.parquet import Manifest, ParquetArchiver
from secustream.events import EventDecodeError, SecurityEvent, decode_event


@dataclass
class ReplayReport:
    sent: int = 0
    unreadable: int = 0
    classes: Counter[str] = field(default_factory=Counter)

    def summary(self, dry_run: bool) -> str:
        verb = "would replay" if dry_run else "replayed"
        by_class = ", ".join(f"{k} {n}" for k, n in sorted(self.classes.items()))
        extra = f"; {self.unreadable} archived rows are not valid events and were left out" if self.unreadable else ""
        return f"{verb} {self.sent} events ({by_class or 'none'}){extra}"


def _timed(records: Iterator[dict[str, Any]]) -> Iterator[tuple[int, int, dict[str, Any]]]:
    for n, record in enumerate(records):
        yield record.get("time") or 0, n, record


def ordered_records(archiver: ParquetArchiver, manifest: Manifest) -> Iterator[dict[str, Any]]:
    """The day's records merged across class files by event time.

    Each file keeps the order its rows were archived in, so a day archived in time order (retention reads a
    partition ordered by event time) replays in time order, to the millisecond of OCSF's ``time``.
    """
    if manifest.table != "events":
        raise ArchiveError(f"only archived events can be replayed, not {manifest.table}")
    streams = [_timed(archiver.file_records(path)) for path, _key, _rows in manifest.files]
    for _time, _n, record in heapq.merge(*streams, key=lambda item: (item[0], item[1])):
        yield record


def replay(records: Iterator[dict[str, Any]], send: Callable[[SecurityEvent], None] | None,
           progress: Callable[[str], None] | None = None, every: int = 10_000) -> ReplayReport:
    """Send every archived event (``send=None``: only count them); a progress line every ``every`` events."""
    report = ReplayReport()
    for record in records:
        if dict(record["unmapped"]).get(TABLE_KEY) != "events":
            raise ArchiveError("archive: a replayed file holds rows that are not events")
        try:
            event = decode_event(record["raw_data"])
        except EventDecodeError:
            report.unreadable += 1
            continue
        if send is not None:
            send(event)
        report.sent += 1
        report.classes[record["class_name"]] += 1
        if progress is not None and report.sent % every == 0:
            progress(f"{report.sent} events {'replayed' if send else 'counted'}")
    return report
