"""Strimzi KafkaTopic CRs (``kafka.strimzi.io/v1``) for the pipeline's three topics.

Why: with ``spec.kafka.strimziCluster`` the pipeline owns its topics declaratively, with the
partition count the autoscaler caps at. Object names are per pipeline; ``spec.topicName``
carries the real Kafka topic name.
"""

from __future__ import annotations

from typing import Any

from secustream_operator.builders.common import Context

ROLES = {"events": "topic", "results": "resultsTopic", "dlq": "deadLetterTopic"}


def build_topics(ctx: Context) -> list[dict[str, Any]]:
    kafka = ctx.spec["kafka"]
    cluster = kafka.get("strimziCluster")
    if not cluster:
        return []
    out = []
    for role, key in ROLES.items():
        meta = ctx.meta("kafka", name=f"{ctx.name}-{role}")
        meta["labels"]["strimzi.io/cluster"] = cluster
        partitions = kafka["partitions"] if role != "dlq" else min(kafka["partitions"], 3)
        config: dict[str, Any] = {"retention.ms": 7 * 24 * 3600 * 1000}
        if role == "dlq":
            config["retention.ms"] = 30 * 24 * 3600 * 1000
        out.append({
            "apiVersion": "kafka.strimzi.io/v1",
            "kind": "KafkaTopic",
            "metadata": meta,
            "spec": {"topicName": kafka[key], "partitions": partitions,
                     "replicas": kafka["replicationFactor"], "config": config},
        })
    return out
