"""Consume → decode → route → persist → publish → commit, batch by batch.

Offsets are committed only after the batch's rows are in the database and its results and
dead letters are acknowledged by Kafka: at-least-once in, exactly-once in the table.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime

import orjson
from confluent_kafka import Consumer, KafkaError, Message, TopicPartition

from secustream.analyzer.reload import RulesReloader
from secustream.analyzer.router import Router
from secustream.analyzer.tiers import RoutingContext
from secustream.analyzer.verdict import Verdict
from secustream.events import EventDecodeError, SecurityEvent, decode_event
from secustream.messaging import headers as h
from secustream.messaging.client import TrackedProducer, commit_offsets
from secustream.metrics import AnalyzerMetrics
from secustream.normalizers.raw_input import normalize_raw_message
from secustream.state import RECENT_VERDICTS_STREAM, VERDICTS_CHANNEL, StateStore
from secustream.storage.repository import AnalyzedEvent, VerdictRepository

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Topics:
    events: str
    results: str
    dlq: str


@dataclass
class BatchOutcome:
    consumed: int = 0
    analyzed: int = 0
    stored: int = 0
    dead_lettered: int = 0
    verdicts: list[Verdict] = field(default_factory=list)


def feed_item(event: SecurityEvent, verdict: Verdict) -> str:
    """The compact JSON a live dashboard row needs (also the results-topic payload)."""
    return feed_item_bytes(event, verdict).decode()


def feed_item_bytes(event: SecurityEvent, verdict: Verdict) -> bytes:
    """``feed_item`` as UTF-8 bytes (orjson: the analyzer serialises one per event on its hot path)."""
    source, destination = event.source, event.destination
    return orjson.dumps({
        "event": {
            "event_id": str(event.event_id), "timestamp": event.timestamp.isoformat(),
            "event_type": event.event_type.value, "action": event.action, "outcome": event.outcome.value,
            "source_ip": source.ip, "source_user": source.user, "host": destination.host or source.host,
            "message": event.message,
        },
        "verdict": verdict.model_dump(),
    }, option=orjson.OPT_UTC_Z)


@dataclass(frozen=True, slots=True)
class PreparedBatch:
    """A decoded and analysed batch, waiting for its side effects and offset commit."""

    messages: list[Message]
    items: list[AnalyzedEvent]
    dead_letters: list[tuple[Message, str]]
    produced: list[float | None]
    started: float


@dataclass(frozen=True, slots=True)
class _InFlight:
    batch: PreparedBatch
    future: Future[BatchOutcome]


def _dlq_reason_kind(reason: str) -> str:
    return reason.split(":", 1)[0][:40]


class AnalyzerWorker:
    def __init__(self, *, consumer: Consumer, producer: TrackedProducer, router: Router,
                 repository: VerdictRepository, state: StateStore, metrics: AnalyzerMetrics, topics: Topics,
                 batch_size: int = 500, poll_timeout: float = 0.5, recent_maxlen: int = 10_000,
                 reloader: RulesReloader | None = None, lag_interval: float = 5.0) -> None:
        self.consumer = consumer
        self.producer = producer
        self.router = router
        self.repository = repository
        self.state = state
        self.metrics = metrics
        self.topics = topics
        self.batch_size = batch_size
        self.poll_timeout = poll_timeout
        self.recent_maxlen = recent_maxlen
        self.reloader = reloader
        self.lag_interval = lag_interval
        self._lag = 0
        self._next_lag = 0.0
        self._in_flight: _InFlight | None = None

    # ---- the loop -------------------------------------------------------------------------
    def run(self, stop: threading.Event) -> None:
        """Process until ``stop`` is set; the batch in hand is finished and committed first.

        Two stages overlap: while a helper thread stores and publishes batch N, this loop decodes
        and analyses batch N+1 (the database's work then runs beside ours instead of after it).
        At most one batch is in flight; this thread commits its offsets, strictly in order and
        only once its rows and publishes are acknowledged. A failure in either stage rewinds to
        the first offsets of every batch not yet committed.
        """
        self.consumer.subscribe([self.topics.events], on_assign=_log_partitions("assigned"),
                                on_revoke=self._on_revoke, on_lost=_log_partitions("lost"))
        backoff = 0.5
        persister = ThreadPoolExecutor(max_workers=1, thread_name_prefix="analyzer-persist")
        try:
            while not stop.is_set():
                if self.reloader:
                    self.reloader.maybe_reload()
                messages = self.consumer.consume(self.batch_size, self.poll_timeout)
                self._update_lag()
                in_flight = self._in_flight
                try:
                    batch = self.prepare(messages) if messages else None
                    if in_flight is not None and (batch is not None or in_flight.future.done()):
                        self._in_flight = None
                        self._commit(in_flight)
                except Exception as exc:
                    self._in_flight = None
                    uncommitted = [*(in_flight.batch.messages if in_flight else ()), *messages]
                    log.exception("batch failed, will retry from its first offsets: %s", exc)
                    self.metrics.errors.labels(stage=type(exc).__name__).inc()
                    self._rewind(uncommitted)
                    stop.wait(backoff)
                    backoff = min(backoff * 2, 10.0)
                    continue
                if batch is not None:
                    self._in_flight = _InFlight(batch, persister.submit(self.persist, batch))
                    backoff = 0.5
            self._finish_in_flight()
        finally:
            persister.shutdown(wait=True)
            self.producer.close()
            self.consumer.close()

    def _finish_in_flight(self) -> None:
        """Wait for the batch being persisted; on failure its offsets stay uncommitted (redelivered)."""
        in_flight, self._in_flight = self._in_flight, None
        if in_flight is None:
            return
        try:
            self._commit(in_flight)
        except Exception as exc:
            log.error("in-flight batch failed; its offsets stay uncommitted and will be redelivered: %s", exc)
            self.metrics.errors.labels(stage=type(exc).__name__).inc()

    def _commit(self, in_flight: _InFlight) -> None:
        """Offsets are committed here, on the consuming thread (librdkafka's consumer is not shared)."""
        in_flight.future.result()
        commit_offsets(self.consumer, in_flight.batch.messages)

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        """Commit what is in flight while the partitions are still ours, so the next owner starts after it."""
        self._finish_in_flight()
        _log_partitions("revoked")(consumer, partitions)

    def _rewind(self, messages: Sequence[Message]) -> None:
        first: dict[tuple[str, int], int] = {}
        for msg in messages:
            if msg.error() is None:
                key = (msg.topic(), msg.partition())
                first[key] = min(first.get(key, msg.offset()), msg.offset())
        for (topic, partition), offset in first.items():
            try:
                self.consumer.seek(TopicPartition(topic, partition, offset))
            except Exception as exc:
                log.warning("seek %s[%d]@%d failed: %s", topic, partition, offset, exc)

    def _update_lag(self) -> None:
        now = time.monotonic()
        if now < self._next_lag:
            return
        self._next_lag = now + self.lag_interval
        try:
            assignment = self.consumer.assignment()
            if not assignment:
                return
            total = 0
            for tp in self.consumer.position(assignment):
                _low, high = self.consumer.get_watermark_offsets(tp, cached=True)
                if high >= 0 and tp.offset >= 0:
                    total += max(0, high - tp.offset)
            self._lag = total
            self.metrics.lag.set(total)
        except Exception as exc:
            log.debug("lag read failed: %s", exc)

    # ---- one batch ------------------------------------------------------------------------
    def prepare(self, messages: Sequence[Message]) -> PreparedBatch:
        """Decode and analyse: CPU work with no side effect outside the shared rule windows."""
        started = time.perf_counter()
        good: list[Message] = []
        events: list[SecurityEvent] = []
        produced: list[float | None] = []
        dead: list[tuple[Message, str]] = []
        seen_ids: set[object] = set()
        for msg in messages:
            err = msg.error()
            if err is not None:
                if err.code() != KafkaError._PARTITION_EOF:
                    log.warning("consume error: %s", err)
                continue
            good.append(msg)
            try:
                event = decode_event(msg.value())
            except EventDecodeError as exc:
                raw_event, reason = normalize_raw_message(msg.value(), msg.headers(), exc.reason)
                if raw_event is None:
                    dead.append((msg, reason))
                    continue
                event = raw_event
            if event.event_id in seen_ids:
                continue
            seen_ids.add(event.event_id)
            events.append(event)
            produced.append(h.produced_at(msg.headers()))
        self.metrics.consumed.inc(len(good))
        items: list[AnalyzedEvent] = []
        if events:
            verdicts = self.router.analyze(events, RoutingContext(consumer_lag=self._lag))
            items = [
                AnalyzedEvent(e, v, _epoch_to_dt(p)) for e, v, p in zip(events, verdicts, produced, strict=True)
            ]
        return PreparedBatch(good, items, dead, produced, started)

    def persist(self, batch: PreparedBatch) -> BatchOutcome:
        """Store, publish, wait for Kafka's acks: the side effects that must precede the commit."""
        outcome = BatchOutcome(consumed=len(batch.messages), analyzed=len(batch.items),
                               dead_lettered=len(batch.dead_letters),
                               verdicts=[i.verdict for i in batch.items])
        for msg, reason in batch.dead_letters:
            self._dead_letter(msg, reason)
        if batch.items:
            outcome.stored = self.repository.store(batch.items)
            self._publish(batch.items)
        self.producer.flush_or_raise()
        self._observe(outcome, batch.produced, time.perf_counter() - batch.started)
        return outcome

    def _dead_letter(self, msg: Message, reason: str) -> None:
        origin = f"{msg.topic()}/{msg.partition()}/{msg.offset()}"
        extra = [(h.ERROR, reason.encode()[:1000]), (h.ERROR_STAGE, b"decode"), (h.ORIGIN, origin.encode())]
        self.producer.produce(self.topics.dlq, msg.value() or b"", key=msg.key(),
                              headers=list(msg.headers() or []) + extra)
        self.metrics.dlq.labels(reason=_dlq_reason_kind(reason)).inc()
        log.warning("dead-lettered %s: %s", origin, reason)

    def _publish(self, items: Sequence[AnalyzedEvent]) -> None:
        payloads = [feed_item_bytes(i.event, i.verdict) for i in items]
        for item, payload in zip(items, payloads, strict=True):
            self.producer.produce(self.topics.results, payload, key=str(item.event.event_id))
        self.state.feed(RECENT_VERDICTS_STREAM, VERDICTS_CHANNEL, [p.decode() for p in payloads], self.recent_maxlen)

    def _observe(self, outcome: BatchOutcome, produced: Sequence[float | None], seconds: float) -> None:
        m = self.metrics
        m.batch_seconds.observe(seconds)
        m.batch_size.observe(outcome.consumed)
        m.stored.inc(outcome.stored)
        m.duplicates.inc(max(0, outcome.analyzed - outcome.stored))
        now = time.time()
        for stamp in produced:
            if stamp is not None:
                m.end_to_end.observe(max(0.0, now - stamp))
        # Count first, then one labelled increment per distinct series (labels() is the costly part).
        by_series = Counter((v.tier, v.risk_level.value) for v in outcome.verdicts)
        for (tier, level), n in by_series.items():
            m.analyzed.labels(tier=tier, risk_level=level).inc(n)
        for rule_id, n in Counter(r for v in outcome.verdicts for r in v.rule_ids).items():
            m.rule_hits.labels(rule_id=rule_id).inc(n)


def _epoch_to_dt(stamp: float | None) -> datetime | None:
    return datetime.fromtimestamp(stamp, UTC) if stamp is not None else None


def _log_partitions(what: str):  # type: ignore[no-untyped-def]
    def callback(_consumer: Consumer, partitions: list[TopicPartition]) -> None:
        if partitions:
            log.info("partitions %s: %s", what, ", ".join(f"{p.topic}[{p.partition}]" for p in partitions))

    return callback
