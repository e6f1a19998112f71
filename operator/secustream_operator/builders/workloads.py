"""Deployments for the generator, API and analyzer.

Why: each workload is the same image with a different ``secustream`` command; what differs is
replicas, probes, secrets and (for the analyzer) GPU scheduling, built here from the spec.
"""

from __future__ import annotations

import re
from typing import Any

from secustream_operator import naming
from secustream_operator.builders import common
from secustream_operator.builders.common import (
    MODEL_DIR,
    RULES_DIR,
    SIGMA_PACK_SOURCES_DIR,
    SIGMA_PACKS_DIR,
    Context,
)
from secustream_operator.builders.config import rules_configmap_name


def secret_env(name: str, ref: dict[str, Any], optional: bool = False) -> dict[str, Any]:
    selector: dict[str, Any] = {"name": ref["name"], "key": ref["key"]}
    if optional:
        selector["optional"] = True
    return {"name": name, "valueFrom": {"secretKeyRef": selector}}


def data_env(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """DATABASE_URL (CNPG ``<cluster>-app`` secret, key ``uri``) and REDIS_URL when secret."""
    env = [secret_env("DATABASE_URL", spec["database"]["secretRef"])]
    if (spec["redis"].get("secretRef") or {}).get("name"):
        env.append(secret_env("REDIS_URL", spec["redis"]["secretRef"]))
    return env


def llm_env(spec: dict[str, Any]) -> list[dict[str, Any]]:
    ref = spec["analyzer"]["tiers"]["llm"].get("apiKeySecretRef") or {}
    return [secret_env("OPENAI_API_KEY", ref, optional=True)] if ref.get("name") else []


def alerts_env(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """The webhook URL (it may carry a token) and its signing key from their Secrets, when referenced."""
    hook = spec["alerts"]["webhook"]
    env = []
    for name, path, key in (("ALERT_WEBHOOK_URL", "urlSecretRef", "url"),
                            ("ALERT_WEBHOOK_SECRET", "signingSecretRef", "secret")):
        ref = hook.get(path) or {}
        if ref.get("name"):
            env.append(secret_env(name, {"key": key, **ref}))
    return env


def rules_mount(ctx: Context) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    if not (ctx.spec.get("rules") or {}).get("files"):
        return [], []
    return ([{"name": "rules", "mountPath": RULES_DIR, "readOnly": True}],
            [{"name": "rules", "configMap": {"name": rules_configmap_name(ctx.name)}}])


def sigma_packs(ctx: Context) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """Init containers installing ``spec.rules.sigmaPacks`` into an emptyDir, its mount and volumes.

    Why init containers: ``secustream rules install`` validates and compiles each pack (warming the
    compiled-rules cache next to it), so the analyzer starts from the cache; a pack that cannot be
    fetched or loaded fails the pod visibly instead of running without the rules the spec asked for.
    """
    packs = (ctx.spec.get("rules") or {}).get("sigmaPacks") or []
    if not packs:
        return [], [], []
    mount = {"name": "sigma-packs", "mountPath": SIGMA_PACKS_DIR}
    volumes: list[dict[str, Any]] = [{"name": "sigma-packs", "emptyDir": {"sizeLimit": "1Gi"}}]
    inits = []
    for pack in packs:
        name = pack["name"]
        label = re.sub(r"[^a-z0-9-]", "-", name)  # container and volume names are DNS labels
        mounts = [mount]
        if pack.get("configMap"):
            volume = f"sigma-src-{label}"[:63]
            volumes.append({"name": volume, "configMap": {"name": pack["configMap"]}})
            source = f"{SIGMA_PACK_SOURCES_DIR}/{name}"
            mounts.append({"name": volume, "mountPath": source, "readOnly": True})
        else:
            source = pack["url"]
        args = ["rules", "install", source, "--name", name, "--packs-dir", SIGMA_PACKS_DIR]
        for placeholder, values in sorted((pack.get("placeholders") or {}).items()):
            args += ["--placeholder", f"{placeholder}={','.join(values)}"]
        inits.append(common.container(ctx, f"sigma-pack-{label}"[:63], args, [], "analyzer", mounts))
    return inits, [mount], volumes


def model_volume(ctx: Context, shared: bool) -> dict[str, Any]:
    """The training PVC for the trainer, and for analyzers when it is ReadWriteMany.

    Why: a ReadWriteOnce claim cannot follow analyzers spread over nodes, so they then get an
    emptyDir (MODEL_DIR must be writable) and start from the image's base model.
    """
    training = ctx.spec["training"]
    rwx = training["storage"].get("accessMode") == "ReadWriteMany"
    if training["enabled"] and (rwx or not shared):
        return {"name": "models", "persistentVolumeClaim": {"claimName": naming.child_name(ctx.name, "models")}}
    return {"name": "models", "emptyDir": {"sizeLimit": "2Gi"}}


def _deployment(ctx: Context, component: str, replicas: int | None, template: dict[str, Any],
                strategy: dict[str, Any] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "selector": {"matchLabels": naming.selector_labels(ctx.name, component)},
        "template": template,
        "revisionHistoryLimit": 3,
    }
    if replicas is not None:
        spec["replicas"] = replicas
    if strategy:
        spec["strategy"] = strategy
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": ctx.meta(component), "spec": spec}


def metrics_port() -> dict[str, Any]:
    return {"name": "metrics", "containerPort": 9100, "protocol": "TCP"}


def generator(ctx: Context) -> dict[str, Any]:
    c = common.container(ctx, "generator", ["generate"], [], "generator", [])
    c["ports"] = [metrics_port()]
    c["livenessProbe"] = common.http_probe("/healthz", "metrics")
    c["readinessProbe"] = common.http_probe("/healthz", "metrics", period=5)
    template = common.pod_template(ctx, "generator", [c], [])
    return _deployment(ctx, "generator", ctx.spec["generator"]["replicas"], template)


def api(ctx: Context) -> dict[str, Any]:
    spec = ctx.spec
    env = [*data_env(spec), secret_env("SECRET_KEY", spec["api"]["jwtSecretRef"])]
    c = common.container(ctx, "api", ["api"], env, "api", [])
    c["ports"] = [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]
    c["livenessProbe"] = common.http_probe("/healthz", "http")
    c["readinessProbe"] = common.http_probe("/readyz", "http", period=5)
    # Why an init container: the schema must exist before the API serves; `migrate` is idempotent.
    migrate = common.container(ctx, "migrate", ["migrate"], data_env(spec), "migrate", [])
    template = common.pod_template(ctx, "api", [c], [], {"initContainers": [migrate]})
    strategy = {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}}
    return _deployment(ctx, "api", spec["api"]["replicas"], template, strategy)


def analyzer(ctx: Context, replicas: int | None) -> dict[str, Any]:
    """Analyzer Deployment; GPU fields appear only when ``spec.analyzer.gpu.enabled``."""
    spec = ctx.spec
    rule_mounts, rule_volumes = rules_mount(ctx)
    pack_inits, pack_mounts, pack_volumes = sigma_packs(ctx)
    mounts = [{"name": "models", "mountPath": MODEL_DIR}, *rule_mounts, *pack_mounts]
    c = common.container(ctx, "analyzer", ["analyze"], [*data_env(spec), *llm_env(spec), *alerts_env(spec)],
                         "analyzer", mounts)
    c["ports"] = [metrics_port()]
    # /healthz turns 503 when records wait and nothing is committed (e.g. the database is down): the pod
    # goes unready and the stuck-partition alert fires; liveness only asks whether the process answers.
    c["livenessProbe"] = common.http_probe("/livez", "metrics")
    c["readinessProbe"] = common.http_probe("/healthz", "metrics", period=5)
    extra: dict[str, Any] = {"terminationGracePeriodSeconds": 60}
    if pack_inits:
        extra["initContainers"] = pack_inits
    gpu = spec["analyzer"]["gpu"]
    if gpu["enabled"]:
        count = str(gpu["count"])
        c["resources"].setdefault("limits", {})[gpu["resourceName"]] = count
        c["resources"].setdefault("requests", {})[gpu["resourceName"]] = count
        extra["nodeSelector"] = dict(gpu.get("nodeSelector") or {})
        extra["tolerations"] = list(gpu.get("tolerations") or [])
        if gpu.get("runtimeClassName"):
            extra["runtimeClassName"] = gpu["runtimeClassName"]
    template = common.pod_template(ctx, "analyzer", [c], [model_volume(ctx, shared=True), *rule_volumes,
                                                          *pack_volumes], extra)
    return _deployment(ctx, "analyzer", replicas, template)
