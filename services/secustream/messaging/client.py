"""confluent-kafka clients with the settings we rely on spelled out in one place."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer, TopicPartition

log = logging.getLogger(__name__)


def producer_config(bootstrap: str, client_id: str, **extra: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "bootstrap.servers": bootstrap,
        "client.id": client_id,
        "enable.idempotence": False,  # Tansu and small clusters; rows are idempotent by event id anyway
        "acks": "all",
        "linger.ms": 5,
        "batch.num.messages": 10000,
        "queue.buffering.max.messages": 500000,
        "compression.type": "lz4",
        "message.timeout.ms": 60000,
    }
    config.update(extra)
    return config


def consumer_config(bootstrap: str, group: str, client_id: str, session_timeout_ms: int = 6000,
                    **extra: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "bootstrap.servers": bootstrap,
        "group.id": group,
        "client.id": client_id,
        "enable.auto.commit": False,  # we commit only after verdicts are stored and published
        "auto.offset.reset": "earliest",
        "session.timeout.ms": session_timeout_ms,
        "heartbeat.interval.ms": max(100, min(3000, session_timeout_ms // 6)),
        "max.poll.interval.ms": 300000,
        "partition.assignment.strategy": "cooperative-sticky",
        "fetch.wait.max.ms": 100,
        "queued.min.messages": 20000,
    }
    config.update(extra)
    return config


class DeliveryTracker:
    """Counts delivery reports so callers can refuse to commit when a publish failed."""

    def __init__(self, on_error: Callable[[KafkaError], None] | None = None) -> None:
        self._lock = threading.Lock()
        self.delivered = 0
        self.failed = 0
        self.last_error: KafkaError | None = None
        self._on_error = on_error

    def __call__(self, err: KafkaError | None, _msg: Message) -> None:
        with self._lock:
            if err is None:
                self.delivered += 1
                return
            self.failed += 1
            self.last_error = err
        log.error("kafka delivery failed: %s", err)
        if self._on_error:
            self._on_error(err)


class PublishError(RuntimeError):
    pass


class TrackedProducer:
    """A producer whose ``flush_or_raise`` guarantees everything queued so far was acknowledged."""

    def __init__(self, config: dict[str, Any]) -> None:
        self._producer = Producer(config)
        self.tracker = DeliveryTracker()
        self._closed = False

    def produce(self, topic: str, value: bytes, key: bytes | str | None = None,
                headers: Sequence[tuple[str, bytes]] | None = None, partition: int | None = None) -> None:
        kwargs: dict[str, Any] = {"key": key, "headers": list(headers or ()), "on_delivery": self.tracker}
        if partition is not None:
            kwargs["partition"] = partition
        while True:
            try:
                self._producer.produce(topic, value, **kwargs)
                return
            except BufferError:
                self._producer.poll(0.05)  # local queue full: let deliveries drain, then retry

    def poll(self, timeout: float = 0) -> None:
        self._producer.poll(timeout)

    def ping(self, timeout: float = 2.0) -> bool:
        """Can the cluster be reached at all? (Tells a broker outage from a record the broker refuses.)"""
        try:
            self._producer.list_topics(timeout=timeout)
            return True
        except Exception:
            return False

    def flush_or_raise(self, timeout: float = 30.0) -> None:
        failed_before = self.tracker.failed
        remaining = self._producer.flush(timeout)
        if remaining:
            raise PublishError(f"{remaining} messages still undelivered after {timeout}s")
        if self.tracker.failed != failed_before:
            raise PublishError(f"delivery failed: {self.tracker.last_error}")

    def close(self, timeout: float = 10.0) -> None:
        """Flush, then release librdkafka's threads and connections (so a broker stopped afterwards, as under
        `secustream up`, does not make them log reconnect failures)."""
        if self._closed:
            return
        self._closed = True
        self._producer.flush(timeout)
        self._producer.close()


def commit_offsets(consumer: Consumer, messages: Sequence[Message]) -> dict[tuple[str, int], int]:
    """Synchronously commit next-offsets (max offset + 1) per partition of the processed batch; returns them."""
    latest: dict[tuple[str, int], int] = {}
    for msg in messages:
        key = (msg.topic(), msg.partition())
        offset = msg.offset()
        if offset is not None and offset >= latest.get(key, -1):
            latest[key] = offset
    if not latest:
        return {}
    offsets = [TopicPartition(t, p, o + 1) for (t, p), o in latest.items()]
    try:
        consumer.commit(offsets=offsets, asynchronous=False)
    except KafkaException as exc:
        err = exc.args[0] if exc.args else None
        if isinstance(err, KafkaError) and err.code() == KafkaError._NO_OFFSET:
            return {}
        raise
    return {key: offset + 1 for key, offset in latest.items()}


def close_within(consumer: Consumer, timeout: float) -> bool:
    """Close ``consumer`` (leave the group), giving up after ``timeout`` seconds; True when it closed.

    A leave that lands in a group rebalance waits for the rebalance to end: two analyzer replicas
    stopped together were seen to hold one close past 30 s, beyond what an orchestrator waits
    before SIGKILL. Callers commit their offsets first, so a member gone without its leave costs
    the others one session timeout, not data. The close goes on in a daemon thread; a caller that
    gets False should end the process rather than touch the consumer again.
    """
    def close() -> None:
        try:
            consumer.close()
        except Exception as exc:  # a thread's exception would otherwise go to stderr unformatted
            log.warning("Kafka consumer close failed: %s", exc)

    closer = threading.Thread(target=close, name="kafka-consumer-close", daemon=True)
    closer.start()
    closer.join(timeout)
    if closer.is_alive():
        log.warning("Kafka consumer did not leave its group within %.0f s (a rebalance in progress); its offsets "
                    "are committed, so it stops without waiting: the group reassigns its partitions after the "
                    "session timeout", timeout)
        return False
    return True
