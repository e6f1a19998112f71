"""Pure builders: a pipeline spec in, the list of child manifests out (no cluster access).

Why: everything the operator creates is decided here, so it can be unit-tested and validated
against upstream schemas without Kubernetes.
"""

from __future__ import annotations

from typing import Any

from secustream_operator.builders import (
    autoscaling,
    config,
    disruption,
    kafka,
    retention,
    services,
    training,
    workloads,
)
from secustream_operator.builders.common import Context


def analyzer_replicas(spec: dict[str, Any], current_desired: int | None) -> int | None:
    """Replicas written into the analyzer Deployment.

    keda: ``None`` (the HPA owns the field after creation); builtin: the autoscaler's last
    decision clamped to bounds; none: ``min``.
    """
    lo, hi = autoscaling.bounds(spec)
    mode = spec["analyzer"]["autoscaling"]["mode"]
    if mode == "keda":
        return None
    if mode == "builtin" and current_desired is not None:
        return max(lo, min(hi, current_desired))
    return lo


def build_children(name: str, namespace: str, spec: dict[str, Any],
                   current_desired: int | None = None) -> list[dict[str, Any]]:
    """Every child manifest of a (defaulted, validated) pipeline spec, without owner refs."""
    ctx = Context(name=name, namespace=namespace, spec=spec, checksum=config.checksum(spec))
    out: list[dict[str, Any]] = [*config.build_configmaps(ctx)]
    if spec["generator"]["enabled"]:
        out.append(workloads.generator(ctx))
    out.append(workloads.api(ctx))
    replicas = analyzer_replicas(spec, current_desired)
    analyzer = workloads.analyzer(ctx, replicas if replicas is not None else autoscaling.bounds(spec)[0])
    out.append(analyzer)
    out += services.build_services(ctx)
    out += disruption.build_pdbs(ctx)
    out += autoscaling.build_scaled_object(ctx)
    out += kafka.build_topics(ctx)
    out += training.build_training(ctx)
    out += retention.build_retention(ctx)
    return out
