"""Status of a pipeline from what the reconcile observed: phase, conditions, components.

Why pure: the mapping from observations to Ready/Progressing/Degraded is policy, tested
without a cluster; handlers only collect the observations and patch the result.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from secustream_operator import naming


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Observation:
    generation: int
    spec_errors: Sequence[str] = ()
    apply_errors: Sequence[str] = ()
    missing_apis: Sequence[str] = ()
    missing_secrets: Sequence[str] = ()
    lag_error: str | None = None
    components: Mapping[str, Mapping[str, int]] = field(default_factory=dict)


def components(pipeline: str, live: Mapping[str, Mapping[str, Any]],
               enabled: Sequence[str]) -> dict[str, dict[str, int]]:
    """desired/ready replicas of each enabled workload from the live Deployments."""
    out: dict[str, dict[str, int]] = {}
    for component in enabled:
        obj = live.get(f"Deployment/{naming.child_name(pipeline, component)}") or {}
        desired = int((obj.get("spec") or {}).get("replicas") or 0)
        ready = int((obj.get("status") or {}).get("readyReplicas") or 0)
        out[component] = {"desired": desired, "ready": ready}
    return out


def _condition(prev: Mapping[str, Mapping[str, Any]], ctype: str, ok: bool, reason: str, message: str,
               generation: int) -> dict[str, Any]:
    status = "True" if ok else "False"
    old = prev.get(ctype) or {}
    since = old.get("lastTransitionTime") if old.get("status") == status else None
    return {"type": ctype, "status": status, "reason": reason, "message": message[:1000],
            "lastTransitionTime": since or now_iso(), "observedGeneration": generation}


def degraded_reason(obs: Observation) -> tuple[str, str] | None:
    if obs.spec_errors:
        return "InvalidSpec", "; ".join(obs.spec_errors)
    if obs.missing_secrets:
        return "SecretMissing", "missing Secret(s): " + ", ".join(obs.missing_secrets)
    if obs.apply_errors:
        return "ApplyFailed", "; ".join(obs.apply_errors)
    if obs.missing_apis:
        return "ApiNotInstalled", "cluster does not serve: " + ", ".join(obs.missing_apis)
    if obs.lag_error:
        return "KafkaUnreachable", f"cannot read consumer lag: {obs.lag_error}"
    return None


def compute(obs: Observation, previous: Sequence[Mapping[str, Any]] | None) -> dict[str, Any]:
    """Status fields (phase, observedGeneration, conditions, components) to merge-patch."""
    prev = {c.get("type", ""): c for c in previous or []}
    degraded = degraded_reason(obs)
    pending = [f"{c} {v['ready']}/{v['desired']}" for c, v in obs.components.items() if v["ready"] < v["desired"]]
    ready = not obs.spec_errors and not obs.missing_secrets and not obs.apply_errors and not pending
    if obs.spec_errors:
        phase = "Invalid"
    elif degraded:
        phase = "Degraded"
    elif pending:
        phase = "Progressing"
    else:
        phase = "Running"
    conditions = [
        _condition(prev, "Ready", ready, "AllReplicasReady" if ready else (degraded or ("NotReady", ""))[0],
                   "all workloads ready" if ready else ("waiting for " + ", ".join(pending) if pending
                                                        else (degraded or ("", ""))[1]), obs.generation),
        _condition(prev, "Progressing", bool(pending) and not obs.spec_errors,
                   "RollingOut" if pending else "Stable",
                   ", ".join(pending) or "nothing to roll out", obs.generation),
        _condition(prev, "Degraded", degraded is not None, degraded[0] if degraded else "AsExpected",
                   degraded[1] if degraded else "no problems observed", obs.generation),
    ]
    return {"phase": phase, "observedGeneration": obs.generation, "conditions": conditions,
            "components": {k: dict(v) for k, v in obs.components.items()}}


def with_lag_condition(previous: Sequence[Mapping[str, Any]] | None, lag_error: str | None,
                       generation: int) -> list[dict[str, Any]] | None:
    """Conditions after a lag read: Degraded/KafkaUnreachable set or cleared; ``None``: no change.

    Why: the autoscaler timer runs more often than the full reconcile and must surface an
    unreachable broker at once, without overriding a more important Degraded reason.
    """
    conds = [dict(c) for c in previous or []]
    current = next((c for c in conds if c.get("type") == "Degraded"), None)
    if lag_error:
        if current and current.get("status") == "True" and current.get("reason") != "KafkaUnreachable":
            return None
        new = _condition({"Degraded": current or {}}, "Degraded", True, "KafkaUnreachable",
                         f"cannot read consumer lag: {lag_error}", generation)
    elif current and current.get("reason") == "KafkaUnreachable":
        new = _condition({"Degraded": current}, "Degraded", False, "AsExpected", "no problems observed", generation)
    else:
        return None
    return [c for c in conds if c.get("type") != "Degraded"] + [new]
