"""Paces a scenario generator onto Kafka at a target rate; labels go only to headers and the label sink.

The label store (PostgreSQL) is a side channel: when it is down, events are still produced and the
labels of that time are counted as lost (``secustream_generator_labels_failed_total``), with one
warning per outage; writes are retried with a growing back-off and resume when it returns.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from uuid import UUID

from secustream.events import encode_event, grouping_key
from secustream.generator.engine import EventGenerator, GeneratedEvent
from secustream.messaging import headers as h
from secustream.messaging.client import TrackedProducer
from secustream.metrics import GeneratorMetrics
from secustream.state import RECENT_EVENTS_STREAM, StateStore

log = logging.getLogger(__name__)

LabelSink = Callable[[Sequence[tuple[UUID, str, str | None]]], None]

LABEL_CONNECT_TIMEOUT_S = 3
"""How long one label write may wait for a connection: a dead database costs the produce loop no more."""
LABEL_STATEMENT_TIMEOUT_MS = 5000


class GuardedLabelSink:
    """A label sink that never raises: a failed write is counted and dropped, and the store is left
    alone for a back-off (1 s, doubling to ``max_backoff``) so an outage cannot slow the produce loop.

    One warning when an outage starts, one info line when writes succeed again.
    """

    def __init__(self, sink: LabelSink, metrics: GeneratorMetrics | None = None, max_backoff: float = 30.0,
                 down: str | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self._sink = sink
        self._metrics = metrics
        self._max_backoff = max_backoff
        self._clock = clock
        self.failed = 0
        self._backoff = 0.0
        self._retry_at = 0.0
        self._down_since: float | None = None
        self._failed_before_outage = 0
        if down is not None:  # known to be down already (the caller said so): no second warning
            self._mark_down(clock(), down, warn=False)

    @property
    def down(self) -> bool:
        return self._down_since is not None

    def __call__(self, labels: Sequence[tuple[UUID, str, str | None]]) -> None:
        if not labels:
            return
        now = self._clock()
        if self.down and now < self._retry_at:
            self._drop(len(labels))
            return
        try:
            self._sink(labels)
        except Exception as exc:  # any failure of the side channel: count it, keep producing
            self._mark_down(now, _first_line(exc), warn=not self.down)
            self._drop(len(labels))
            return
        if self._down_since is not None:
            log.info("label store is back after %.0f s; %d labels could not be stored meanwhile",
                     now - self._down_since, self.failed - self._failed_before_outage)
            self._down_since, self._backoff = None, 0.0

    def _mark_down(self, now: float, reason: str, warn: bool) -> None:
        if warn:
            log.warning("label store unavailable (%s): producing on; labels are dropped and counted until a "
                        "retry (back-off up to %.0f s) succeeds", reason, self._max_backoff)
        if self._down_since is None:
            self._down_since, self._failed_before_outage = now, self.failed
        self._backoff = min(self._max_backoff, self._backoff * 2 or 1.0)
        self._retry_at = now + self._backoff

    def _drop(self, n: int) -> None:
        self.failed += n
        if self._metrics:
            self._metrics.labels_failed.inc(n)


def _first_line(exc: BaseException) -> str:
    cause = getattr(exc, "orig", None) or exc
    lines = str(cause).strip().splitlines()
    return f"{type(cause).__name__}: {lines[0][:200]}" if lines else type(cause).__name__


def open_label_store(database_url: str, metrics: GeneratorMetrics | None = None) -> GuardedLabelSink:
    """The generator's label sink on ``database_url``; an unreachable database is a warning, not an error.

    Why: labels are a training side channel, so ``generate`` must run (and its writes start) even
    when the database is down at start. A reachable database without the current schema is still
    refused (``SystemExit``): that is a misconfiguration, not an outage.
    """
    from sqlalchemy.exc import SQLAlchemyError

    from secustream.storage.database import make_engine
    from secustream.storage.migrate import require_schema
    from secustream.storage.repository import VerdictRepository

    options: dict[str, object] = {}
    if database_url.startswith("postgresql"):  # a blackholed or locked database must not hold the loop long
        options = {"pool_timeout": LABEL_CONNECT_TIMEOUT_S,
                   "connect_args": {"connect_timeout": LABEL_CONNECT_TIMEOUT_S,
                                    "options": f"-c statement_timeout={LABEL_STATEMENT_TIMEOUT_MS}"}}
    engine = make_engine(database_url, **options)
    store = VerdictRepository(engine).store_labels
    try:
        with engine.connect():
            pass
    except SQLAlchemyError as exc:
        reason = _first_line(exc)
        log.warning("label store unreachable at start (%s): generating without labels until it is reachable",
                    reason)
        return GuardedLabelSink(store, metrics, down=reason)
    require_schema(engine)
    return GuardedLabelSink(store, metrics)


def produce_generated(batch: Sequence[GeneratedEvent], producer: TrackedProducer, topic: str) -> list[str]:
    """Produce one batch; returns the JSON payloads (for the recent-events stream)."""
    now = str(time.time()).encode()
    payloads = []
    for item in batch:
        value = encode_event(item.event)
        headers = [(h.LABEL, item.label.value.encode()), (h.PRODUCED_AT, now)]
        if item.campaign_id:
            headers.append((h.CAMPAIGN, item.campaign_id.encode()))
        producer.produce(topic, value, key=grouping_key(item.event), headers=headers)
        payloads.append(value.decode())
    producer.poll(0)
    return payloads


def run_generator(generator: EventGenerator, producer: TrackedProducer, topic: str, rate: float,
                  stop: threading.Event, count: int | None = None, state: StateStore | None = None,
                  label_sink: LabelSink | None = None, metrics: GeneratorMetrics | None = None,
                  recent_maxlen: int = 10_000, tick: float = 0.02) -> int:
    """Produce at ``rate`` events/s until ``stop`` or ``count``; returns how many were produced.

    A ``label_sink`` that is not a ``GuardedLabelSink`` is wrapped in one: label failures never stop it.
    """
    if label_sink is not None and not isinstance(label_sink, GuardedLabelSink):
        label_sink = GuardedLabelSink(label_sink, metrics)
    produced = 0
    started = time.monotonic()
    if metrics:
        metrics.target_rate.set(rate)
    while not stop.is_set() and (count is None or produced < count):
        due = int((time.monotonic() - started) * rate) - produced
        if count is not None:
            due = min(due, count - produced)
        if due <= 0:
            stop.wait(tick)
            continue
        batch = generator.next_batch(min(due, 5000), now=datetime.now(UTC))
        payloads = produce_generated(batch, producer, topic)
        produced += len(batch)
        if state is not None:
            state.push_recent(RECENT_EVENTS_STREAM, payloads, recent_maxlen)
        if label_sink is not None:
            label_sink([(g.event.event_id, g.label.value, g.campaign_id) for g in batch])
        if metrics:
            for g in batch:
                metrics.produced.labels(source="generator", event_type=g.event.event_type.value).inc()
    producer.flush_or_raise()
    return produced
