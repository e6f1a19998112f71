"""Consume → decode → route → persist → publish → commit, batch by batch.

Offsets are committed only after the batch's rows are in the database and its results and
dead letters are acknowledged by Kafka: at-least-once in, exactly-once in the table.

A record that any stage refuses (decode, normalise, analyze, store, publish) goes to the DLQ
with its stage and reason, and the rest of its batch goes on. When a stage fails for a whole
batch, the fault is classified (``faults.classify``): an infrastructure fault (database, Redis or
Kafka down) keeps the batch in hand and retries it with exponential backoff and jitter; a record
fault, or the same batch failing ``max_attempts`` times, bisects the batch to isolate the records
that fail alone (``faults.isolate``), which go to the DLQ. Nothing retries a partition forever
and nothing re-analyses a batch to retry its storage.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

import orjson
from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition

from secustream import heap
from secustream.alerts.stage import AlertStage
from secustream.analyzer.faults import Backoff, FaultKind, InfrastructureDown, classify, describe, isolate
from secustream.analyzer.health import ProgressHealth
from secustream.analyzer.router import Router, RoutingContext
from secustream.events import DEFAULT_MAX_EVENT_BYTES, EventDecodeError, SecurityEvent, decode_event
from secustream.messaging import headers as h
from secustream.messaging.client import TrackedProducer, close_within, commit_offsets
from secustream.messaging.dead_letter import dead_letter, reason_kind
from secustream.metrics import AnalyzerMetrics
from secustream.normalizers.raw_input import normalize_raw_message
from secustream.sanitize import TimeWindow, bound_time, payload_may_hold_nul, strip_nul
from secustream.state import RECENT_VERDICTS_STREAM, VERDICTS_CHANNEL, StateStore
from secustream.storage.repository import AnalyzedEvent, VerdictRepository
from secustream.verdict import Verdict

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class Topics:
    events: str
    results: str
    dlq: str


@dataclass(frozen=True)
class RecordLimits:
    """What a single record may be: larger payloads are refused, DLQ copies truncated, times bounded."""

    max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES
    dlq_max_bytes: int = 262_144
    time_window: TimeWindow = field(default_factory=TimeWindow)


@dataclass(frozen=True)
class RetryPolicy:
    backoff: Backoff = field(default_factory=Backoff)
    max_attempts: int = 5  # the same batch failing this often is isolated record by record


class Abandoned(RuntimeError):
    """A batch given up without a commit (stop requested or partitions revoked): it is redelivered."""


@dataclass
class BatchOutcome:
    consumed: int = 0
    analyzed: int = 0
    stored: int = 0
    dead_lettered: int = 0
    duplicates: int = 0
    verdicts: list[Verdict] = field(default_factory=list)


def feed_item_bytes(event: SecurityEvent, verdict: Verdict) -> bytes:
    """The compact JSON a live dashboard row needs, also the results-topic payload (orjson: hot path). The verdict is
    pydantic's own JSON of it, embedded as it is (the bytes orjson wrote from ``model_dump()``, ~2.5 µs less), and the
    event id orjson's UUID (``str(uuid)`` runs Python code, ~1 µs)."""
    source, destination = event.source, event.destination
    return orjson.dumps({
        "event": {
            "event_id": event.event_id, "timestamp": event.timestamp.isoformat(),
            "event_type": event.event_type.value, "action": event.action, "outcome": event.outcome.value,
            "source_ip": source.ip, "source_user": source.user, "host": destination.host or source.host,
            "message": event.message,
        },
        "verdict": orjson.Fragment(_VERDICT_JSON(verdict)),
    }, option=orjson.OPT_UTC_Z)


_VERDICT_JSON = Verdict.__pydantic_serializer__.to_json


@dataclass(frozen=True, slots=True)
class Refused:
    """A record some stage refused, on its way to the DLQ."""

    msg: Message
    stage: str
    reason: str


@dataclass(frozen=True, slots=True)
class PreparedBatch:
    """A decoded and analysed batch, waiting for its side effects and offset commit."""

    messages: list[Message]
    items: list[AnalyzedEvent]
    sources: list[Message]  # the message of each item, for dead-lettering it at a later stage
    refused: list[Refused]
    produced: list[float | None]
    started: float

    def joined(self, more: PreparedBatch) -> PreparedBatch:
        """This batch with ``more`` after it (a batch grown under load); timed from this one's start."""
        return PreparedBatch(self.messages + more.messages, self.items + more.items, self.sources + more.sources,
                             self.refused + more.refused, self.produced + more.produced, self.started)


@dataclass(frozen=True, slots=True)
class _InFlight:
    batch: PreparedBatch
    future: Future[BatchOutcome]


class AnalyzerWorker:
    def __init__(self, *, consumer: Consumer, producer: TrackedProducer, router: Router,
                 repository: VerdictRepository, state: StateStore, metrics: AnalyzerMetrics, topics: Topics,
                 batch_size: int = 500, poll_timeout: float = 0.5, recent_maxlen: int = 10_000,
                 max_batch_size: int = 2000,
                 lag_interval: float = 5.0,
                 limits: RecordLimits | None = None, retry: RetryPolicy | None = None,
                 health: ProgressHealth | None = None, alerts: AlertStage | None = None,
                 close_timeout: float = 10.0) -> None:
        self.consumer = consumer
        self.producer = producer
        self.router = router
        self.repository = repository
        self.alerts = alerts
        self.state = state
        self.metrics = metrics
        self.topics = topics
        self.batch_size = batch_size
        self.max_batch_size = max(batch_size, max_batch_size)
        self.poll_timeout = poll_timeout
        self.recent_maxlen = recent_maxlen
        self.lag_interval = lag_interval
        self.close_timeout = close_timeout
        self.limits = limits or RecordLimits()
        self.retry = retry or RetryPolicy()
        self.health = health or ProgressHealth(stall_seconds=120.0)
        self._lag = 0
        self._next_lag = 0.0
        self._in_flight: _InFlight | None = None
        self._highest: dict[tuple[str, int], int] = {}  # highest offset consumed, per partition
        self._committed: dict[tuple[str, int], int] = {}  # next offset, per partition we committed
        self._stop = threading.Event()
        self._abandon = threading.Event()  # set while partitions are revoked: retry waits give up
        self._rebalances = 0  # counted by the rebalance callbacks: a batch stops growing across one
        metrics.last_commit.set(time.time())
        metrics.stalled.set_function(self.health.stalled_for)

    # ---- the loop -------------------------------------------------------------------------
    def run(self, stop: threading.Event) -> bool:
        """Process until ``stop`` is set; the batch in hand is finished and committed first.

        Returns whether the consumer left its group within ``close_timeout``; when it did not, its
        close goes on in a daemon thread and the process should end without waiting for it.

        Two stages overlap: while a helper thread stores and publishes batch N, this loop decodes
        and analyses batch N+1 (the database's work then runs beside ours instead of after it).
        At most one batch is in flight; this thread commits its offsets, strictly in order and
        only once its rows and publishes are acknowledged. Stage failures are retried or isolated
        inside the stages; what still escapes here (a failed commit, a batch abandoned on stop or
        revocation) rewinds to the first offsets of every batch not yet committed.
        """
        self._stop = stop
        self.consumer.subscribe([self.topics.events], on_assign=self._on_assign,
                                on_revoke=self._on_revoke, on_lost=self._on_lost)
        persister = ThreadPoolExecutor(max_workers=1, thread_name_prefix="analyzer-persist")
        heap.settle()  # the rules are loaded: keep them out of the collector's passes
        try:
            while not stop.is_set():
                self.router.reload()
                messages = self.consumer.consume(self.batch_size, self.poll_timeout)
                self._update_lag()
                in_flight = self._in_flight
                try:
                    batch = self.prepare(messages) if messages else None
                    if batch is not None and in_flight is not None:
                        batch = self._grow(batch, messages, in_flight)
                        in_flight = self._in_flight  # None if a revocation inside the growth committed it
                    if in_flight is not None and (batch is not None or in_flight.future.done()):
                        self._in_flight = None
                        self._commit(in_flight)
                except Exception as exc:
                    self._in_flight = None
                    uncommitted = [*(in_flight.batch.messages if in_flight else ()), *messages]
                    if not isinstance(exc, Abandoned):
                        log.exception("batch not committed, will redo it from its first offsets: %s", exc)
                        self.metrics.errors.labels(stage=type(exc).__name__).inc()
                    self._rewind(uncommitted)
                    stop.wait(self.retry.backoff.delay(1))
                    continue
                if batch is not None:
                    self._in_flight = _InFlight(batch, persister.submit(self.persist, batch))
                    self.health.busy()
            self._finish_in_flight()
        finally:
            persister.shutdown(wait=True)
            if self.alerts is not None:  # queued stories and webhooks: finished or dead-lettered
                self.alerts.close()
            self.producer.close()
            heap.release()
            closed = close_within(self.consumer, self.close_timeout)
        return closed

    def _grow(self, batch: PreparedBatch, messages: list[Message], in_flight: _InFlight) -> PreparedBatch:
        """While the previous batch is still being persisted, what the consumer has already fetched joins this one.

        Under load the persist thread sets the pace; growing the batch it gets next (up to ``max_batch_size``)
        spreads its per-batch costs (commit, alert transaction, Kafka and Redis round trips) over more events.
        When the persister keeps up, nothing is waiting and batches stay at ``batch_size``. ``messages`` is
        extended in place: on a failure the loop rewinds every message it holds. A rebalance inside
        ``consume`` stops the growth (what is held is stored and committed as any batch: at-least-once).
        """
        rebalances = self._rebalances
        while (not in_flight.future.done() and len(messages) < self.max_batch_size and not self._stop.is_set()
               and rebalances == self._rebalances):
            more = self.consumer.consume(min(self.batch_size, self.max_batch_size - len(messages)), 0)
            if not more:
                break
            messages.extend(more)
            batch = batch.joined(self.prepare(more))
        return batch

    def _finish_in_flight(self) -> None:
        """Wait for the batch being persisted; on failure its offsets stay uncommitted (redelivered)."""
        in_flight, self._in_flight = self._in_flight, None
        if in_flight is None:
            return
        try:
            self._commit(in_flight)
        except Exception as exc:
            log.warning("in-flight batch not committed; its offsets will be redelivered: %s", describe(exc))
            self.metrics.errors.labels(stage=type(exc).__name__).inc()

    def _commit(self, in_flight: _InFlight) -> None:
        """Offsets are committed here, on the consuming thread (librdkafka's consumer is not shared)."""
        in_flight.future.result()
        self._committed.update(commit_offsets(self.consumer, in_flight.batch.messages))
        self.health.committed()
        self.metrics.last_commit.set(time.time())

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self._rebalances += 1
        self._abandon.clear()
        _log_partitions("assigned")(consumer, partitions)

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        """Commit what is in flight while the partitions are still ours, so the next owner starts after it.

        A batch stuck in infrastructure retries is abandoned instead: the next owner redoes it.
        """
        self._rebalances += 1
        self._release_in_flight()
        self._forget(partitions)
        _log_partitions("revoked")(consumer, partitions)

    def _on_lost(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self._rebalances += 1
        self._release_in_flight()
        self._forget(partitions)
        _log_partitions("lost")(consumer, partitions)

    def _forget(self, partitions: list[TopicPartition]) -> None:
        """Another member may commit these now: their next lag read asks the group coordinator again."""
        for tp in partitions:
            self._committed.pop((tp.topic, tp.partition), None)

    def _release_in_flight(self) -> None:
        self._abandon.set()
        try:
            self._finish_in_flight()
        finally:
            self._abandon.clear()

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
        """Lag = end of each assigned partition minus the group's committed offset (what is really waiting).

        Committed offsets are the ones this worker committed itself; the group coordinator is asked
        only for partitions it has not committed since they were assigned (a blocking round trip,
        kept off the steady state: asked every few seconds it cost the p99 latency). Tansu's high
        watermark can trail the true end slightly; negative differences count as 0.
        """
        now = time.monotonic()
        if now < self._next_lag:
            return
        self._next_lag = now + self.lag_interval
        try:
            assignment = self.consumer.assignment()
            unknown = [tp for tp in assignment if (tp.topic, tp.partition) not in self._committed]
            if unknown:
                for tp in self.consumer.committed(unknown, timeout=2):
                    if tp.offset >= 0:
                        self._committed[(tp.topic, tp.partition)] = tp.offset
            total = 0
            for tp in assignment:
                # The fetcher's cached watermark first: Tansu answers ListOffsets(latest) wrongly
                # (seen: 1 for a partition holding 12 records), its fetch responses rightly.
                low, high = self.consumer.get_watermark_offsets(tp, cached=True)
                if high < 0:
                    low, high = self.consumer.get_watermark_offsets(tp, timeout=2, cached=False)
                if high < 0:
                    continue
                start = self._committed.get((tp.topic, tp.partition), max(low, 0))
                total += max(0, high - start)
            self._lag = total
            self.metrics.lag.set(total)
            self.health.lag(total)
        except Exception as exc:
            log.debug("lag read failed: %s", exc)

    # ---- retries and isolation --------------------------------------------------------------
    def _retry_wait(self, stage: str, attempt: int, exc: BaseException) -> None:
        """Back off before the next attempt; gives up (``Abandoned``) on stop or revocation."""
        delay = self.retry.backoff.delay(attempt)
        self.metrics.retries.labels(kind=FaultKind.INFRASTRUCTURE.value).inc()
        self.metrics.errors.labels(stage=type(exc).__name__).inc()
        log.warning("%s failed (attempt %d, infrastructure: %s); retrying the same batch in %.2fs",
                    stage, attempt, describe(exc), delay)
        deadline = time.monotonic() + delay
        while (left := deadline - time.monotonic()) > 0:
            if self._stop.is_set() or self._abandon.is_set():
                raise Abandoned(f"{stage}: gave up the batch during retries ({describe(exc)})")
            self._abandon.wait(min(left, 0.1))
        if self._stop.is_set() or self._abandon.is_set():
            raise Abandoned(f"{stage}: gave up the batch during retries ({describe(exc)})")

    def _run_stage(self, stage: str, items: Sequence[T], action: Callable[[Sequence[T]], R],
                   probe: Callable[[], bool]) -> tuple[list[tuple[Sequence[T], R]], list[tuple[T, BaseException]]]:
        """``action(items)``, retried on infrastructure faults and isolated on record faults.

        Returns the parts that succeeded with their results, and the records that failed alone.
        """
        attempt = 0
        while True:
            try:
                return [(items, action(items))], []
            except Exception as exc:
                attempt += 1
                if classify(exc) is FaultKind.INFRASTRUCTURE and attempt < self.retry.max_attempts:
                    self._retry_wait(stage, attempt, exc)
                    continue
                self.metrics.retries.labels(kind=FaultKind.RECORD.value).inc()
                self.metrics.errors.labels(stage=type(exc).__name__).inc()
                log.warning("%s failed for a batch of %d (attempt %d: %s); isolating the records at fault",
                            stage, len(items), attempt, describe(exc))
                try:
                    found = isolate(items, action, probe)
                except InfrastructureDown as down:
                    self._retry_wait(stage, attempt, down.cause)
                    continue
                return found.done, found.poison

    def _dependencies_up(self) -> bool:
        return self.repository.ping() and self.state.ping() and self.producer.ping()

    # ---- one batch ------------------------------------------------------------------------
    def _is_replay(self, msg: Message) -> bool:
        """Seen before (a rewind or redelivery): counted as replayed, not consumed again."""
        key = (msg.topic(), msg.partition())
        offset = msg.offset()
        if offset is not None and offset <= self._highest.get(key, -1):
            return True
        if offset is not None:
            self._highest[key] = offset
        return False

    def _decode(self, msg: Message, now: datetime) -> SecurityEvent | Refused:
        """One message → event, or the stage and reason it is refused for. Never raises."""
        payload = msg.value()
        stage = "decode"
        try:
            try:
                event = decode_event(payload, self.limits.max_event_bytes)
                if payload_may_hold_nul(payload):
                    event = self._strip_nul(event)
            except EventDecodeError as exc:
                if exc.reason.startswith("oversized"):
                    return Refused(msg, stage, exc.reason)
                stage = "normalise" if h.header_value(msg.headers(), h.SOURCE_FORMAT) else "decode"
                raw_event, reason = normalize_raw_message(payload, msg.headers(), exc.reason)
                if raw_event is None:
                    return Refused(msg, stage, reason)
                event = self._strip_nul(raw_event)
            bounded = bound_time(event, self.limits.time_window, now)
            if bounded is not event:
                self.metrics.sanitized.labels(what="timestamp").inc()
            return bounded
        except Exception as exc:  # a normaliser or validator bug must cost one record, not the batch
            return Refused(msg, stage, describe(exc))

    def _strip_nul(self, event: SecurityEvent) -> SecurityEvent:
        cleaned = strip_nul(event)
        if cleaned is not event:
            self.metrics.sanitized.labels(what="nul").inc()
        return cleaned

    def prepare(self, messages: Sequence[Message]) -> PreparedBatch:
        """Decode and analyse: CPU work with no side effect outside the shared rule windows."""
        started = time.perf_counter()
        now = datetime.now(UTC)
        good: list[Message] = []
        events: list[SecurityEvent] = []
        sources: list[Message] = []
        produced: list[float | None] = []
        refused: list[Refused] = []
        seen_ids: set[object] = set()
        replays = 0
        for msg in messages:
            err = msg.error()
            if err is not None:
                if err.code() != KafkaError._PARTITION_EOF:
                    log.warning("consume error: %s", err)
                continue
            good.append(msg)
            replays += self._is_replay(msg)
            decoded = self._decode(msg, now)
            if isinstance(decoded, Refused):
                refused.append(decoded)
                continue
            if decoded.event_id in seen_ids:
                continue
            seen_ids.add(decoded.event_id)
            events.append(decoded)
            sources.append(msg)
            produced.append(h.produced_at(msg.headers()))
        if good:
            self.metrics.consumed.inc(len(good) - replays)
            if replays:
                self.metrics.replayed.inc(replays)
            self.health.busy()
        items: list[AnalyzedEvent] = []
        kept: list[Message] = []
        kept_produced: list[float | None] = []
        if events:
            context = RoutingContext(consumer_lag=self._lag)
            done, poison = self._run_stage(
                "analyze", list(range(len(events))),
                lambda idx: self.router.analyze_documents([events[i] for i in idx], context), self.state.ping)
            verdict_of: dict[int, tuple[Verdict, dict[str, Any]]] = {}
            for idx, (verdicts, documents) in done:
                verdict_of.update(zip(idx, zip(verdicts, documents, strict=True), strict=True))
            for i, exc in poison:
                refused.append(Refused(sources[i], "analyze", describe(exc)))
            for i, event in enumerate(events):
                if i in verdict_of:
                    verdict, document = verdict_of[i]
                    items.append(AnalyzedEvent(event, verdict, _epoch_to_dt(produced[i]), document))
                    kept.append(sources[i])
                    kept_produced.append(produced[i])
        return PreparedBatch(good, items, kept, refused, kept_produced, started)

    def persist(self, batch: PreparedBatch) -> BatchOutcome:
        """Store, publish, dead-letter, wait for Kafka's acks: the side effects that must precede the commit."""
        refused = list(batch.refused)
        source_of = {id(item): msg for item, msg in zip(batch.items, batch.sources, strict=True)}
        stored = duplicates = 0
        published: list[AnalyzedEvent] = []
        if batch.items:
            done, poison = self._run_stage("store", batch.items, self.repository.store, self.repository.ping)
            stored = sum(n for _part, n in done)
            refused += [Refused(source_of[id(item)], "store", describe(exc)) for item, exc in poison]
            storable = [item for part, _n in done for item in part]
            duplicates = len(storable) - stored
            if self.alerts is not None and storable:  # replays too: counting is idempotent (alerts/stage.py)
                _counted, poison_alert = self._run_stage("alert", storable, self.alerts.process,
                                                         self.repository.ping)
                refused += [Refused(source_of[id(item)], "alert", describe(exc)) for item, exc in poison_alert]
                failed = {id(item) for item, _exc in poison_alert}
                storable = [item for item in storable if id(item) not in failed]
            done_pub, poison_pub = self._run_stage("publish", storable, self._publish, self._dependencies_up)
            published = [item for part, _ in done_pub for item in part]
            refused += [Refused(source_of[id(item)], "publish", describe(exc)) for item, exc in poison_pub]
        if refused:
            _done, lost = self._run_stage("dead-letter", [refused], lambda parts: self._dead_letter_all(parts[0]),
                                          self.producer.ping)
            if lost:  # cannot happen with the minimal fallback letter; never commit past a lost record
                raise RuntimeError(f"dead-lettering failed: {describe(lost[0][1])}")
        outcome = BatchOutcome(consumed=len(batch.messages), analyzed=len(batch.items), stored=stored,
                               dead_lettered=len(refused), duplicates=duplicates,
                               verdicts=[i.verdict for i in published])
        self._observe(outcome, batch.produced, time.perf_counter() - batch.started)
        return outcome

    def _dead_letter_all(self, refused: Sequence[Refused]) -> None:
        for item in refused:
            msg = item.msg
            origin = f"{msg.topic()}/{msg.partition()}/{msg.offset()}"
            letter = dead_letter(msg.value(), msg.key(), msg.headers(), stage=item.stage, reason=item.reason,
                                 origin=origin, max_bytes=self.limits.dlq_max_bytes)
            try:
                self.producer.produce(self.topics.dlq, letter.value, key=letter.key, headers=letter.headers)
            except KafkaException as exc:  # e.g. huge original headers: send the minimal letter instead
                if classify(exc) is not FaultKind.RECORD:
                    raise
                minimal = dead_letter(msg.value(), None, None, stage=item.stage, reason=item.reason,
                                      origin=origin, max_bytes=min(1024, self.limits.dlq_max_bytes))
                self.producer.produce(self.topics.dlq, minimal.value, headers=minimal.headers)
        self.producer.flush_or_raise()
        for item in refused:
            self.metrics.dlq.labels(stage=item.stage, reason=reason_kind(item.reason)).inc()
            log.warning("dead-lettered %s/%d/%d at %s: %s", item.msg.topic(), item.msg.partition(),
                        item.msg.offset(), item.stage, item.reason[:300])

    def _publish(self, items: Sequence[AnalyzedEvent]) -> int:
        """Results topic + live feed, acknowledged; a record the producer refuses fails alone in isolation."""
        if not items:
            return 0
        payloads = [feed_item_bytes(i.event, i.verdict) for i in items]
        for item, payload in zip(items, payloads, strict=True):
            self.producer.produce(self.topics.results, payload, key=str(item.event.event_id))
        self.state.feed(RECENT_VERDICTS_STREAM, VERDICTS_CHANNEL, [p.decode() for p in payloads], self.recent_maxlen)
        self.producer.flush_or_raise()
        return len(items)

    def _observe(self, outcome: BatchOutcome, produced: Sequence[float | None], seconds: float) -> None:
        m = self.metrics
        m.batch_seconds.observe(seconds)
        m.batch_size.observe(outcome.consumed)
        m.stored.inc(outcome.stored)
        m.duplicates.inc(outcome.duplicates)
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
