"""Publish real log files as normalised events; a line that cannot be published goes to the DLQ, never fatal.

Why: real logs hold binary junk (a TLS handshake sent to an HTTP port), invalid UTF-8, NUL bytes and
lines longer than anyone planned. The input is read as bytes, one bounded line at a time; each line
is published, or dead-lettered with its stage and reason and its original bytes (cut to a bound,
with the original size and sha256 in headers). Nothing a line holds stops the lines after it.
"""

from __future__ import annotations

import codecs
import hashlib
import io
import logging
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from confluent_kafka import KafkaException
from pydantic_core import PydanticSerializationError

from secustream.events import SecurityEvent, encode_event, grouping_key
from secustream.messaging import headers as h
from secustream.messaging.client import PublishError, TrackedProducer
from secustream.messaging.dead_letter import dead_letter, reason_kind
from secustream.metrics import GeneratorMetrics
from secustream.normalizers.decoding import INVALID_UTF8, failure_reason, normalize_bytes
from secustream.sanitize import strip_nul

log = logging.getLogger(__name__)

MAX_LINE_BYTES = 1 << 20
"""Longest line read whole; the rest of a longer one is hashed, skipped and the line dead-lettered."""
DLQ_MAX_BYTES = 64 << 10
"""Longest DLQ copy of a line; a longer one is cut and carries its original size and sha256."""
_SKIP_CHUNK = 1 << 16


@dataclass(frozen=True)
class RawLine:
    """One input line without its "\\n": ``data`` is at most ``MAX_LINE_BYTES`` of its ``size`` bytes."""

    number: int
    data: bytes
    size: int
    sha256: str | None = None  # of the whole line, computed while skipping an overlong one
    source: str = ""  # the archive member it came from (``ingest_input``), "" for a plain file or stream

    @property
    def overlong(self) -> bool:
        return self.size > len(self.data)

    @property
    def origin(self) -> str:
        """Where the line was, as its dead letter and the log say: ``line 7`` or ``member.json line 7``."""
        return f"{self.source} line {self.number}" if self.source else f"line {self.number}"


def _strip_eol(chunk: bytes) -> bytes:
    return chunk[:-1] if chunk.endswith(b"\n") else chunk


# Byte order marks, longest first (UTF-32-LE's begins with UTF-16-LE's). Windows tools write them: PowerShell 5's
# ``>`` and ``Out-File`` write UTF-16-LE, Notepad and .NET often put a UTF-8 BOM before the first line.
_BOMS = ((codecs.BOM_UTF32_LE, "utf-32-le"), (codecs.BOM_UTF32_BE, "utf-32-be"), (codecs.BOM_UTF8, "utf-8"),
         (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"))


class _Utf8Source(io.RawIOBase):
    """A byte stream, read past its byte order mark and, when it is UTF-16 or UTF-32, re-encoded as UTF-8 on the
    fly. Bytes the encoding cannot decode (a lone surrogate, a file cut mid-character) are written ``\\xNN``, as
    the normalisers write invalid UTF-8; nothing raises."""

    CHUNK = 1 << 16

    def __init__(self, source: BinaryIO, skip: int, encoding: str | None) -> None:
        super().__init__()
        self._source, self._skip = source, skip
        self._decoder = codecs.getincrementaldecoder(encoding)("backslashreplace") if encoding else None
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._pending:
            chunk = self._source.read(self.CHUNK)
            if self._skip:
                chunk, self._skip = chunk[self._skip:], 0
            if self._decoder is None:
                self._pending = chunk
            else:
                self._pending = self._decoder.decode(chunk, final=not chunk).encode("utf-8")
            if not chunk:
                break
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size


def utf8_input(stream: BinaryIO) -> tuple[BinaryIO, str | None]:
    """``stream`` as UTF-8 bytes without a byte order mark, and the encoding its BOM named (None without one).

    Why: the normalisers read UTF-8 lines; a UTF-8 BOM made the first line unparseable (``\ufeff{…``) and a
    UTF-16 file (PowerShell's default) made every line so. A stream without a BOM is returned as it is."""
    if not hasattr(stream, "peek"):  # e.g. io.BytesIO: buffered, so the head can be looked at without reading it
        stream = io.BufferedReader(_Utf8Source(stream, 0, None))  # type: ignore[assignment]
    head = stream.peek(4)[:4]  # type: ignore[attr-defined]
    for bom, encoding in _BOMS:
        if head.startswith(bom):
            decode = None if encoding == "utf-8" else encoding
            return io.BufferedReader(_Utf8Source(stream, len(bom), decode)), encoding  # type: ignore[return-value]
    return stream, None


def read_lines(stream: BinaryIO, limit: int = MAX_LINE_BYTES) -> Iterator[RawLine]:
    """The lines of a byte stream (split at "\\n" only), never holding more than ``limit`` bytes of one."""
    number = 0
    while chunk := stream.readline(limit + 1):
        number += 1
        data = _strip_eol(chunk)
        if len(data) <= limit:
            yield RawLine(number, data, len(data))
            continue
        digest, size, tail = hashlib.sha256(data), len(data), chunk
        while not tail.endswith(b"\n") and (tail := stream.readline(_SKIP_CHUNK)):
            body = _strip_eol(tail)
            digest.update(body)
            size += len(body)
        yield RawLine(number, data[:limit], size, digest.hexdigest())


def as_raw_lines(lines: Iterable[RawLine | bytes | str]) -> Iterator[RawLine]:
    """Accept already-split lines (bytes or text) as well as ``read_lines`` output."""
    for number, item in enumerate(lines, start=1):
        if isinstance(item, RawLine):
            yield item
            continue
        data = _strip_eol(item.encode("utf-8", errors="surrogateescape") if isinstance(item, str) else item)
        yield RawLine(number, data, len(data))


@dataclass
class IngestReport:
    read: int = 0
    published: int = 0
    rejected: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    invalid_utf8: int = 0  # published with their undecodable bytes escaped
    lost: int = 0  # neither published nor dead-lettered (the DLQ refused them too)
    delivery_error: str | None = None

    def reject(self, stage: str, reason: str) -> None:
        self.rejected += 1
        kind = f"{stage}: {reason_kind(reason)}" if stage != "normalise" else reason_kind(reason)
        self.reasons[kind] = self.reasons.get(kind, 0) + 1

    @property
    def ok(self) -> bool:
        """Every line read is on the events topic or the DLQ (rejections are reported, not failures)."""
        return not self.lost and self.delivery_error is None

    def summary(self, files: int = 1) -> str:
        ranked = sorted(self.reasons.items(), key=lambda kv: (-kv[1], kv[0]))
        top = ", ".join(f"{r} x{n}" for r, n in ranked[:8]) + (f", +{len(ranked) - 8} more" if len(ranked) > 8 else "")
        where = f" from {files} files" if files > 1 else ""
        text = (f"read {self.read} lines{where}: published {self.published} events, rejected {self.rejected}"
                + (f" (sent to DLQ; reasons: {top})" if self.rejected else ""))
        if self.invalid_utf8:
            text += f"; {self.invalid_utf8} lines had invalid UTF-8 (published with the bytes escaped)"
        if self.lost:
            text += f"; {self.lost} lines lost (the DLQ refused them too)"
        if self.delivery_error:
            text += f"; delivery failed: {self.delivery_error}"
        return text


def encoded(event: SecurityEvent) -> tuple[SecurityEvent, bytes]:
    """The event and its wire bytes. A string holding a lone surrogate (a JSON ``\\ud800`` escape: valid JSON
    grammar, which the fallback parser reads) has no UTF-8 form; such an event is sanitised as the analyzer
    sanitises its input (``sanitize.strip_nul``: the character escaped, the original kept in ``unmapped``)
    instead of being refused."""
    try:
        return event, encode_event(event)
    except PydanticSerializationError:
        cleaned = strip_nul(event)
        return cleaned, encode_event(cleaned)


def ingest_lines(lines: Iterable[RawLine | bytes | str], fmt: str, normalise: Callable[[str], SecurityEvent],
                 producer: TrackedProducer, topic: str, dlq_topic: str, metrics: GeneratorMetrics | None = None,
                 progress_every: int = 10_000, progress: Callable[[str], None] | None = None) -> IngestReport:
    """Normalise and produce every non-blank line, dead-lettering any line that fails; flushes before returning."""
    report = IngestReport()
    fmt_header = (h.SOURCE_FORMAT, fmt.encode())
    failed_before = producer.tracker.failed

    def reject(line: RawLine, stage: str, reason: str) -> None:
        report.reject(stage, reason)
        if metrics:
            metrics.ingest_rejected.labels(format=fmt).inc()
        letter = dead_letter(line.data, None, [fmt_header], stage=stage, reason=reason, origin=line.origin,
                             max_bytes=DLQ_MAX_BYTES, original_size=line.size, original_sha256=line.sha256)
        try:
            producer.produce(dlq_topic, letter.value, headers=letter.headers)
        except KafkaException as exc:
            report.lost += 1
            log.error("%s: the DLQ refused it too (%s); it is lost", line.origin, exc.args[0])

    for line in as_raw_lines(lines):
        if not line.data.strip():
            continue
        report.read += 1
        if progress and report.read % progress_every == 0:
            progress(f"ingest: {report.read} lines read, {report.published} published, {report.rejected} rejected")
        if line.overlong:
            reject(line, "read", f"line too long: {line.size} bytes (limit {len(line.data)})")
            continue
        try:
            event, value = encoded(normalize_bytes(normalise, line.data.removesuffix(b"\r")))
        except Exception as exc:  # whatever one line does to a normaliser, only that line is rejected
            reject(line, "normalise", failure_reason(exc))
            continue
        try:
            producer.produce(topic, value, key=grouping_key(event),
                             headers=[fmt_header, (h.PRODUCED_AT, str(time.time()).encode())])
        except KafkaException as exc:  # e.g. MSG_SIZE_TOO_LARGE: this record only
            if metrics:
                metrics.produce_errors.labels(source="ingest").inc()
            reject(line, "produce", f"produce failed: {exc.args[0]}")
            continue
        report.published += 1
        if event.unmapped.get(INVALID_UTF8):
            report.invalid_utf8 += 1
        if metrics:
            metrics.produced.labels(source="ingest", event_type=event.event_type.value).inc()
        producer.poll(0)
    try:
        producer.flush_or_raise()
    except PublishError as exc:
        report.delivery_error = f"{exc} ({producer.tracker.failed - failed_before} failed deliveries)"
        if metrics:
            metrics.produce_errors.labels(source="ingest").inc(producer.tracker.failed - failed_before)
    return report


def print_progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


__all__ = ["DLQ_MAX_BYTES", "MAX_LINE_BYTES", "IngestReport", "RawLine", "ingest_lines", "print_progress",
           "read_lines", "utf8_input"]
