"""Publish real log files as normalised events; lines that don't parse go to the DLQ, never fatal."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from secustream.events import SecurityEvent, encode_event, grouping_key
from secustream.messaging import headers as h
from secustream.messaging.client import TrackedProducer
from secustream.metrics import GeneratorMetrics


@dataclass
class IngestReport:
    read: int = 0
    published: int = 0
    rejected: int = 0
    reasons: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        top = ", ".join(f"{r} x{n}" for r, n in sorted(self.reasons.items(), key=lambda kv: -kv[1])[:5])
        return (f"read {self.read} lines: published {self.published} events, rejected {self.rejected}"
                + (f" (sent to DLQ; reasons: {top})" if self.rejected else ""))


def ingest_lines(lines: Iterable[str], fmt: str, normalise: Callable[[str], SecurityEvent],
                 producer: TrackedProducer, topic: str, dlq_topic: str, metrics: GeneratorMetrics | None = None,
                 progress_every: int = 10_000, progress: Callable[[str], None] | None = None) -> IngestReport:
    """Normalise and produce every non-blank line; flushes before returning."""
    from secustream.normalizers import NormalizationError

    report = IngestReport()
    fmt_header = (h.SOURCE_FORMAT, fmt.encode())
    for number, line in enumerate(lines, start=1):
        line = line.rstrip("\r\n")
        if not line.strip():
            continue
        report.read += 1
        now = str(time.time()).encode()
        try:
            event = normalise(line)
        except (NormalizationError, ValueError) as exc:
            reason = getattr(exc, "reason", None) or str(exc).splitlines()[0]
            report.rejected += 1
            kind = reason.split(":", 1)[0][:60]
            report.reasons[kind] = report.reasons.get(kind, 0) + 1
            producer.produce(dlq_topic, line.encode(), headers=[
                fmt_header, (h.ERROR, reason.encode()[:1000]), (h.ERROR_STAGE, b"normalise"),
                (h.ORIGIN, f"line {number}".encode())])
            if metrics:
                metrics.ingest_rejected.labels(format=fmt).inc()
            continue
        producer.produce(topic, encode_event(event), key=grouping_key(event),
                         headers=[fmt_header, (h.PRODUCED_AT, now)])
        report.published += 1
        if metrics:
            metrics.produced.labels(source="ingest", event_type=event.event_type.value).inc()
        if progress and report.read % progress_every == 0:
            progress(f"ingest: {report.read} lines read, {report.published} published, {report.rejected} rejected")
        producer.poll(0)
    producer.flush_or_raise()
    return report


def print_progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
