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
import multiprocessing
import time
import uuid
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import partial
from itertools import islice
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
from fsspec import AbstractFileSystem

from secustream.archival import ArchiveError, ArchiveReceipt
from secustream.archive.batches import MappedBatch, gc_paused, map_batch, stored_digest
from secustream.archive.layout import Layout, temp_name
from secustream.archive.ocsf import OCSF_VERSION, Origin
from secustream.archive.rows import RowDigest
from secustream.archive.schema import SCHEMAS
from secustream.verdict import RiskLevel

log = logging.getLogger(__name__)

TABLES = ("events", "verdicts", "alerts", "incidents")
_STORED = ["unmapped", "raw_data"]  # what the digest is over
COMPRESSION = "zstd"
MAP_ROWS = 2_000  # rows mapped at once: their OCSF dicts are the write's largest memory (~25 KB a row)


@dataclass
class _ClassFiles:
    """The open part file of one OCSF class, and the parts written so far (temporary path, final path, rows)."""

    directory: str
    schema: pa.Schema
    parts: list[tuple[str, str, int]] = field(default_factory=list)
    pending: list[pa.RecordBatch] = field(default_factory=list)
    pending_rows: int = 0
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
                 batch_rows: int = 10_000, workers: int = 1) -> None:
        self.fs = fs
        self.layout = layout
        self.origin = origin
        self.finding_min_level = finding_min_level
        self.rows_per_file = rows_per_file
        self.batch_rows = max(1, min(batch_rows, rows_per_file))  # rows a row group holds (per class)
        self.map_rows_at_once = min(self.batch_rows, MAP_ROWS)
        self.workers = max(1, workers)
        self.last_stages: dict[str, float] = {}  # seconds per stage of the latest archive (logged; the bench reads it)

    def url(self, path: str) -> str:
        return self.fs.unstrip_protocol(path)

    # --- write

    def archive(self, table: str, day: date, rows: Iterable[Mapping[str, Any]]) -> ArchiveReceipt:
        if table not in TABLES:
            raise ArchiveError(f"archive: no OCSF mapping for table {table!r} (only {', '.join(TABLES)})")
        token = uuid.uuid4().hex[:12]
        files: dict[str, _ClassFiles] = {}
        started = time.perf_counter()
        try:
            digest = self._write(table, day, rows, token, files)
            written = time.perf_counter()
            committed = self._commit(table, day, files)
            self._verify(table, committed, digest.rows, digest.hexdigest())
            verified = time.perf_counter()
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
        self.last_stages = {"fetch+map+write": written - started, "commit+verify": verified - written,
                            "total": time.perf_counter() - started}
        log.info("archived %s %s: %d rows in %d files (%s) in %.1f s (verify %.1f s, %d workers)", table, day,
                 manifest.rows, len(manifest.files), self.url(manifest.location), self.last_stages["total"],
                 self.last_stages["commit+verify"], self.workers)
        return ArchiveReceipt(table, day, manifest.rows, self.url(manifest.location), manifest.sha256)

    def map_rows(self, table: str, rows: Iterable[Mapping[str, Any]]) -> Iterator[MappedBatch]:
        """``rows`` mapped to OCSF ``MAP_ROWS`` at a time, in order; in ``workers`` processes past one batch.

        At most two batches per worker are in flight, so memory stays bounded whatever the day's size. The
        pool starts only for a day of more than one batch (a small day never pays for it). Row groups are cut
        at ``batch_rows`` per class whatever this batch size, so the files do not depend on it.
        """
        work = partial(map_batch, table, self.origin, self.finding_min_level)
        source = iter(rows)

        def take() -> list[Mapping[str, Any]]:
            with gc_paused():  # the fetch allocates a batch of row dicts: no collector walks over them
                return list(islice(source, self.map_rows_at_once))

        chunks = iter(take, [])
        first = next(chunks, None)
        if first is None:
            return
        second = next(chunks, None)
        if self.workers == 1 or second is None:
            yield work(first)
            if second is not None:
                yield work(second)
                yield from map(work, chunks)
            return
        with ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            try:
                flight: deque[Future[MappedBatch]] = deque([pool.submit(work, first), pool.submit(work, second)])
                for chunk in chunks:
                    if len(flight) >= 2 * self.workers:
                        yield flight.popleft().result()
                    flight.append(pool.submit(work, chunk))
                while flight:
                    yield flight.popleft().result()
            finally:
                pool.shutdown(cancel_futures=True)

    def _write(self, table: str, day: date, rows: Iterable[Mapping[str, Any]], token: str,
               files: dict[str, _ClassFiles]) -> RowDigest:
        digest = RowDigest()
        for mapped in self.map_rows(table, rows):
            digest.add_sum(mapped.rows, mapped.digest)
            for key, batch in mapped.classes.items():
                sink = files.get(key)
                if sink is None:
                    sink = files[key] = _ClassFiles(self.layout.class_dir(key, day), SCHEMAS[key])
                sink.pending.append(batch)
                sink.pending_rows += batch.num_rows
                while sink.pending_rows >= self.batch_rows:  # the same row groups as row-by-row batching made
                    self._flush(sink, table, day, token, self.batch_rows)
        for sink in files.values():
            self._flush(sink, table, day, token, sink.pending_rows)
            self._close_part(sink)
        return digest

    def _flush(self, sink: _ClassFiles, table: str, day: date, token: str, count: int) -> None:
        """Write the first ``count`` pending rows, in parts of at most ``rows_per_file`` rows."""
        pending = pa.Table.from_batches(sink.pending, schema=sink.schema)
        chunk, rest = pending.slice(0, count), pending.slice(count)
        sink.pending, sink.pending_rows = rest.to_batches(), rest.num_rows
        while chunk.num_rows:
            if sink.writer is None:
                final = f"{sink.directory}/{self.layout.file_name(table, day, len(sink.parts) + 1)}"
                tmp = temp_name(final, token)
                self.fs.makedirs(sink.directory, exist_ok=True)
                sink.handle = self.fs.open(tmp, "wb")
                sink.writer = pq.ParquetWriter(sink.handle, sink.schema, compression=COMPRESSION)
                sink.parts.append((tmp, final, 0))
            room = self.rows_per_file - sink.rows_in_part
            part, chunk = chunk.slice(0, room), chunk.slice(room)
            sink.writer.write_table(part.combine_chunks())
            sink.rows_in_part += part.num_rows
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
            for batch in self.file_batches(path, _STORED):
                try:
                    n, digest = stored_digest(batch, table)
                except ValueError as exc:
                    raise ArchiveError(f"archive: {path} {exc}") from exc
                got += n
                seen.add_sum(n, digest)
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

    def file_batches(self, path: str, columns: list[str] | None = None,
                     batch_rows: int = 10_000) -> Iterator[pa.RecordBatch]:
        """The record batches of one archived file (only ``columns`` when given: verifying needs two)."""
        try:
            with self.fs.open(path, "rb") as handle:
                yield from pq.ParquetFile(handle).iter_batches(batch_size=batch_rows, columns=columns)
        except (OSError, pa.ArrowException) as exc:  # missing, truncated or not Parquet at all
            raise ArchiveError(f"archive: cannot read {self.url(path)}: {type(exc).__name__}: {exc}") from exc

    def file_records(self, path: str, columns: list[str] | None = None,
                     batch_rows: int = 10_000) -> Iterator[dict[str, Any]]:
        """The records of one archived file (only ``columns`` when given)."""
        for batch in self.file_batches(path, columns, batch_rows):
            yield from batch.to_pylist()

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
