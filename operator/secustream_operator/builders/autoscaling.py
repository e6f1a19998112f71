"""KEDA ScaledObject for ``autoscaling.mode: keda``.

Why: KEDA's Kafka scaler computes ceil(lag / lagThreshold) itself and caps at the partition
count; the HPA behaviour block gives the same "up at once, down after cooldown" stabilisation
as the builtin autoscaler.
"""

from __future__ import annotations

from typing import Any

from secustream_operator import naming
from secustream_operator.builders.common import Context


def bounds(spec: dict[str, Any]) -> tuple[int, int]:
    """(min, max) analyzer replicas, with max capped at the partition count."""
    replicas = spec["analyzer"]["replicas"]
    hi = min(replicas["max"], spec["kafka"]["partitions"])
    return min(replicas["min"], hi), hi


def build_scaled_object(ctx: Context) -> list[dict[str, Any]]:
    spec = ctx.spec
    scaling = spec["analyzer"]["autoscaling"]
    if scaling["mode"] != "keda":
        return []
    lo, hi = bounds(spec)
    kafka = spec["kafka"]
    return [{
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": ctx.meta("analyzer"),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment",
                               "name": naming.child_name(ctx.name, "analyzer")},
            "minReplicaCount": lo,
            "maxReplicaCount": hi,
            "pollingInterval": scaling["pollingIntervalSeconds"],
            "cooldownPeriod": max(scaling["cooldownSeconds"], 1),
            "advanced": {"horizontalPodAutoscalerConfig": {"behavior": {
                "scaleUp": {"stabilizationWindowSeconds": 0,
                            "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}]},
                "scaleDown": {"stabilizationWindowSeconds": scaling["cooldownSeconds"],
                              "policies": [{"type": "Percent", "value": 50, "periodSeconds": 30}]},
            }}},
            "triggers": [{
                "type": "kafka",
                "metadata": {
                    "bootstrapServers": str(kafka["bootstrapServers"]),
                    "consumerGroup": kafka["consumerGroup"],
                    "topic": kafka["topic"],
                    "lagThreshold": str(scaling["lagThreshold"]),
                    "activationLagThreshold": str(scaling["activationLagThreshold"]),
                    "offsetResetPolicy": scaling["offsetResetPolicy"],
                },
            }],
        },
    }]
