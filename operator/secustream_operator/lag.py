"""Read consumer-group lag with confluent-kafka's admin API.

Why separate: this is the only module that talks to Kafka; ``scaling`` stays pure. Every call
is bounded by a timeout so an unreachable broker yields :class:`LagUnavailable`, not a hang.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from confluent_kafka import ConsumerGroupTopicPartitions, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient, OffsetSpec

from secustream_operator.scaling import lag_from_offsets

_LOG = logging.getLogger("secustream_operator.kafka")  # librdkafka logs go through logging, not stderr


class LagUnavailable(RuntimeError):
    """The broker could not be asked (unreachable, unknown topic, timeout)."""


@dataclass(frozen=True)
class LagReading:
    lag: int
    partitions: int


def read_lag(bootstrap: str, topic: str, group: str, timeout: float = 5.0) -> LagReading:
    """Total lag of ``group`` on ``topic`` and the topic's partition count."""
    admin = AdminClient({"bootstrap.servers": bootstrap, "socket.timeout.ms": int(timeout * 1000),
                         "client.id": "secustream-operator", "logger": _LOG})
    try:
        meta = admin.list_topics(topic, timeout=timeout)
        info = meta.topics.get(topic)
        if info is None or info.error is not None or not info.partitions:
            raise LagUnavailable(f"topic {topic!r} not found: {getattr(info, 'error', None)}")
        tps = [TopicPartition(topic, p) for p in sorted(info.partitions)]
        high_f = admin.list_offsets({tp: OffsetSpec.latest() for tp in tps}, request_timeout=timeout)
        low_f = admin.list_offsets({tp: OffsetSpec.earliest() for tp in tps}, request_timeout=timeout)
        high = {tp.partition: f.result().offset for tp, f in high_f.items()}
        low = {tp.partition: f.result().offset for tp, f in low_f.items()}
        group_f = admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(group, tps)],
                                                    request_timeout=timeout)
        committed: dict[int, int] = {}
        for fut in group_f.values():
            for tp in fut.result().topic_partitions or []:
                committed[tp.partition] = tp.offset
    except LagUnavailable:
        raise
    except (KafkaException, RuntimeError, ValueError) as exc:
        raise LagUnavailable(str(exc)) from exc
    return LagReading(lag=lag_from_offsets(low, high, committed), partitions=len(tps))
