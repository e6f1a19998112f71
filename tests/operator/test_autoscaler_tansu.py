"""Builtin autoscaler end to end: real Kafka lag (Tansu broker) -> the operator scales the analyzer.

Produce without consuming: replicas rise, within max and capped by the partition count. Consume
and commit: after the cooldown they fall back to min. An unreachable broker keeps replicas and
sets Degraded. Runs the real operator (KopfRunner) against the kmock emulator.
"""

from __future__ import annotations

import asyncio
import time
import urllib.request
from typing import Any

import pytest
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, NewTopic

from secustream_operator.lag import LagUnavailable, read_lag
from tests.operator.conftest import free_port
from tests.operator.kopf_env import Api, declare, env, eventually, pipeline, running_operator, secret
from tests.operator.specs import spec

TOPIC, GROUP, PARTITIONS, MESSAGES = "security-events", "secustream-analyzer", 4, 600


def create_topic(bootstrap: str, topic: str = TOPIC) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for fut in admin.create_topics([NewTopic(topic, PARTITIONS, 1)]).values():
        fut.result(10)


def produce(bootstrap: str, n: int, topic: str = TOPIC) -> None:
    # One record per batch: Tansu's high watermark trails by the last batch, keep that small.
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 0, "batch.num.messages": 1})
    for i in range(n):
        producer.produce(topic, key=f"10.0.0.{i % 50}", value=b"{}")
    assert producer.flush(30) == 0


def consume_all(bootstrap: str, n: int) -> int:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": GROUP, "auto.offset.reset": "earliest",
                         "enable.auto.commit": False, "session.timeout.ms": 6000, "heartbeat.interval.ms": 500})
    consumer.subscribe([TOPIC])
    seen, deadline = 0, time.monotonic() + 60
    try:
        while seen < n and time.monotonic() < deadline:
            batch = consumer.consume(500, 1.0)
            if batch:
                seen += len(batch)
                consumer.commit(asynchronous=False)
    finally:
        consumer.close()
    return seen


def test_read_lag_against_real_broker(kafka_broker: str) -> None:
    create_topic(kafka_broker, "lag-probe")
    produce(kafka_broker, 100, "lag-probe")
    reading = read_lag(kafka_broker, "lag-probe", GROUP)
    assert reading.partitions == PARTITIONS
    assert 90 <= reading.lag <= 100, "no commits yet: everything is lag (watermark may trail a little)"
    with pytest.raises(LagUnavailable):
        read_lag(f"127.0.0.1:{free_port()}", TOPIC, GROUP, timeout=1)


@pytest.mark.asyncio
async def test_builtin_autoscaler_follows_lag(kmock: Any, monkeypatch: Any, kafka_broker: str) -> None:
    await asyncio.to_thread(create_topic, kafka_broker)
    await asyncio.to_thread(produce, kafka_broker, 100)
    metrics_port = free_port()
    declare(kmock)
    env(monkeypatch, kmock, resync="2", SECUSTREAM_OPERATOR_METRICS_PORT=str(metrics_port))
    for obj in (secret("demo-db-app", "uri"), secret("secustream-jwt", "secret")):
        kmock.objects["v1/secrets", "ns1", obj["metadata"]["name"]] = obj
    autoscaled = spec(**{"kafka.bootstrapServers": kafka_broker, "kafka.partitions": PARTITIONS,
                         "analyzer.replicas": {"min": 1, "max": 12},
                         "analyzer.autoscaling": {"mode": "builtin", "lagThreshold": 50,
                                                  "pollingIntervalSeconds": 1, "cooldownSeconds": 4}})
    # max (3) below the partition count: the other bound
    bounded = spec(**{"kafka.bootstrapServers": kafka_broker, "kafka.partitions": PARTITIONS,
                      "kafka.consumerGroup": "other-group", "analyzer.replicas": {"min": 1, "max": 3},
                      "analyzer.autoscaling": {"mode": "builtin", "lagThreshold": 50, "pollingIntervalSeconds": 1,
                                               "cooldownSeconds": 4}})
    unreachable = spec(**{"kafka.bootstrapServers": f"127.0.0.1:{free_port()}",
                          "analyzer.replicas": {"min": 2, "max": 5},
                          "analyzer.autoscaling": {"mode": "builtin", "pollingIntervalSeconds": 1}})
    kmock.objects["secustream.io/v1alpha1/secustreampipelines", "ns1", "demo"] = pipeline("demo", autoscaled, "u1")
    kmock.objects["secustream.io/v1alpha1/secustreampipelines", "ns1", "capped"] = pipeline("capped", bounded, "u2")
    kmock.objects["secustream.io/v1alpha1/secustreampipelines", "ns1", "lost"] = pipeline("lost", unreachable, "u3")
    api = Api(str(kmock.url))

    async def replicas(name: str) -> int | None:
        dep = await api.get("apps/v1", "Deployment", f"{name}-analyzer")
        return dep["spec"]["replicas"] if dep else None

    async with running_operator():
        # 100 unread messages / lagThreshold 50 -> 2
        await eventually(lambda: _eq(replicas("demo"), 2), what="2 analyzers for lag ~100")
        await asyncio.to_thread(produce, kafka_broker, MESSAGES)
        # lag ~700 / 50 = 14 > max 12 > partitions 4  -> 4
        await eventually(lambda: _eq(replicas("demo"), PARTITIONS), what="scale up capped by partitions")
        scaled_up_seen = time.monotonic()
        await eventually(lambda: _eq(replicas("capped"), 3), what="scale up capped by max")

        # Kopf applies the status patch after the handler returns, so after the Deployment's replicas
        async def analyzer_status() -> dict[str, Any]:
            obj = await api.get("secustream.io/v1alpha1", "SecuStreamPipeline", "demo")
            return dict(((obj or {}).get("status") or {}).get("analyzer") or {})

        async def status_shows_scale_up() -> bool:
            return (await analyzer_status()).get("desiredReplicas") == PARTITIONS
        await eventually(status_shows_scale_up, what="status shows the scale-up")
        status = await analyzer_status()
        assert status["consumerLag"] >= 600
        assert status["lastScaleTime"] and status["partitions"] == PARTITIONS

        # the unreachable broker: replicas kept at min, Degraded/KafkaUnreachable
        async def lost_degraded() -> bool:
            obj = await api.get("secustream.io/v1alpha1", "SecuStreamPipeline", "lost")
            conds = {c["type"]: c for c in ((obj or {}).get("status") or {}).get("conditions") or []}
            return conds.get("Degraded", {}).get("reason") == "KafkaUnreachable"
        await eventually(lost_degraded, what="Degraded on unreachable broker")
        assert await replicas("lost") == 2

        # consumption catches up; after the cooldown the analyzers fall back to min
        assert await replicas("demo") == PARTITIONS, "no scale-down while the lag is still there"
        consumed = await asyncio.to_thread(consume_all, kafka_broker, 100 + MESSAGES)
        assert consumed == 100 + MESSAGES
        await eventually(lambda: _eq(replicas("demo"), 1), timeout=30, what="scale down to min")
        # cooldown (4 s) counts from the last scale-up; allow for the probe's polling granularity
        assert time.monotonic() - scaled_up_seen >= 3.0, "scaled down before the cooldown passed"

        async def status_caught_up() -> bool:
            return (await analyzer_status()).get("consumerLag") == 0
        await eventually(status_caught_up, timeout=30, what="status shows the lag caught up")

        body = await asyncio.to_thread(
            lambda: urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).read().decode())
        assert 'secustream_operator_scale_decisions_total{direction="up",namespace="ns1",pipeline="demo"}' in body
        assert 'secustream_operator_scale_decisions_total{direction="down",namespace="ns1",pipeline="demo"}' in body
        assert "secustream_operator_reconciles_total" in body
        assert 'secustream_operator_lag_read_errors_total{namespace="ns1",pipeline="lost"}' in body


async def _eq(value: Any, expected: Any) -> bool:
    return (await value) == expected
