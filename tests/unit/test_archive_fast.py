"""The fast paths of an archive write give what the plain ones gave: the same parsed JSON, the same files
whatever the number of worker processes, the same digest read back column-wise or record by record."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fsspec.implementations.local import LocalFileSystem

from secustream.archival import load_json
from secustream.archive.batches import map_batch, stored_digest
from secustream.archive.factory import cores_available, default_workers
from secustream.archive.layout import Layout
from secustream.archive.ocsf import Origin, stored_bytes
from secustream.archive.parquet import ParquetArchiver
from secustream.archive.rows import RowDigest
from secustream.verdict import RiskLevel
from tests.archive_data import DAY, day_rows

ORIGIN = Origin("local", "local", "000000000000")


@pytest.mark.parametrize("doc", [
    '{"pid": 1180591620717411303424, "n": -18446744073709551617}',  # beyond 64 bits: orjson would round
    '{"x": NaN, "y": Infinity}', '[1e400, -0.0, 1.5e-400]', '{"a": 1, "a": 2}', '"\\ud800 lone"',
    '{"s": "é\\u2028", "f": 0.30000000000000004, "big": 9223372036854775807}',
])
def test_load_json_is_json_loads(doc: str) -> None:
    expected = json.loads(doc)
    for form in (doc, doc.encode(), memoryview(doc.encode())):
        got = load_json(form)
        assert repr(got) == repr(expected) and type(got) is type(expected)


def test_load_json_matches_json_loads_on_random_numbers() -> None:
    rng = random.Random(5)
    for _ in range(5_000):
        digits = "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 22))).lstrip("0") or "0"
        point = rng.randint(1, len(digits))
        number = digits[:point] + (f".{digits[point:]}" if point < len(digits) else "")
        number += f"e{rng.randint(-320, 310)}" if rng.random() < 0.4 else ""
        doc = f'[{"-" if rng.random() < 0.3 else ""}{number}]'
        assert repr(load_json(doc)) == repr(json.loads(doc)), doc


def archive_to(root: Path, rows: list[dict[str, Any]], workers: int) -> str:
    archiver = ParquetArchiver(LocalFileSystem(), Layout(str(root), "secustream", "local", "000000000000"), ORIGIN,
                               rows_per_file=70, batch_rows=40, workers=workers)
    return archiver.archive("events", DAY, iter(rows)).sha256


def test_worker_processes_write_the_same_files(tmp_path: Path) -> None:
    events, _verdicts = day_rows(300)
    one = archive_to(tmp_path / "one", events, workers=1)
    two = archive_to(tmp_path / "two", events, workers=2)
    assert one == two
    files = sorted(p.relative_to(tmp_path / "one") for p in (tmp_path / "one").rglob("*.parquet"))
    assert files == sorted(p.relative_to(tmp_path / "two") for p in (tmp_path / "two").rglob("*.parquet"))
    assert any(str(f).endswith("-0002.parquet") for f in files)
    for f in files:
        assert (tmp_path / "one" / f).read_bytes() == (tmp_path / "two" / f).read_bytes(), f
        groups = pq.ParquetFile(tmp_path / "one" / f).metadata
        assert all(groups.row_group(i).num_rows <= 40 for i in range(groups.num_row_groups))


def test_a_batch_digest_is_the_sum_of_its_rows_and_reads_back_the_same() -> None:
    events, _verdicts = day_rows(60)
    mapped = map_batch("events", ORIGIN, RiskLevel.MEDIUM, events)
    reference = RowDigest()
    for key, batch in mapped.classes.items():
        for record in batch.to_pylist():
            reference.add(stored_bytes(record))
        assert batch.schema.metadata[b"ocsf_class"] == key.encode()
    folded = RowDigest()
    folded.add_sum(mapped.rows, mapped.digest)
    assert (folded.rows, folded.hexdigest()) == (reference.rows, reference.hexdigest()) == (len(events),
                                                                                             reference.hexdigest())
    back = RowDigest()
    for batch in mapped.classes.values():
        back.add_sum(*stored_digest(batch.select(["unmapped", "raw_data"]), "events"))
    assert back.hexdigest() == reference.hexdigest()


def test_the_read_back_digest_falls_back_to_records_for_an_unusual_map() -> None:
    unmapped = pa.array([[("secustream.row", "{}"), ("secustream.table", "events")]], pa.map_(pa.string(), pa.string()))
    batch = pa.RecordBatch.from_arrays([unmapped, pa.array([None], pa.string())], ["unmapped", "raw_data"])
    expected = RowDigest()
    expected.add(b"{}\n")
    got = RowDigest()
    got.add_sum(*stored_digest(batch, "events"))
    assert got.hexdigest() == expected.hexdigest()
    with pytest.raises(ValueError, match="holds a events row, not verdicts"):
        stored_digest(batch, "verdicts")


def test_cores_available_honours_the_cpu_quota(tmp_path: Path) -> None:
    quota = tmp_path / "cpu.max"
    quota.write_text("150000 100000\n")
    assert cores_available(quota) == 1
    quota.write_text("max 100000\n")
    assert cores_available(quota) >= 1
    assert cores_available(tmp_path / "absent") >= 1
    assert default_workers() == max(1, cores_available() - 1)  # the archiver keeps a core for itself


def test_an_empty_day_needs_no_pool() -> None:
    archiver = ParquetArchiver(LocalFileSystem(), Layout("/nonexistent", "s", "r", "1"), ORIGIN, workers=4)
    assert list(archiver.map_rows("events", iter([]))) == []
