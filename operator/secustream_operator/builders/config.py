"""Settings ConfigMap and its checksum.

Why: every workload reads its settings through env vars (pydantic-settings); putting the
non-secret ones in one ConfigMap and stamping its hash on pod templates makes a config change
roll the pods, while secrets stay in Secrets (``secretKeyRef``).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from secustream_operator import naming
from secustream_operator.builders.common import MODEL_DIR, RULES_DIR, SIGMA_PACKS_DIR, Context


def settings(spec: dict[str, Any]) -> dict[str, str]:
    """Env settings shared by all workloads (values are strings, as ConfigMaps require).

    Every key is a field (or alias) of ``secustream.config.Settings``: the settings-contract test
    renders this over a matrix of specs and fails on a key the services would silently ignore.
    """
    kafka, analyzer = spec["kafka"], spec["analyzer"]
    model, llm = analyzer["tiers"]["model"], analyzer["tiers"]["llm"]
    data = {
        "KAFKA_SERVER": str(kafka["bootstrapServers"]),
        "KAFKA_TOPIC": kafka["topic"],
        "KAFKA_RESULTS_TOPIC": kafka["resultsTopic"],
        "KAFKA_DLQ_TOPIC": kafka["deadLetterTopic"],
        "KAFKA_CONSUMER_GROUP": kafka["consumerGroup"],
        "KAFKA_PARTITIONS": str(kafka["partitions"]),
        "ROUTER_ESCALATE_BELOW_CONFIDENCE": str(model["escalateBelowConfidence"]),
        "MODEL_BATCH_SIZE": str(model["batchSize"]),
        "MODEL_OOD_ENABLED": str(bool(model["outOfDistribution"]["enabled"])).lower(),
        "MODEL_OOD_UNSEEN_KIND": str(bool(model["outOfDistribution"]["unseenKind"])).lower(),
        "MODEL_OOD_DISTANCE_QUANTILE": str(model["outOfDistribution"]["distanceQuantile"]),
        "MODEL_OOD_MIN_KIND_EXAMPLES": str(model["outOfDistribution"]["minKindExamples"]),
        "MODEL_BRUTE_FORCE_MIN_FAILURES": str(model["bruteForceMinFailures"]),
        "LLM_ENABLED": "true" if llm["enabled"] else "false",
        "LLM_MODEL": llm["model"],
        "LLM_API_BASE": llm.get("apiBase") or "",
        "LLM_MAX_CALLS_PER_MINUTE": str(llm["maxCallsPerMinute"]),
        "LLM_TIMEOUT_SECONDS": str(llm["timeoutSeconds"]),
        "GENERATOR_EVENTS_PER_SECOND": str(spec["generator"]["eventsPerSecond"]),
        "MODEL_DIR": MODEL_DIR,
        "PROMETHEUS_PORT": "9100",
        "API_PORT": "8080",
        "LOG_LEVEL": spec["logLevel"],
        "TRUSTED_PROXIES": ",".join(str(c) for c in spec["api"].get("trustedProxies") or []),
        **alert_settings(spec["alerts"]),
    }
    if spec["redis"].get("url"):
        data["REDIS_URL"] = spec["redis"]["url"]
    rules = spec.get("rules") or {}
    if rules.get("files"):
        data["RULES_PATH"] = RULES_DIR
    if rules.get("sigmaPacks"):
        data["SIGMA_PACKS_DIR"] = SIGMA_PACKS_DIR
    filters = rules.get("sigmaFilters") or {}
    data["SIGMA_MIN_LEVEL"] = filters.get("minLevel", "medium")
    data["SIGMA_STATUSES"] = ",".join(filters.get("statuses") or ["stable", "test"])
    data["SIGMA_INCLUDE"] = ",".join(filters.get("include") or [])
    data["SIGMA_EXCLUDE"] = ",".join(filters.get("exclude") or [])
    return data


def alert_settings(alerts: dict[str, Any]) -> dict[str, str]:
    """spec.alerts → ALERT_*/INCIDENT_* (the webhook URL only when it is not in a Secret: workloads.alerts_env)."""
    hook = alerts["webhook"]
    data = {
        "ALERTS_ENABLED": str(bool(alerts["enabled"])).lower(),
        "ALERT_MIN_LEVEL": alerts["minLevel"],
        "ALERT_DEDUP_WINDOW_SECONDS": str(alerts["dedupWindowSeconds"]),
        "INCIDENT_WINDOW_SECONDS": str(alerts["incidentWindowSeconds"]),
        "INCIDENT_STORY_LLM": str(bool(alerts["storyLlm"])).lower(),
        "ALERT_WEBHOOK_FORMAT": hook["payload"],
        "ALERT_WEBHOOK_MIN_LEVEL": hook["minLevel"],
        "ALERT_WEBHOOK_RETRIES": str(hook["retries"]),
        "ALERT_WEBHOOK_BACKOFF_SECONDS": str(hook["backoffSeconds"]),
        "ALERT_WEBHOOK_TIMEOUT_SECONDS": str(hook["timeoutSeconds"]),
    }
    if not (hook.get("urlSecretRef") or {}).get("name"):
        data["ALERT_WEBHOOK_URL"] = hook.get("url") or ""
    return data


def build_configmaps(ctx: Context) -> list[dict[str, Any]]:
    """The settings ConfigMap, plus a rules ConfigMap when ``spec.rules.files`` is given."""
    out = [{
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": ctx.meta("config"),
        "data": settings(ctx.spec),
    }]
    files = (ctx.spec.get("rules") or {}).get("files") or {}
    if files:
        out.append({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": ctx.meta("rules"),
            "data": dict(sorted(files.items())),
        })
    return out


def checksum(spec: dict[str, Any]) -> str:
    """Stable hash of everything the pods read from ConfigMaps (settings and rules)."""
    payload = {"settings": settings(spec), "rules": (spec.get("rules") or {}).get("files") or {}}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def rules_configmap_name(pipeline: str) -> str:
    return naming.child_name(pipeline, "rules")
