"""The Parquet archiver: a verified receipt on success, an ArchiveError (which blocks the drop) on any failure.

Runs on fsspec's memory filesystem and on local directories; nothing is left under temporary names.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from fsspec.implementations.memory import MemoryFileSystem

from secustream.archival import ArchiveError, ArchiveReceipt, PartitionArchiver
from secustream.archive import make_archiver
from secustream.archive.layout import Layout
from secustream.archive.ocsf import Origin
from secustream.archive.parquet import ParquetArchiver
from secustream.archive.replay import ordered_records, replay
from secustream.config import Settings, SettingsError, load_settings
from tests.archive_data import DAY, day_rows

ORIGIN = Origin("local", "local", "000000000000")


def memory_archiver(fs: MemoryFileSystem | None = None, rows_per_file: int = 1000) -> ParquetArchiver:
    fs = fs or MemoryFileSystem()
    layout = Layout(f"/lake-{uuid.uuid4().hex[:8]}", "secustream", "local", "000000000000")
    return ParquetArchiver(fs, layout, ORIGIN, rows_per_file=rows_per_file)


def files_under(archiver: ParquetArchiver) -> list[str]:
    return sorted(archiver.fs.find(archiver.layout.root))


@pytest.fixture(scope="module")
def rows() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    return day_rows(300)


def test_a_day_is_written_verified_and_described_by_its_receipt(rows: tuple[list, list]) -> None:  # type: ignore[type-arg]
    events, verdicts = rows
    archiver = memory_archiver(rows_per_file=100)
    contract: PartitionArchiver = archiver  # what retention calls (archival.py)
    receipt = contract.archive("events", DAY, iter(events))
    assert isinstance(receipt, ArchiveReceipt)
    assert (receipt.table, receipt.day, receipt.rows) == ("events", DAY, len(events))
    assert receipt.location.startswith("memory://") and receipt.location.endswith("/eventDay=20261102/events.json")
    assert len(receipt.sha256) == 64
    manifest = archiver.manifest("events", DAY)
    assert manifest.rows == len(events) and manifest.sha256 == receipt.sha256
    assert sum(n for _p, _c, n in manifest.files) == len(events)
    archiver.verify(manifest)
    assert not [f for f in files_under(archiver) if "/_tmp-" in f]
    # the same rows in another order give the same digest (rows are read back class by class)
    again = memory_archiver().archive("events", DAY, reversed(events))
    assert again.sha256 == receipt.sha256
    assert archiver.archive("verdicts", DAY, iter(verdicts)).rows == len(verdicts)


def test_an_empty_day_has_a_receipt_for_zero_rows() -> None:
    archiver = memory_archiver()
    receipt = archiver.archive("verdicts", date(2026, 1, 1), iter(()))
    assert receipt.rows == 0
    assert archiver.manifest("verdicts", date(2026, 1, 1)).files == ()


class FailingMove(MemoryFileSystem):
    """Writes work; committing (the rename into place) fails, as on a full or read-only store."""

    def mv(self, path1: str, path2: str, **kwargs: Any) -> None:
        raise PermissionError(f"read-only: {path2}")


def test_a_failed_commit_raises_and_leaves_no_manifest_nor_temporary_files(rows: tuple[list, list]) -> None:  # type: ignore[type-arg]
    archiver = memory_archiver(FailingMove())
    with pytest.raises(ArchiveError, match="PermissionError: read-only"):
        archiver.archive("events", DAY, iter(rows[0]))
    assert files_under(archiver) == []
    with pytest.raises(ArchiveError, match="no complete archive"):
        archiver.manifest("events", DAY)


def test_an_unwritable_local_root_raises(tmp_path: Path, rows: tuple[list, list]) -> None:  # type: ignore[type-arg]
    blocker = tmp_path / "lake"
    blocker.write_text("a file where the archive directory should be")  # refused even to root
    archiver = make_archiver(str(blocker / "inside"), Settings())
    with pytest.raises(ArchiveError, match=r"archive of events 2026-11-02 to file://.*failed"):
        archiver.archive("events", DAY, iter(rows[0]))


def test_rows_that_fail_midway_raise_and_clean_up(rows: tuple[list, list]) -> None:  # type: ignore[type-arg]
    def cursor() -> Iterator[dict[str, Any]]:
        yield from rows[0][:150]
        raise ConnectionError("server closed the connection unexpectedly")

    archiver = memory_archiver(rows_per_file=50)
    with pytest.raises(ArchiveError, match="ConnectionError"):
        archiver.archive("events", DAY, cursor())
    assert files_under(archiver) == []


class Lossy(ParquetArchiver):
    """Reads back one row short: verification must notice."""

    def file_batches(self, path: str, columns: list[str] | None = None,
                     batch_rows: int = 10_000) -> Iterator[pa.RecordBatch]:
        batches = list(super().file_batches(path, columns, batch_rows))
        yield from batches[:-1]
        yield batches[-1].slice(0, batches[-1].num_rows - 1)


def test_a_read_back_that_differs_raises(rows: tuple[list, list]) -> None:  # type: ignore[type-arg]
    archiver = Lossy(MemoryFileSystem(), memory_archiver().layout, ORIGIN)
    with pytest.raises(ArchiveError, match="read back"):
        archiver.archive("verdicts", DAY, iter(rows[1]))
    with pytest.raises(ArchiveError, match="no complete archive"):
        archiver.manifest("verdicts", DAY)


def test_archiving_a_day_again_replaces_it_whole(rows: tuple[list, list]) -> None:  # type: ignore[type-arg]
    archiver = memory_archiver(rows_per_file=40)
    archiver.archive("events", DAY, iter(rows[0]))
    many = len(files_under(archiver))
    receipt = archiver.archive("events", DAY, iter(rows[0][:30]))
    assert receipt.rows == 30 and len(files_under(archiver)) < many  # the larger archive's parts are gone
    report = replay(ordered_records(archiver, archiver.manifest("events", DAY)), None)
    assert report.sent == 30


def test_replay_order_is_event_time_across_class_files(rows: tuple[list, list]) -> None:  # type: ignore[type-arg]
    stale = {**rows[0][0], "id": uuid.uuid4(), "payload": {"event_type": "gone"}}  # no longer a valid event
    archiver = memory_archiver()
    in_time_order = sorted([*rows[0], stale], key=lambda r: r["timestamp"])  # as retention reads a partition
    archiver.archive("events", DAY, iter(in_time_order))
    sent: list[Any] = []
    report = replay(ordered_records(archiver, archiver.manifest("events", DAY)), sent.append)
    assert report.sent == len(sent) == len(rows[0]) and report.unreadable == 1
    assert "1 archived rows are not valid events" in report.summary(dry_run=False)
    assert sorted(str(e.event_id) for e in sent) == sorted(str(r["id"]) for r in rows[0])
    stamps = [int(e.timestamp.timestamp() * 1000) for e in sent]  # OCSF time: milliseconds
    assert stamps == sorted(stamps)
    archiver.archive("verdicts", DAY, iter(rows[1]))
    with pytest.raises(ArchiveError, match="only archived events"):
        next(ordered_records(archiver, archiver.manifest("verdicts", DAY)))


def test_make_archiver_refuses_what_it_cannot_use() -> None:
    with pytest.raises(ArchiveError, match="ARCHIVE_URL is not set"):
        make_archiver("", Settings())
    with pytest.raises(ArchiveError, match="nosuch"):
        make_archiver("nosuch://bucket/x", Settings())
    with pytest.raises(ArchiveError, match="no OCSF mapping for table 'feedback'"):
        memory_archiver().archive("feedback", DAY, iter(()))
    with pytest.raises(SettingsError, match="ARCHIVE_STORAGE_OPTIONS"):
        load_settings(ARCHIVE_STORAGE_OPTIONS="[1, 2]")
    assert Settings(ARCHIVE_STORAGE_OPTIONS='{"auto_mkdir": true}').archive_storage_options == {"auto_mkdir": True}


def test_a_copied_archive_still_replays(tmp_path: Path, rows: tuple[list, list]) -> None:  # type: ignore[type-arg]
    """The manifest names files relative to the archive root: a lake copied elsewhere (another bucket, a
    restore) verifies and replays from its new place."""
    import shutil

    make_archiver(str(tmp_path / "a"), Settings()).archive("events", DAY, iter(rows[0]))
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    shutil.rmtree(tmp_path / "a")
    moved = make_archiver(str(tmp_path / "b"), Settings())
    manifest = moved.manifest("events", DAY)
    moved.verify(manifest)
    assert replay(ordered_records(moved, manifest), None).sent == len(rows[0])
