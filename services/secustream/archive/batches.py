"""Rows → per-class Arrow record batches and their digest: the CPU-bound part of a write, pure so it can run in
worker processes (``ARCHIVE_WORKERS``) while the parent fetches and writes, and the part a read-back re-checks.

A batch keeps its rows' order within each class, so the parent, taking batches in the order it handed them
out, writes the same files row for row whether one process maps or many.
"""

from __future__ import annotations

import gc
import hashlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from secustream.archive.ocsf import ROW_KEY, TABLE_KEY, Origin, stored_bytes
from secustream.archive.ocsf_events import event_record
from secustream.archive.ocsf_findings import alert_record, incident_record, verdict_record
from secustream.archive.schema import SCHEMAS
from secustream.verdict import RiskLevel

DIGEST_MOD = 1 << 256  # rows.RowDigest's modulus: partial sums of batches add up to the day's digest
Mapper = Callable[[Mapping[str, Any]], tuple[str, dict[str, Any]]]


@dataclass(frozen=True, slots=True)
class MappedBatch:
    """One batch of rows as OCSF: a record batch per class (rows in input order), their count and digest sum."""

    classes: dict[str, pa.RecordBatch]
    rows: int
    digest: int


def mapper(table: str, origin: Origin, min_level: RiskLevel) -> Mapper:
    if table == "events":
        return lambda row: event_record(row, origin)
    if table == "verdicts":
        return lambda row: verdict_record(row, origin, min_level)
    return lambda row: (alert_record if table == "alerts" else incident_record)(row, origin)


def row_hash(stored: bytes) -> int:
    return int.from_bytes(hashlib.sha256(stored).digest(), "big")


@contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while a batch's records (tens of thousands of acyclic dicts) are alive.

    Every few hundred new dicts the collector would walk all of them again: that was a third of the mapping's
    time. The records hold no cycles, so reference counting frees them; the collector's state is restored.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def map_batch(table: str, origin: Origin, min_level: RiskLevel, rows: Iterable[Mapping[str, Any]]) -> MappedBatch:
    """Map ``rows`` of ``table`` to OCSF; ValueError when a record has attributes its class schema lacks."""
    with gc_paused():
        return _map_batch(table, origin, min_level, rows)


def _map_batch(table: str, origin: Origin, min_level: RiskLevel, rows: Iterable[Mapping[str, Any]]) -> MappedBatch:
    to_record = mapper(table, origin, min_level)
    per_class: dict[str, list[dict[str, Any]]] = {}
    total = count = 0
    for row in rows:
        key, record = to_record(row)
        total += row_hash(stored_bytes(record))
        count += 1
        records = per_class.get(key)
        if records is None:
            records = per_class[key] = []
            unknown = set(record) - set(SCHEMAS[key].names)
            if unknown:  # Arrow would drop them silently
                raise ValueError(f"archive: {key} record has attributes its schema lacks: {sorted(unknown)}")
        records.append(record)
    classes = {key: _record_batch(records, SCHEMAS[key]) for key, records in per_class.items()}
    return MappedBatch(classes, count, total % DIGEST_MOD)


def _record_batch(records: list[dict[str, Any]], schema: pa.Schema) -> pa.RecordBatch:
    """``RecordBatch.from_pylist`` in one conversion of the whole records as a struct: half the time, same data."""
    struct = pa.array(records, type=pa.struct(list(schema)))
    return pa.RecordBatch.from_struct_array(struct).replace_schema_metadata(schema.metadata)


def stored_digest(batch: pa.RecordBatch, table: str) -> tuple[int, int]:
    """(rows, digest sum) of what a read-back batch (``unmapped``, ``raw_data``) stores; ValueError on another table.

    Column-wise when every record's ``unmapped`` is exactly (table, row), as the writer makes it; record by
    record otherwise. Either way the bytes hashed are ``ocsf.stored_bytes``'s.
    """
    unmapped = batch.column("unmapped")
    raw = batch.column("raw_data").to_pylist()
    n = batch.num_rows
    offsets = unmapped.offsets.to_pylist() if unmapped.null_count == 0 else []
    start = offsets[0] if offsets else 0
    if offsets == list(range(start, start + 2 * n + 1, 2)):
        keys = unmapped.keys.slice(start, 2 * n).to_pylist()
        values = unmapped.items.slice(start, 2 * n).to_pylist()
        if keys[0::2] == [TABLE_KEY] * n and keys[1::2] == [ROW_KEY] * n:
            tables = values[0::2]
            if tables.count(table) != n:
                other = next(t for t in tables if t != table)
                raise ValueError(f"holds a {other} row, not {table}")
            total = sum(row_hash(f"{row}\n{doc or ''}".encode()) for row, doc in zip(values[1::2], raw, strict=True))
            return n, total % DIGEST_MOD
    total = 0
    for record in batch.to_pylist():
        back_table = dict(record["unmapped"]).get(TABLE_KEY)
        if back_table != table:
            raise ValueError(f"holds a {back_table} row, not {table}")
        total += row_hash(stored_bytes(record))
    return n, total % DIGEST_MOD
