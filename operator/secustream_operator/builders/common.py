"""Shared pieces of every pod: restricted security contexts, writable volumes, metadata.

Why: Pod Security "restricted" must hold for every workload; writing it once keeps the
generator, API, analyzer and training pods from drifting apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from secustream_operator import naming

RUN_AS_UID = 10001
MODEL_DIR = "/var/lib/secustream/models"
RULES_DIR = "/etc/secustream/rules"
SIGMA_PACKS_DIR = "/var/lib/secustream/sigma-packs"  # emptyDir the init containers install packs into
SIGMA_PACK_SOURCES_DIR = "/etc/secustream/sigma-pack-sources"  # ConfigMap packs, mounted read-only
CHECKSUM_ANNOTATION = "secustream.io/config-checksum"

DEFAULT_RESOURCES: dict[str, dict[str, dict[str, str]]] = {
    "generator": {"requests": {"cpu": "50m", "memory": "128Mi"}, "limits": {"cpu": "500m", "memory": "256Mi"}},
    "api": {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"cpu": "1", "memory": "512Mi"}},
    "analyzer": {"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"cpu": "2", "memory": "4Gi"}},
    "training": {"requests": {"cpu": "1", "memory": "2Gi"}, "limits": {"cpu": "4", "memory": "8Gi"}},
    "retention": {"requests": {"cpu": "250m", "memory": "512Mi"}, "limits": {"cpu": "2", "memory": "2Gi"}},
    "migrate": {"requests": {"cpu": "50m", "memory": "128Mi"}, "limits": {"cpu": "500m", "memory": "256Mi"}},
}


@dataclass(frozen=True)
class Context:
    """What every builder needs besides the spec: identity of the owning pipeline."""

    name: str
    namespace: str
    spec: dict[str, Any]
    checksum: str = ""

    @property
    def version(self) -> str:
        return str(self.spec["image"]["tag"])

    def meta(self, component: str, name: str | None = None) -> dict[str, Any]:
        return {
            "name": name or naming.child_name(self.name, component),
            "namespace": self.namespace,
            "labels": naming.labels(self.name, component, self.version),
        }

    @property
    def image(self) -> str:
        image = self.spec["image"]
        tag = str(image["tag"])
        sep = "@" if tag.startswith("sha256:") else ":"
        return f"{image['repository']}{sep}{tag}"


def pod_security_context() -> dict[str, Any]:
    return {
        "runAsNonRoot": True,
        "runAsUser": RUN_AS_UID,
        "runAsGroup": RUN_AS_UID,
        "fsGroup": RUN_AS_UID,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def container_security_context() -> dict[str, Any]:
    return {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def resources(ctx: Context, component: str) -> dict[str, Any]:
    """Spec override (``spec.<component>.resources``) or the component's default."""
    override = (ctx.spec.get(component) or {}).get("resources") if component in ctx.spec else None
    return dict(override) if override else {k: dict(v) for k, v in DEFAULT_RESOURCES[component].items()}


def http_probe(path: str, port: str, period: int = 10, delay: int = 5) -> dict[str, Any]:
    return {
        "httpGet": {"path": path, "port": port},
        "initialDelaySeconds": delay,
        "periodSeconds": period,
        "timeoutSeconds": 3,
        "failureThreshold": 3,
    }


def container(ctx: Context, name: str, args: list[str], env: list[dict[str, Any]], component: str,
              mounts: list[dict[str, Any]]) -> dict[str, Any]:
    """A restricted container of the service image running ``secustream <args>``."""
    return {
        "name": name,
        "image": ctx.image,
        "imagePullPolicy": ctx.spec["image"]["pullPolicy"],
        "command": ["secustream"],
        "args": args,
        "envFrom": [{"configMapRef": {"name": naming.child_name(ctx.name, "config")}}],
        "env": env,
        "resources": resources(ctx, component),
        "securityContext": container_security_context(),
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}, *mounts],
    }


def pod_template(ctx: Context, component: str, containers: list[dict[str, Any]],
                 volumes: list[dict[str, Any]], extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Pod template carrying the config checksum so a config change rolls the pods."""
    return {
        "metadata": {
            "labels": naming.labels(ctx.name, component, ctx.version),
            "annotations": {CHECKSUM_ANNOTATION: ctx.checksum},
        },
        "spec": {
            "securityContext": pod_security_context(),
            "automountServiceAccountToken": False,
            "containers": containers,
            "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}}, *volumes],
            **(extra or {}),
        },
    }
