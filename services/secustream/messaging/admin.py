"""Topic creation and consumer-group lag through the Kafka admin/consumer APIs."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

log = logging.getLogger(__name__)


def ensure_topics(bootstrap: str, topics: Iterable[str], partitions: int, timeout: float = 30.0) -> None:
    """Create missing topics (idempotent) and wait until their metadata is visible."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    wanted = list(dict.fromkeys(topics))
    existing = set(admin.list_topics(timeout=timeout).topics)
    missing = [t for t in wanted if t not in existing]
    if missing:
        futures = admin.create_topics([NewTopic(t, num_partitions=partitions, replication_factor=-1) for t in missing])
        for topic, future in futures.items():
            try:
                future.result(timeout)
                log.info("created topic %s (%d partitions)", topic, partitions)
            except KafkaException as exc:
                if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                    raise
    deadline = time.monotonic() + timeout
    while True:
        metadata = admin.list_topics(timeout=timeout).topics
        if all(t in metadata and metadata[t].partitions and not metadata[t].error for t in wanted):
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"topics {wanted} not ready after {timeout}s")
        time.sleep(0.2)


@dataclass(frozen=True)
class GroupLag:
    total: int
    partitions: dict[int, int]


def partition_lag(high_watermark: int, committed: int) -> int:
    """Lag of one partition; a trailing watermark (seen on Tansu) never gives negative lag."""
    if committed < 0:  # nothing committed yet: everything from the low end is lag
        committed = 0
    return max(0, high_watermark - committed)


def group_lag(bootstrap: str, group: str, topic: str, timeout: float = 10.0) -> GroupLag:
    """Committed-offset lag of ``group`` on ``topic`` (what KEDA's kafka scaler also reads)."""
    probe = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False})
    try:
        meta = probe.list_topics(topic, timeout=timeout).topics.get(topic)
        if meta is None or meta.error is not None:
            raise KafkaException(meta.error if meta else KafkaError(KafkaError.UNKNOWN_TOPIC_OR_PART))
        tps = [TopicPartition(topic, p) for p in sorted(meta.partitions)]
        committed = probe.committed(tps, timeout=timeout)
        lags: dict[int, int] = {}
        for tp in committed:
            low, high = probe.get_watermark_offsets(TopicPartition(topic, tp.partition), timeout=timeout)
            start = tp.offset if tp.offset >= 0 else low
            lags[tp.partition] = partition_lag(high, start)
        return GroupLag(sum(lags.values()), lags)
    finally:
        probe.close()
