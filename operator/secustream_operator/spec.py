"""Defaults and semantic validation of a SecuStreamPipeline spec.

Why: the API server applies the CRD's defaults and structural checks, but the operator must not
trust that (older CRD, emulator, hand-written object): it merges the same defaults and rejects
inconsistent specs (e.g. ``min > max``) with readable reasons instead of crashing.
A test checks that these defaults equal the CRD's ``default:`` values.
"""

from __future__ import annotations

import copy
import ipaddress
import re
from collections.abc import Mapping
from typing import Any

AUTOSCALING_MODES = ("keda", "builtin", "none")
SERVICE_TYPES = ("ClusterIP", "NodePort", "LoadBalancer")
PULL_POLICIES = ("Always", "IfNotPresent", "Never")
OFFSET_RESET = ("earliest", "latest")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")

DEFAULTS: dict[str, Any] = {
    "image": {"repository": "secustream", "tag": "0.1.0", "pullPolicy": "IfNotPresent"},
    "logLevel": "INFO",
    "kafka": {
        "topic": "security-events",
        "resultsTopic": "security-results",
        "deadLetterTopic": "security-events-dlq",
        "partitions": 12,
        "replicationFactor": 1,
        "consumerGroup": "secustream-analyzer",
    },
    "redis": {},
    "database": {"secretRef": {"key": "uri"}},
    "generator": {"enabled": True, "replicas": 1, "eventsPerSecond": 50},
    "api": {"replicas": 2, "serviceType": "ClusterIP", "jwtSecretRef": {"key": "secret"}, "trustedProxies": []},
    "analyzer": {
        "replicas": {"min": 1, "max": 12},
        "autoscaling": {
            "mode": "builtin",
            "lagThreshold": 1000,
            "activationLagThreshold": 10,
            "pollingIntervalSeconds": 15,
            "cooldownSeconds": 120,
            "offsetResetPolicy": "earliest",
        },
        "gpu": {
            "enabled": False,
            "count": 1,
            "resourceName": "nvidia.com/gpu",
            "nodeSelector": {"nvidia.com/gpu.present": "true"},
            "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
            "runtimeClassName": "nvidia",
        },
        "tiers": {
            "model": {"escalateBelowConfidence": 0.8, "batchSize": 64, "bruteForceMinFailures": 4,
                      "outOfDistribution": {"enabled": True, "unseenKind": True, "distanceQuantile": 0.995,
                                            "minKindExamples": 20}},
            "llm": {
                "enabled": True,
                "model": "openai/gpt-4o-mini",
                "apiBase": "",
                "maxCallsPerMinute": 60,
                "timeoutSeconds": 20,
            },
        },
    },
    "rules": {},
    "training": {
        "enabled": True,
        "schedule": "0 2 * * *",
        "storage": {"size": "5Gi", "accessMode": "ReadWriteOnce"},
    },
    "retention": {
        "enabled": True, "schedule": "15 1 * * *", "partitionDaysAhead": 7,
        "days": {"events": 30, "verdicts": 90, "alerts": 365, "incidents": 365},
        "archive": {"url": "", "source": "secustream", "region": "local", "accountId": "000000000000",
                    "cloudProvider": "local", "findingMinLevel": "medium", "rowsPerFile": 1_000_000},
        "dropUnarchived": False,
    },
    "monitoring": {"serviceMonitor": True, "prometheusReleaseLabel": "kube-prometheus-stack", "interval": "30s"},
    "alerts": {
        "enabled": True, "minLevel": "medium", "dedupWindowSeconds": 600, "incidentWindowSeconds": 3600,
        "storyLlm": True,
        "webhook": {"url": "", "urlSecretRef": {"key": "url"}, "signingSecretRef": {"key": "secret"},
                    "payload": "json", "minLevel": "high", "retries": 5,
                    "backoffSeconds": 1, "timeoutSeconds": 5},
    },
}
ALERT_LEVELS = ("low", "medium", "high", "critical")

_QUANTITY = re.compile(r"^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_TOPIC = re.compile(r"^[A-Za-z0-9._-]{1,249}$")
_SOURCE = re.compile(r"^[a-z0-9][a-z0-9-]{0,40}$")  # the settings' ARCHIVE_SOURCE/REGION/ACCOUNT_ID patterns
_REGION = re.compile(r"^[a-z0-9-]{1,32}$")
_ACCOUNT = re.compile(r"^[A-Za-z0-9-]{1,64}$")
_CRON = re.compile(r"^(@(yearly|annually|monthly|weekly|daily|midnight|hourly)|(\S+\s+){4}\S+)$")


class SpecError(ValueError):
    """An invalid or inconsistent spec; ``reasons`` lists each problem as ``path: message``."""

    def __init__(self, reasons: list[str]) -> None:
        super().__init__("; ".join(reasons))
        self.reasons = reasons


def merge_defaults(spec: Mapping[str, Any] | None, defaults: Mapping[str, Any] = DEFAULTS) -> dict[str, Any]:
    """Deep-merge ``spec`` over ``defaults`` (maps merge, everything else replaces)."""
    out: dict[str, Any] = copy.deepcopy(dict(defaults))
    for key, value in (spec or {}).items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merge_defaults(value, out[key])
        else:
            out[key] = copy.deepcopy(value)
    return out


def _get(spec: Mapping[str, Any], path: str) -> Any:
    node: Any = spec
    for part in path.split("."):
        if not isinstance(node, Mapping):
            return None
        node = node.get(part)
    return node


def _int(spec: Mapping[str, Any], path: str, lo: int, hi: int, errors: list[str]) -> None:
    value = _get(spec, path)
    if isinstance(value, bool) or not isinstance(value, int):
        errors.append(f"spec.{path}: must be an integer, got {value!r}")
    elif not lo <= value <= hi:
        errors.append(f"spec.{path}: must be between {lo} and {hi}, got {value}")


def _enum(spec: Mapping[str, Any], path: str, allowed: tuple[str, ...], errors: list[str]) -> None:
    value = _get(spec, path)
    if value not in allowed:
        errors.append(f"spec.{path}: must be one of {', '.join(allowed)}, got {value!r}")


def _secret_ref(spec: Mapping[str, Any], path: str, required: bool, errors: list[str]) -> None:
    ref = _get(spec, path) or {}
    name = ref.get("name") if isinstance(ref, Mapping) else None
    if not name:
        if required:
            errors.append(f"spec.{path}.name: a Secret name is required")
        return
    if not _DNS_LABEL.match(str(name)) and "." not in str(name):
        errors.append(f"spec.{path}.name: {name!r} is not a valid Secret name")
    if not ref.get("key"):
        errors.append(f"spec.{path}.key: a key is required")


def validate(spec: Mapping[str, Any]) -> list[str]:
    """Return readable problems of an already-defaulted spec (empty list: valid)."""
    errors: list[str] = []
    if not str(_get(spec, "image.repository") or "").strip():
        errors.append("spec.image.repository: must not be empty")
    if not str(_get(spec, "image.tag") or "").strip():
        errors.append("spec.image.tag: must not be empty")
    _enum(spec, "image.pullPolicy", PULL_POLICIES, errors)
    _enum(spec, "logLevel", LOG_LEVELS, errors)
    if not str(_get(spec, "kafka.bootstrapServers") or "").strip():
        errors.append("spec.kafka.bootstrapServers: required (host:port[,host:port])")
    for key in ("topic", "resultsTopic", "deadLetterTopic", "consumerGroup"):
        value = str(_get(spec, f"kafka.{key}") or "")
        if not _TOPIC.match(value):
            errors.append(f"spec.kafka.{key}: {value!r} is not a valid Kafka name")
    topics = [_get(spec, f"kafka.{k}") for k in ("topic", "resultsTopic", "deadLetterTopic")]
    if len(set(topics)) != len(topics):
        errors.append("spec.kafka: topic, resultsTopic and deadLetterTopic must differ")
    _int(spec, "kafka.partitions", 1, 1000, errors)
    _int(spec, "kafka.replicationFactor", 1, 10, errors)
    redis = _get(spec, "redis") or {}
    if not redis.get("url") and not (redis.get("secretRef") or {}).get("name"):
        errors.append("spec.redis: set url or secretRef")
    if redis.get("secretRef"):
        _secret_ref(spec, "redis.secretRef", True, errors)
    _secret_ref(spec, "database.secretRef", True, errors)
    _secret_ref(spec, "api.jwtSecretRef", True, errors)
    _secret_ref(spec, "analyzer.tiers.llm.apiKeySecretRef", False, errors)
    _secret_ref(spec, "alerts.webhook.urlSecretRef", False, errors)
    _secret_ref(spec, "alerts.webhook.signingSecretRef", False, errors)
    _enum(spec, "alerts.minLevel", ALERT_LEVELS, errors)
    _enum(spec, "alerts.webhook.minLevel", ALERT_LEVELS, errors)
    _enum(spec, "alerts.webhook.payload", ("json", "alertmanager"), errors)
    _int(spec, "alerts.dedupWindowSeconds", 1, 7 * 86400, errors)
    _int(spec, "alerts.incidentWindowSeconds", 1, 30 * 86400, errors)
    _int(spec, "alerts.webhook.retries", 1, 20, errors)
    _int(spec, "generator.replicas", 0, 100, errors)
    _int(spec, "generator.eventsPerSecond", 1, 1_000_000, errors)
    _int(spec, "api.replicas", 1, 100, errors)
    _enum(spec, "api.serviceType", SERVICE_TYPES, errors)
    proxies = _get(spec, "api.trustedProxies")
    for cidr in proxies if isinstance(proxies, list) else [proxies]:
        try:
            ipaddress.ip_network(str(cidr), strict=False)
        except ValueError:
            errors.append(f"spec.api.trustedProxies: {cidr!r} is not an IP address or CIDR (e.g. 10.0.0.0/8)")
    _int(spec, "analyzer.replicas.min", 0, 1000, errors)
    _int(spec, "analyzer.replicas.max", 1, 1000, errors)
    lo, hi = _get(spec, "analyzer.replicas.min"), _get(spec, "analyzer.replicas.max")
    if isinstance(lo, int) and isinstance(hi, int) and lo > hi:
        errors.append(f"spec.analyzer.replicas: min ({lo}) must not exceed max ({hi})")
    _enum(spec, "analyzer.autoscaling.mode", AUTOSCALING_MODES, errors)
    _enum(spec, "analyzer.autoscaling.offsetResetPolicy", OFFSET_RESET, errors)
    _int(spec, "analyzer.autoscaling.lagThreshold", 1, 10**9, errors)
    _int(spec, "analyzer.autoscaling.activationLagThreshold", 0, 10**9, errors)
    _int(spec, "analyzer.autoscaling.pollingIntervalSeconds", 1, 3600, errors)
    _int(spec, "analyzer.autoscaling.cooldownSeconds", 0, 86400, errors)
    if _get(spec, "analyzer.gpu.enabled"):
        _int(spec, "analyzer.gpu.count", 1, 16, errors)
        if not str(_get(spec, "analyzer.gpu.resourceName") or "").count("/"):
            errors.append("spec.analyzer.gpu.resourceName: must be a vendor resource like nvidia.com/gpu")
    conf = _get(spec, "analyzer.tiers.model.escalateBelowConfidence")
    if not isinstance(conf, int | float) or isinstance(conf, bool) or not 0 <= conf <= 1:
        errors.append(f"spec.analyzer.tiers.model.escalateBelowConfidence: must be within 0..1, got {conf!r}")
    _int(spec, "analyzer.tiers.model.batchSize", 1, 4096, errors)
    quantile = _get(spec, "analyzer.tiers.model.outOfDistribution.distanceQuantile")
    if not isinstance(quantile, int | float) or isinstance(quantile, bool) or not 0.5 <= quantile <= 1:
        errors.append("spec.analyzer.tiers.model.outOfDistribution.distanceQuantile: must be within 0.5..1, "
                      f"got {quantile!r}")
    _int(spec, "analyzer.tiers.model.outOfDistribution.minKindExamples", 1, 10**9, errors)
    _int(spec, "analyzer.tiers.model.bruteForceMinFailures", 1, 1000, errors)
    _int(spec, "analyzer.tiers.llm.maxCallsPerMinute", 0, 100_000, errors)
    _int(spec, "analyzer.tiers.llm.timeoutSeconds", 1, 600, errors)
    rules = _get(spec, "rules") or {}
    for fname, text in (rules.get("files") or {}).items():
        if not re.match(r"^[A-Za-z0-9._-]+\.ya?ml$", fname) or not isinstance(text, str):
            errors.append(f"spec.rules.files: {fname!r} must be a *.yaml name with YAML text")
    if _get(spec, "training.enabled"):
        if not _CRON.match(str(_get(spec, "training.schedule") or "")):
            errors.append(f"spec.training.schedule: {_get(spec, 'training.schedule')!r} is not a cron schedule")
        if not _QUANTITY.match(str(_get(spec, "training.storage.size") or "")):
            errors.append("spec.training.storage.size: must be a quantity like 5Gi")
    if _get(spec, "retention.enabled"):
        _retention(spec, errors)
    return errors


def _retention(spec: Mapping[str, Any], errors: list[str]) -> None:
    if not _CRON.match(str(_get(spec, "retention.schedule") or "")):
        errors.append(f"spec.retention.schedule: {_get(spec, 'retention.schedule')!r} is not a cron schedule")
    _int(spec, "retention.partitionDaysAhead", 1, 366, errors)
    for table in ("events", "verdicts", "alerts", "incidents"):
        _int(spec, f"retention.days.{table}", 1, 100_000, errors)
    archive = _get(spec, "retention.archive") or {}
    for key, pattern in (("source", _SOURCE), ("region", _REGION), ("accountId", _ACCOUNT)):
        if not pattern.match(str(archive.get(key) or "")):
            errors.append(f"spec.retention.archive.{key}: {archive.get(key)!r} does not match {pattern.pattern}")
    _enum(spec, "retention.archive.findingMinLevel", ALERT_LEVELS, errors)
    _int(spec, "retention.archive.rowsPerFile", 1, 10**9, errors)
    if archive.get("url") and _get(spec, "retention.dropUnarchived"):
        errors.append("spec.retention: archive.url and dropUnarchived exclude each other")
    creds = archive.get("credentialsSecretRef") or {}
    if creds and not _DNS_LABEL.match(str(creds.get("name") or "")) and "." not in str(creds.get("name") or ""):
        errors.append(f"spec.retention.archive.credentialsSecretRef.name: {creds.get('name')!r} is not a Secret name")


def normalise(spec: Mapping[str, Any] | None) -> dict[str, Any]:
    """Defaulted, validated spec; raises :class:`SpecError` listing every problem."""
    merged = merge_defaults(spec)
    errors = validate(merged)
    if errors:
        raise SpecError(errors)
    return merged
