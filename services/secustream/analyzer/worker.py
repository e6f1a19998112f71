"""Consume → decode → route → persist → publish → commit, one batch at a time.

Offsets are committed only after the batch's rows are in the database and its results and
dead letters are acknowledged by Kafka: at-least-once in, exactly-once in the table.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

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
    return json.dumps({
        "event": {
            "event_id": str(event.event_id), "timestamp": event.timestamp.isoformat(),
            "event_type": event.event_type.value, "action": event.action, "outcome": event.outcome.value,
            "source_ip": event.source.ip, "source_user": event.source.user, "host": event.destination.host
            or event.source.host, "message": event.message,
        },
        "verdict": verdict.model_dump(mode="json"),
    })


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

    # ---- the loop -------------------------------------------------------------------------
    def run(self, stop: threading.Event) -> None:
        """Process until ``stop`` is set; the batch in hand is finished and committed first."""
        self.consumer.subscribe([self.topics.events], on_assign=_log_partitions("assigned"),
                                on_revoke=_log_partitions("revoked"), on_lost=_log_partitions("lost"))
        backoff = 0.5
        try:
            while not stop.is_set():
                if self.reloader:
                    self.reloader.maybe_reload()
                messages = self.consumer.consume(self.batch_size, self.poll_timeout)
                self._update_lag()
                if not messages:
                    continue
                try:
                    self.process(messages)
                    backoff = 0.5
                except Exception as exc:
                    log.exception("batch failed, will retry from its first offsets: %s", exc)
                    self.metrics.errors.labels(stage=type(exc).__name__).inc()
                    self._rewind(messages)
                    stop.wait(backoff)
                    backoff = min(backoff * 2, 10.0)
        finally:
            self.producer.close()
            self.consumer.close()

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
    def process(self, messages: Sequence[Message]) -> BatchOutcome:
        started = time.perf_counter()
        outcome = BatchOutcome()
        good: list[Message] = []
        events: list[SecurityEvent] = []
        produced: list[float | None] = []
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
                    self._dead_letter(msg, reason)
                    outcome.dead_lettered += 1
                    continue
                event = raw_event
            if event.event_id in seen_ids:
                continue
            seen_ids.add(event.event_id)
            events.append(event)
            produced.append(h.produced_at(msg.headers()))
        outcome.consumed = len(good)
        self.metrics.consumed.inc(len(good))

        if events:
            verdicts = self.router.analyze(events, RoutingContext(consumer_lag=self._lag))
            items = [
                AnalyzedEvent(e, v, _epoch_to_dt(p)) for e, v, p in zip(events, verdicts, produced, strict=True)
            ]
            outcome.stored = self.repository.store(items)
            outcome.analyzed = len(events)
            outcome.verdicts = verdicts
            self._publish(items)

        self.producer.flush_or_raise()
        commit_offsets(self.consumer, good)
        self._observe(outcome, events, produced, time.perf_counter() - started)
        return outcome

    def _dead_letter(self, msg: Message, reason: str) -> None:
        origin = f"{msg.topic()}/{msg.partition()}/{msg.offset()}"
        extra = [(h.ERROR, reason.encode()[:1000]), (h.ERROR_STAGE, b"decode"), (h.ORIGIN, origin.encode())]
        self.producer.produce(self.topics.dlq, msg.value() or b"", key=msg.key(),
                              headers=list(msg.headers() or []) + extra)
        self.metrics.dlq.labels(reason=_dlq_reason_kind(reason)).inc()
        log.warning("dead-lettered %s: %s", origin, reason)

    def _publish(self, items: Sequence[AnalyzedEvent]) -> None:
        payloads = [feed_item(i.event, i.verdict) for i in items]
        for item, payload in zip(items, payloads, strict=True):
            self.producer.produce(self.topics.results, payload.encode(), key=str(item.event.event_id))
        self.state.feed(RECENT_VERDICTS_STREAM, VERDICTS_CHANNEL, payloads, self.recent_maxlen)

    def _observe(self, outcome: BatchOutcome, events: Sequence[SecurityEvent], produced: Sequence[float | None],
                 seconds: float) -> None:
        m = self.metrics
        m.batch_seconds.observe(seconds)
        m.batch_size.observe(outcome.consumed)
        m.stored.inc(outcome.stored)
        m.duplicates.inc(max(0, outcome.analyzed - outcome.stored))
        now = time.time()
        for stamp in produced:
            if stamp is not None:
                m.end_to_end.observe(max(0.0, now - stamp))
        for verdict in outcome.verdicts:
            m.analyzed.labels(tier=verdict.tier, risk_level=verdict.risk_level.value).inc()
            for rule_id in verdict.rule_ids:
                m.rule_hits.labels(rule_id=rule_id).inc()


def _epoch_to_dt(stamp: float | None) -> datetime | None:
    return datetime.fromtimestamp(stamp, UTC) if stamp is not None else None


def _log_partitions(what: str):  # type: ignore[no-untyped-def]
    def callback(_consumer: Consumer, partitions: list[TopicPartition]) -> None:
        if partitions:
            log.info("partitions %s: %s", what, ", ".join(f"{p.topic}[{p.partition}]" for p in partitions))

    return callback
