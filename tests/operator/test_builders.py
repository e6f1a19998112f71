"""Builder semantics: what each spec produces, checked field by field (not snapshots)."""

from __future__ import annotations

from typing import Any

import kopf
import pytest

from secustream_operator import builders
from secustream_operator.builders.common import CHECKSUM_ANNOTATION
from secustream_operator.spec import SpecError, normalise
from tests.operator.specs import MATRIX, spec


def build(raw: dict[str, Any], desired: int | None = None) -> list[dict[str, Any]]:
    return builders.build_children("demo", "ns1", normalise(raw), desired)


def by_key(objs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {f"{o['kind']}/{o['metadata']['name']}": o for o in objs}


def pod_specs(obj: dict[str, Any]) -> list[dict[str, Any]]:
    if obj["kind"] == "Deployment":
        return [obj["spec"]["template"]["spec"]]
    if obj["kind"] == "CronJob":
        return [obj["spec"]["jobTemplate"]["spec"]["template"]["spec"]]
    return []


def test_gpu_fields_only_when_enabled() -> None:
    cpu = by_key(build(spec()))["Deployment/demo-analyzer"]["spec"]["template"]["spec"]
    assert "nodeSelector" not in cpu and "tolerations" not in cpu and "runtimeClassName" not in cpu
    assert not any("gpu" in k for k in cpu["containers"][0]["resources"]["limits"])

    gpu = by_key(build(spec(**{"analyzer.gpu.enabled": True})))["Deployment/demo-analyzer"]
    pod = gpu["spec"]["template"]["spec"]
    assert pod["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert pod["nodeSelector"] == {"nvidia.com/gpu.present": "true"}
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in pod["tolerations"]
    assert pod["runtimeClassName"] == "nvidia"

    amd = by_key(build(MATRIX["custom-resources-digest"]))["Deployment/demo-analyzer"]["spec"]["template"]["spec"]
    assert amd["containers"][0]["resources"]["limits"]["amd.com/gpu"] == "2"
    assert "runtimeClassName" not in amd
    # GPU scheduling never leaks into other workloads
    for key, obj in by_key(build(spec(**{"analyzer.gpu.enabled": True}))).items():
        if key != "Deployment/demo-analyzer":
            for pod_spec in pod_specs(obj):
                assert "runtimeClassName" not in pod_spec, key


def test_analyzer_replicas_follow_mode_and_bounds() -> None:
    replicas = {"min": 2, "max": 20}
    base = {"analyzer.replicas": replicas, "kafka.partitions": 6}

    def analyzer(mode: str, desired: int | None) -> dict[str, Any]:
        objs = by_key(build(spec(**base, **{"analyzer.autoscaling.mode": mode}), desired))
        return objs["Deployment/demo-analyzer"]

    assert analyzer("none", 9)["spec"]["replicas"] == 2
    assert analyzer("builtin", None)["spec"]["replicas"] == 2
    assert analyzer("builtin", 4)["spec"]["replicas"] == 4
    assert analyzer("builtin", 50)["spec"]["replicas"] == 6, "capped by partitions"
    assert analyzer("builtin", 0)["spec"]["replicas"] == 2, "raised to min"
    keda = by_key(build(spec(**base, **{"analyzer.autoscaling.mode": "keda"})))
    scaled = keda["ScaledObject/demo-analyzer"]["spec"]
    assert (scaled["minReplicaCount"], scaled["maxReplicaCount"]) == (2, 6)
    assert scaled["scaleTargetRef"]["name"] == "demo-analyzer"
    trigger = scaled["triggers"][0]
    assert trigger["type"] == "kafka"
    assert trigger["metadata"]["consumerGroup"] == "secustream-analyzer"
    assert trigger["metadata"]["topic"] == "security-events"
    assert trigger["metadata"]["lagThreshold"] == "1000"
    behavior = scaled["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]
    assert behavior["scaleDown"]["stabilizationWindowSeconds"] == 120
    assert behavior["scaleUp"]["stabilizationWindowSeconds"] == 0
    assert "ScaledObject/demo-analyzer" not in by_key(build(spec()))


def test_every_pod_is_restricted_with_resources_and_probes() -> None:
    for name, raw in MATRIX.items():
        for key, obj in by_key(build(raw)).items():
            for pod in pod_specs(obj):
                psc = pod["securityContext"]
                assert psc["runAsNonRoot"] is True and psc["seccompProfile"]["type"] == "RuntimeDefault"
                assert {"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}} in pod["volumes"]
                for c in pod["containers"] + pod.get("initContainers", []):
                    sc = c["securityContext"]
                    assert sc["readOnlyRootFilesystem"] is True, (name, key)
                    assert sc["allowPrivilegeEscalation"] is False
                    assert sc["capabilities"] == {"drop": ["ALL"]}
                    assert sc["seccompProfile"] == {"type": "RuntimeDefault"}
                    assert c["resources"]["requests"] and c["resources"]["limits"], (name, key, c["name"])
                    assert {"name": "tmp", "mountPath": "/tmp"} in c["volumeMounts"]
                if obj["kind"] == "Deployment":
                    main = pod["containers"][0]
                    liveness = "/livez" if main["name"] == "analyzer" else "/healthz"
                    assert main["livenessProbe"]["httpGet"]["path"] == liveness
                    assert "readinessProbe" in main


def test_commands_env_and_secrets() -> None:
    objs = by_key(build(MATRIX["gpu-keda-strimzi"]))
    args = {k: o["spec"]["template"]["spec"]["containers"][0]["args"] for k, o in objs.items()
            if o["kind"] == "Deployment"}
    assert args == {"Deployment/demo-generator": ["generate"], "Deployment/demo-api": ["api"],
                    "Deployment/demo-analyzer": ["analyze"]}
    api = objs["Deployment/demo-api"]["spec"]["template"]["spec"]
    env = {e["name"]: e for e in api["containers"][0]["env"]}
    assert env["DATABASE_URL"]["valueFrom"]["secretKeyRef"] == {"name": "demo-db-app", "key": "uri"}
    assert env["SECRET_KEY"]["valueFrom"]["secretKeyRef"] == {"name": "secustream-jwt", "key": "secret"}
    assert api["initContainers"][0]["args"] == ["migrate"]
    analyzer_env = {e["name"]: e for e in
                    objs["Deployment/demo-analyzer"]["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert analyzer_env["OPENAI_API_KEY"]["valueFrom"]["secretKeyRef"]["optional"] is True
    assert "SECRET_KEY" not in analyzer_env, "JWT secret only where needed"
    config = objs["ConfigMap/demo-config"]["data"]
    assert config["KAFKA_SERVER"] == "demo-kafka-bootstrap:9092"
    assert config["KAFKA_CONSUMER_GROUP"] == "secustream-analyzer"
    assert config["MODEL_DIR"] == "/var/lib/secustream/models"
    assert all(isinstance(v, str) for v in config.values())
    assert not any("secret" in v.lower() for v in config.values())
    cron = objs["CronJob/demo-training"]["spec"]
    assert cron["schedule"] == "0 2 * * *" and cron["concurrencyPolicy"] == "Forbid"
    train_pod = cron["jobTemplate"]["spec"]["template"]["spec"]
    assert train_pod["containers"][0]["args"] == ["train"]
    assert {"name": "models", "persistentVolumeClaim": {"claimName": "demo-models"}} in train_pod["volumes"]
    redis_secret = by_key(build(MATRIX["redis-secret-rwx-rules"]))
    analyzer_pod = redis_secret["Deployment/demo-analyzer"]["spec"]["template"]["spec"]
    assert {"name": "models", "persistentVolumeClaim": {"claimName": "demo-models"}} in analyzer_pod["volumes"]
    assert "REDIS_URL" not in redis_secret["ConfigMap/demo-config"]["data"]
    assert redis_secret["ConfigMap/demo-config"]["data"]["RULES_PATH"] == "/etc/secustream/rules"
    assert redis_secret["ConfigMap/demo-rules"]["data"] == {"extra.yaml": "- id: r1\n  severity: high\n"}


def test_sigma_packs_install_in_init_containers_and_filters_reach_the_settings() -> None:
    default = by_key(build(spec()))
    config = default["ConfigMap/demo-config"]["data"]
    assert "SIGMA_PACKS_DIR" not in config and config["SIGMA_MIN_LEVEL"] == "medium"
    assert config["SIGMA_STATUSES"] == "stable,test"
    assert "initContainers" not in default["Deployment/demo-analyzer"]["spec"]["template"]["spec"]
    objs = by_key(build(MATRIX["sigma-packs"]))
    config = objs["ConfigMap/demo-config"]["data"]
    assert config["SIGMA_PACKS_DIR"] == "/var/lib/secustream/sigma-packs"
    assert (config["SIGMA_MIN_LEVEL"], config["SIGMA_STATUSES"], config["SIGMA_EXCLUDE"]) == (
        "high", "stable", "attack.t1059*")
    pod = objs["Deployment/demo-analyzer"]["spec"]["template"]["spec"]
    core, local = pod["initContainers"]
    assert core["name"] == "sigma-pack-sigma-core"
    assert core["args"] == ["rules", "install", "https://example.org/sigma_core.zip", "--name", "sigma_core",
                            "--packs-dir", "/var/lib/secustream/sigma-packs"]
    assert local["args"][2] == "/etc/secustream/sigma-pack-sources/local"
    assert local["args"][7:] == ["--placeholder", "admins=*adm",
                                 "--placeholder", "known_cdcs=dc01.corp.example,10.0.0.5"]
    assert {"name": "sigma-src-local", "mountPath": "/etc/secustream/sigma-pack-sources/local",
            "readOnly": True} in local["volumeMounts"]
    assert {"name": "sigma-src-local", "configMap": {"name": "my-sigma-rules"}} in pod["volumes"]
    assert {"name": "sigma-packs", "emptyDir": {"sizeLimit": "1Gi"}} in pod["volumes"]
    mount = {"name": "sigma-packs", "mountPath": "/var/lib/secustream/sigma-packs"}
    assert mount in pod["containers"][0]["volumeMounts"] and mount in core["volumeMounts"]


def test_trusted_proxies_reach_the_api_settings() -> None:
    """spec.api.trustedProxies becomes TRUSTED_PROXIES; none by default (the TCP peer is the client)."""
    default = by_key(build(spec()))["ConfigMap/demo-config"]["data"]
    assert default["TRUSTED_PROXIES"] == ""
    raw = spec()
    raw["api"]["trustedProxies"] = ["10.244.0.0/16", "fd00::/8"]
    assert by_key(build(raw))["ConfigMap/demo-config"]["data"]["TRUSTED_PROXIES"] == "10.244.0.0/16,fd00::/8"


def test_alerts_spec_reaches_the_analyzer() -> None:
    """spec.alerts becomes ALERT_*/INCIDENT_* settings; a webhook URL in a Secret stays out of the ConfigMap."""
    from secustream.config import Settings

    default = by_key(build(spec()))["ConfigMap/demo-config"]["data"]
    alert_keys = {k for k in default if k.startswith(("ALERT", "INCIDENT"))}
    assert alert_keys <= set(Settings.model_fields), "the operator emits only settings the service reads"
    assert default["ALERT_MIN_LEVEL"] == "medium" and default["ALERT_WEBHOOK_URL"] == ""
    assert Settings(_env_file=None, **{k: default[k] for k in alert_keys}).ALERT_DEDUP_WINDOW_SECONDS == 600
    raw = spec()
    raw["alerts"] = {"minLevel": "high", "incidentWindowSeconds": 900,
                     "webhook": {"urlSecretRef": {"name": "hooks"}, "signingSecretRef": {"name": "hooks"},
                                 "payload": "alertmanager"}}
    objs = by_key(build(raw))
    data = objs["ConfigMap/demo-config"]["data"]
    assert data["ALERT_MIN_LEVEL"] == "high" and data["INCIDENT_WINDOW_SECONDS"] == "900"
    assert data["ALERT_WEBHOOK_FORMAT"] == "alertmanager" and "ALERT_WEBHOOK_URL" not in data
    env = {e["name"]: e for e in objs["Deployment/demo-analyzer"]["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["ALERT_WEBHOOK_URL"]["valueFrom"]["secretKeyRef"]["name"] == "hooks"
    assert env["ALERT_WEBHOOK_URL"]["valueFrom"]["secretKeyRef"]["key"] == "url"
    assert env["ALERT_WEBHOOK_SECRET"]["valueFrom"]["secretKeyRef"] == {"name": "hooks", "key": "secret"}
    assert "ALERT_WEBHOOK_SECRET" not in data, "the signing key never goes into the ConfigMap"
    bad = spec()
    bad["alerts"] = {"minLevel": "loud"}
    with pytest.raises(SpecError, match=r"spec\.alerts\.minLevel"):
        build(bad)


def test_topics_and_service_monitors() -> None:
    objs = by_key(build(spec(**{"kafka.strimziCluster": "demo", "kafka.partitions": 8,
                                "kafka.topic": "custom-events"})))
    topics = {k: o for k, o in objs.items() if o["kind"] == "KafkaTopic"}
    assert {o["spec"]["topicName"] for o in topics.values()} == {
        "custom-events", "security-results", "security-events-dlq"}
    events = topics["KafkaTopic/demo-events"]
    assert events["apiVersion"] == "kafka.strimzi.io/v1"
    assert events["metadata"]["labels"]["strimzi.io/cluster"] == "demo"
    assert events["spec"]["partitions"] == 8
    assert not [o for o in build(spec()) if o["kind"] == "KafkaTopic"]
    monitors = [o for o in objs.values() if o["kind"] == "ServiceMonitor"]
    assert len(monitors) == 3
    for m in monitors:
        assert m["metadata"]["labels"]["release"] == "kube-prometheus-stack"
        svc = objs[f"Service/{m['metadata']['name']}"]
        assert m["spec"]["selector"]["matchLabels"].items() <= svc["spec"]["selector"].items()
        assert m["spec"]["endpoints"][0]["port"] in {p["name"] for p in svc["spec"]["ports"]}
    none = by_key(build(MATRIX["no-generator-no-training-none"]))
    assert not any(k.startswith(("ServiceMonitor", "CronJob/demo-training", "PersistentVolumeClaim")) for k in none)
    assert "Deployment/demo-generator" not in none


def test_labels_selectors_and_pdbs() -> None:
    objs = build(spec())
    for obj in objs:
        labels = obj["metadata"]["labels"]
        assert labels["app.kubernetes.io/instance"] == "demo"
        assert labels["app.kubernetes.io/managed-by"] == "secustream-operator"
        if obj["kind"] == "Deployment":
            sel = obj["spec"]["selector"]["matchLabels"]
            assert sel.items() <= obj["spec"]["template"]["metadata"]["labels"].items()
    pdbs = [o for o in objs if o["kind"] == "PodDisruptionBudget"]
    assert {p["metadata"]["name"] for p in pdbs} == {"demo-api", "demo-analyzer"}
    assert all(p["spec"]["maxUnavailable"] == 1 for p in pdbs)
    digest = by_key(build(MATRIX["custom-resources-digest"]))["Deployment/demo-api"]
    assert digest["spec"]["template"]["spec"]["containers"][0]["image"] == "ghcr.io/x/secustream@sha256:" + "a" * 64
    assert len(digest["metadata"]["labels"]["app.kubernetes.io/version"]) <= 63


def checksums(objs: list[dict[str, Any]]) -> set[str]:
    return {p["metadata"]["annotations"][CHECKSUM_ANNOTATION] for o in objs if o["kind"] == "Deployment"
            for p in [o["spec"]["template"]]}


def test_checksum_changes_with_config_only() -> None:
    base = checksums(build(spec()))
    assert len(base) == 1
    assert checksums(build(spec())) == base, "deterministic"
    assert checksums(build(spec(**{"analyzer.tiers.model.batchSize": 8}))) != base
    assert checksums(build(spec(**{"rules.files": {"a.yaml": "[]"}}))) != base
    assert checksums(build(spec(**{"api.replicas": 5}))) == base, "replicas are not config"


def test_owner_references_via_adopt() -> None:
    owner = {"apiVersion": "secustream.io/v1alpha1", "kind": "SecuStreamPipeline",
             "metadata": {"name": "demo", "namespace": "ns1", "uid": "uid-1", "labels": {"team": "soc"}}}
    objs = build(spec(**{"kafka.strimziCluster": "demo", "analyzer.autoscaling.mode": "keda"}))
    kopf.adopt(objs, owner=owner)
    for obj in objs:
        (ref,) = obj["metadata"]["ownerReferences"]
        assert ref["uid"] == "uid-1" and ref["controller"] is True and ref["kind"] == "SecuStreamPipeline"
        assert obj["metadata"]["namespace"] == "ns1"
        assert obj["metadata"]["name"].startswith("demo-")
