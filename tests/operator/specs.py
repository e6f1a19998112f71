"""Spec fixtures shared by the operator tests (plain data, no pytest magic)."""

from __future__ import annotations

import copy
from typing import Any

MINIMAL: dict[str, Any] = {
    "kafka": {"bootstrapServers": "demo-kafka-bootstrap:9092"},
    "redis": {"url": "redis://demo-redis:6379/0"},
    "database": {"secretRef": {"name": "demo-db-app"}},
    "api": {"jwtSecretRef": {"name": "secustream-jwt"}},
}


def spec(**overrides: Any) -> dict[str, Any]:
    """MINIMAL deep-merged with dotted overrides, e.g. ``spec(**{"analyzer.gpu.enabled": True})``."""
    out = copy.deepcopy(MINIMAL)
    for dotted, value in overrides.items():
        node = out
        *parents, leaf = dotted.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return out


# A matrix of specs every builder output must validate for.
MATRIX: dict[str, dict[str, Any]] = {
    "minimal": spec(),
    "gpu-keda-strimzi": spec(**{"analyzer.gpu.enabled": True, "analyzer.autoscaling.mode": "keda",
                                "kafka.strimziCluster": "demo", "analyzer.tiers.llm.apiKeySecretRef":
                                {"name": "openai", "key": "api-key"}}),
    "no-generator-no-training-none": spec(**{"generator.enabled": False, "training.enabled": False,
                                             "analyzer.autoscaling.mode": "none",
                                             "monitoring.serviceMonitor": False}),
    "redis-secret-rwx-rules": spec(**{"redis": {"secretRef": {"name": "redis", "key": "url"}},
                                      "training.storage": {"size": "10Gi", "accessMode": "ReadWriteMany",
                                                           "storageClassName": "nfs"},
                                      "rules.files": {"extra.yaml": "- id: r1\n  severity: high\n"},
                                      "api.serviceType": "LoadBalancer"}),
    "retention-archive": spec(**{"retention.archive": {"url": "s3://lake/secustream", "region": "eu-west-1",
                                                       "accountId": "123456789012", "cloudProvider": "AWS",
                                                       "credentialsSecretRef": {"name": "lake-creds"}},
                                 "retention.days": {"events": 14, "verdicts": 60},
                                 "retention.serviceAccountName": "lake-writer",
                                 "retention.resources": {"requests": {"cpu": "1", "memory": "1Gi"},
                                                         "limits": {"cpu": "2", "memory": "4Gi"}}}),
    "retention-off": spec(**{"retention.enabled": False}),
    "sigma-packs": spec(**{"rules.sigmaPacks": [{"name": "sigma_core", "url": "https://example.org/sigma_core.zip"},
                                                {"name": "local", "configMap": "my-sigma-rules",
                                                 "placeholders": {"known_cdcs": ["dc01.corp.example", "10.0.0.5"],
                                                                  "admins": ["*adm"]}}],
                           "rules.sigmaFilters": {"minLevel": "high", "statuses": ["stable"],
                                                  "exclude": ["attack.t1059*"]}}),
    "custom-resources-digest": spec(**{"image": {"repository": "ghcr.io/x/secustream",
                                                 "tag": "sha256:" + "a" * 64},
                                       "analyzer.resources": {"requests": {"cpu": "1", "memory": "2Gi"},
                                                              "limits": {"cpu": "4", "memory": "8Gi"}},
                                       "analyzer.gpu": {"enabled": True, "count": 2,
                                                        "resourceName": "amd.com/gpu", "nodeSelector": {},
                                                        "tolerations": [], "runtimeClassName": ""}}),
}
