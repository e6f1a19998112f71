"""The archiver retention calls before a drop: one table's day → OCSF Parquet through fsspec, verified, with a receipt.

Order of a write, so that a crash at any point leaves either the old complete archive, or no manifest (and
retention, which got no receipt, drops nothing):
1. stream the rows, mapped to OCSF, into per-class files under temporary names (``_tmp-…``);
2. remove the day's manifest, rename the files into place;
3. read every file back: row count and digest of the rows recovered from it must equal what was written;
4. write the manifest (temporary name, then rename), remove files an earlier archive of the day left.
Any failure is an ``ArchiveError`` (it blocks the drop); temporary files are removed on the way out.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
from fsspec import AbstractFileSystem

from secustream.archival import ArchiveError, ArchiveReceipt
from secustream.archive.layout import Layout, temp_name
from secustream.archive.ocsf import OCSF_VERSION, TABLE_KEY, Origin, stored_bytes
from secustream.archive.ocsf_events import event_record
from secustream.archive.ocsf_findings import alert_record, incident_record, verdict_record
from secustream.archive.rows import RowDigest
from secustream.archive.schema import SCHEMAS
from secustream.verdict import RiskLevel

log = logging.getLogger(__name__)

TABLES = ("events", "verdicts", "alerts", "incidents")
_STORED = ["unmapped", "raw_data"]  # what the digest is over
COMPRESSION = "zstd"


@dataclass
class _ClassFiles:
    """The open part file of one OCSF class, and the parts written so far (temporary path, final path, rows)."""

    directory: str
    schema: pa.Schema
    parts: list[tuple[str, str, int]] = field(default_factory=list)
    pending: list[dict[str, Any]] = field(default_factory=list)
    writer: pq.ParquetWriter | None = None
    handle: Any = None
    rows_in_part: int = 0


@dataclass(frozen=True, slots=True)
class Manifest:
    """What makes a day's archive complete: its files, their rows, the digest over all rows."""

    table: str
    day: date
    rows: int
    sha256: str
    files: tuple[tuple[str, str, int], ...]  # (path, class key, rows)
    location: str

    def to_json(self, root: str) -> bytes:
        """File paths relative to the archive root, so a copied or remounted archive still replays."""
        return orjson.dumps({
            "table": self.table, "day": self.day.isoformat(), "rows": self.rows, "sha256": self.sha256,
            "ocsf_version": OCSF_VERSION, "written_at": datetime.now(UTC).isoformat(),
            "files": [{"path": p.removeprefix(f"{root}/"), "class": c, "rows": n} for p, c, n in self.files],
        }, option=orjson.OPT_INDENT_2)

    @classmethod
    def from_json(cls, data: bytes, location: str, root: str) -> Manifest:
        doc = orjson.loads(data)
        return cls(doc["table"], date.fromisoformat(doc["day"]), int(doc["rows"]), doc["sha256"],
                   tuple((f"{root}/{f['path']}", f["class"], int(f["rows"])) for f in doc["files"]), location)


class ParquetArchiver:
    """``PartitionArchiver`` over any fsspec filesystem (local path, memory://, s3:// with s3fs, …)."""

    def __init__(self, fs: AbstractFileSystem, layout: Layout, origin: Origin,
                 finding_min_level: RiskLevel = RiskLevel.MEDIUM, rows_per_file: int = 1_000_000,
                 batch_rows: int = 10_000) -> None:
        self.fs = fs
        self.layout = layout
        self.origin = origin
        self.finding_min_level = finding_min_level
        self.rows_per_file = rows_per_file
        self.batch_rows = max(1, min(batch_rows, rows_per_file))

    def url(self, path: str) -> str:
        return self.fs.unstrip_protocol(path)

    # --- write

    def archive(self, table: str, day: date, rows: Iterable[Mapping[str, Any]]) -> ArchiveReceipt:
        if table not in TABLES:
            raise ArchiveError(f"archive: no OCSF mapping for table {table!r} (only {', '.join(TABLES)})")
        token = uuid.uuid4().hex[:12]
        files: dict[str, _ClassFiles] = {}
        try:
            digest = self._write(table, day, rows, token, files)
            committed = self._commit(table, day, files)
            self._verify(table, committed, digest.rows, digest.hexdigest())
            manifest = Manifest(table, day, digest.rows, digest.hexdigest(), tuple(committed),
                                self.layout.manifest(table, day))
            self._put(manifest.location, manifest.to_json(self.layout.root), token)
            self._clear_leftovers(table, day, {p for p, _c, _n in committed})
        except ArchiveError:
            raise
        except Exception as exc:  # any I/O, Arrow or mapping failure blocks the drop, with its cause
            raise ArchiveError(f"archive of {table} {day} to {self.url(self.layout.root)} failed: "
                               f"{type(exc).__name__}: {exc}") from exc
        finally:
            self._discard(files)
        log.info("archived %s %s: %d rows in %d files (%s)", table, day, manifest.rows, len(manifest.files),
                 self.url(manifest.location))
        return ArchiveReceipt(table, day, manifest.rows, self.url(manifest.location), manifest.sha256)

    def _mapper(self, table: str) -> Callable[[Mapping[str, Any]], tuple[str, dict[str, Any]]]:
        if table == "events":
            return lambda row: event_record(row, self.origin)
        if table == "verdicts":
            return lambda row: verdict_record(row, self.origin, self.finding_min_level)
        return lambda row: (alert_record if table == "alerts" else incident_record)(row, self.origin)

    def _write(self, table: str, day: date, rows: Iterable[Mapping[str, Any]], token: str,
               files: dict[str, _ClassFiles]) -> RowDigest:
        digest = RowDigest()
        to_record = self._mapper(table)
        for row in rows:
            key, record = to_record(row)
            digest.add(stored_bytes(record))
            sink = files.get(key)
            if sink is None:
                sink = files[key] = _ClassFiles(self.layout.class_dir(key, day), SCHEMAS[key])
                unknown = set(record) - set(sink.schema.names)
                if unknown:  # Arrow would drop them silently
                    raise ArchiveError(f"archive: {key} record has attributes its schema lacks: {sorted(unknown)}")
            sink.pending.append(record)
            if len(sink.pending) >= self.batch_rows:
                self._flush(sink, table, day, token)
        for sink in files.values():
            self._flush(sink, table, day, token)
            self._close_part(sink)
        return digest

    def _flush(self, sink: _ClassFiles, table: str, day: date, token: str) -> None:
        while sink.pending:
            if sink.writer is None:
                final = f"{sink.directory}/{self.layout.file_name(table, day, len(sink.parts) + 1)}"
                tmp = temp_name(final, token)
                self.fs.makedirs(sink.directory, exist_ok=True)
                sink.handle = self.fs.open(tmp, "wb")
                sink.writer = pq.ParquetWriter(sink.handle, sink.schema, compression=COMPRESSION)
                sink.parts.append((tmp, final, 0))
            room = self.rows_per_file - sink.rows_in_part
            chunk, sink.pending = sink.pending[:room], sink.pending[room:]
            sink.writer.write_table(pa.Table.from_pylist(chunk, schema=sink.schema))
            sink.rows_in_part += len(chunk)
            tmp, final, _n = sink.parts[-1]
            sink.parts[-1] = (tmp, final, sink.rows_in_part)
            if sink.rows_in_part >= self.rows_per_file:
                self._close_part(sink)

    @staticmethod
    def _close_part(sink: _ClassFiles) -> None:
        if sink.writer is not None:
            sink.writer.close()
            sink.handle.close()
        sink.writer, sink.handle, sink.rows_in_part = None, None, 0

    def _commit(self, table: str, day: date, files: dict[str, _ClassFiles]) -> list[tuple[str, str, int]]:
        manifest = self.layout.manifest(table, day)
        if self.fs.exists(manifest):
            self.fs.rm(manifest)  # from here until the new manifest, the day has no complete archive
        committed = []
        for key, sink in sorted(files.items()):
            for tmp, final, n in sink.parts:
                self.fs.mv(tmp, final)
                committed.append((final, key, n))
            sink.parts.clear()
        return committed

    def _verify(self, table: str, committed: Iterable[tuple[str, str, int]], rows: int, sha256: str) -> None:
        """Read every committed file back: its row count, and the digest of the rows recovered from it."""
        seen = RowDigest()
        for path, _key, count in committed:
            got = 0
            for record in self.file_records(path, columns=_STORED):
                got += 1
                back_table = dict(record["unmapped"]).get(TABLE_KEY)
                if back_table != table:
                    raise ArchiveError(f"archive: {path} holds a {back_table} row, not {table}")
                seen.add(stored_bytes(record))
            if got != count:
                raise ArchiveError(f"archive: {path} read back {got} rows, {count} were written")
        if (seen.rows, seen.hexdigest()) != (rows, sha256):
            raise ArchiveError(f"archive: read back {seen.rows} rows (digest {seen.hexdigest()[:12]}), "
                               f"expected {rows} (digest {sha256[:12]})")

    def _put(self, path: str, data: bytes, token: str) -> None:
        tmp = temp_name(path, token)
        self.fs.makedirs(path.rpartition("/")[0], exist_ok=True)
        with self.fs.open(tmp, "wb") as handle:
            handle.write(data)
        self.fs.mv(tmp, path)

    def _clear_leftovers(self, table: str, day: date, keep: set[str]) -> None:
        for path in self.fs.glob(self.layout.file_glob(table, day)):
            if self.fs._strip_protocol(path) not in keep:
                self.fs.rm(path)

    def _discard(self, files: dict[str, _ClassFiles]) -> None:
        """Close and remove what a failed write left under temporary names (best effort)."""
        for sink in files.values():
            with contextlib.suppress(Exception):  # the write already failed; its error is the one to report
                self._close_part(sink)
            for tmp, _final, _n in sink.parts:
                try:
                    if self.fs.exists(tmp):
                        self.fs.rm(tmp)
                except Exception:
                    log.warning("archive: could not remove temporary file %s", tmp)

    # --- read

    def file_records(self, path: str, columns: list[str] | None = None,
                     batch_rows: int = 10_000) -> Iterator[dict[str, Any]]:
        """The records of one archived file (only ``columns`` when given: verifying needs two)."""
        try:
            with self.fs.open(path, "rb") as handle:
                for batch in pq.ParquetFile(handle).iter_batches(batch_size=batch_rows, columns=columns):
                    yield from batch.to_pylist()
        except (OSError, pa.ArrowException) as exc:  # missing, truncated or not Parquet at all
            raise ArchiveError(f"archive: cannot read {self.url(path)}: {type(exc).__name__}: {exc}") from exc

    def manifest(self, table: str, day: date) -> Manifest:
        """The manifest of an archived day; ArchiveError when the day has no complete archive."""
        location = self.layout.manifest(table, day)
        try:
            with self.fs.open(location, "rb") as handle:
                return Manifest.from_json(handle.read(), location, self.layout.root)
        except FileNotFoundError:
            raise ArchiveError(f"no complete archive of {table} for {day} at {self.url(location)}") from None

    def records(self, manifest: Manifest) -> Iterator[dict[str, Any]]:
        """Every OCSF record of an archived day, file by file."""
        for path, _key, _rows in manifest.files:
            yield from self.file_records(path)

    def verify(self, manifest: Manifest) -> None:
        """Re-read a whole archived day; ArchiveError unless its rows and digest are the manifest's."""
        self._verify(manifest.table, manifest.files, manifest.rows, manifest.sha256)
