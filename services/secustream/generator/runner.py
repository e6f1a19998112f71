"""Paces a scenario generator onto Kafka at a target rate; labels go only to headers and the label sink."""

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
    """Produce at ``rate`` events/s until ``stop`` or ``count``; returns how many were produced."""
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
