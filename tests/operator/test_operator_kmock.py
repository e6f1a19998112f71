"""The real operator (Kopf) against kmock's Kubernetes emulator: create, update, drift, bad specs."""

from __future__ import annotations

from typing import Any

import pytest

from tests.operator.kopf_env import Api, declare, env, eventually, pipeline, running_operator, secret
from tests.operator.specs import spec

pytestmark = pytest.mark.asyncio

EXPECTED = {
    ("v1", "ConfigMap", "demo-config"), ("apps/v1", "Deployment", "demo-generator"),
    ("apps/v1", "Deployment", "demo-api"), ("apps/v1", "Deployment", "demo-analyzer"),
    ("v1", "Service", "demo-api"), ("v1", "Service", "demo-analyzer"), ("v1", "Service", "demo-generator"),
    ("monitoring.coreos.com/v1", "ServiceMonitor", "demo-analyzer"),
    ("policy/v1", "PodDisruptionBudget", "demo-api"), ("policy/v1", "PodDisruptionBudget", "demo-analyzer"),
    ("keda.sh/v1alpha1", "ScaledObject", "demo-analyzer"), ("kafka.strimzi.io/v1", "KafkaTopic", "demo-events"),
    ("kafka.strimzi.io/v1", "KafkaTopic", "demo-dlq"), ("batch/v1", "CronJob", "demo-training"),
    ("batch/v1", "CronJob", "demo-retention"),
    ("v1", "PersistentVolumeClaim", "demo-models"),
}

DEMO = spec(**{"kafka.bootstrapServers": "127.0.0.1:1", "kafka.strimziCluster": "demo",
               "analyzer.autoscaling.mode": "keda", "analyzer.gpu.enabled": True})


def condition(obj: dict[str, Any] | None, ctype: str) -> dict[str, Any]:
    conds = ((obj or {}).get("status") or {}).get("conditions") or []
    return next((c for c in conds if c["type"] == ctype), {})


async def test_operator_lifecycle(kmock: Any, monkeypatch: Any) -> None:
    declare(kmock)
    env(monkeypatch, kmock, resync="2", tick="10")  # 2 shared cores: no autoscale churn (keda mode here)
    api = Api(str(kmock.url))
    for obj in (secret("demo-db-app", "uri"), secret("secustream-jwt", "secret")):
        kmock.objects["v1/secrets", "ns1", obj["metadata"]["name"]] = obj
    kmock.objects["secustream.io/v1alpha1/secustreampipelines", "ns1", "demo"] = pipeline("demo", DEMO, "uid-demo")

    async with running_operator() as kopf_runner:
        # 1. every child is created, owned by the pipeline
        async def all_children() -> bool:
            for api_version, kind, name in EXPECTED:
                obj = await api.get(api_version, kind, name)
                if obj is None:
                    return False
                (ref,) = obj["metadata"]["ownerReferences"]
                assert ref["uid"] == "uid-demo" and ref["controller"] is True
            return True
        await eventually(all_children, what="all children")
        analyzer = await api.get("apps/v1", "Deployment", "demo-analyzer")
        assert analyzer is not None
        assert analyzer["spec"]["template"]["spec"]["runtimeClassName"] == "nvidia"

        # 2. status: phase, observedGeneration, conditions, components
        async def status() -> dict[str, Any] | None:
            obj = await api.get("secustream.io/v1alpha1", "SecuStreamPipeline", "demo")
            return obj if obj and (obj.get("status") or {}).get("phase") else None
        demo = await eventually(status, what="status")
        st = demo["status"]
        assert st["observedGeneration"] == 1
        assert st["phase"] == "Progressing", "emulator runs no pods, so nothing is ready"
        assert {c["type"] for c in st["conditions"]} == {"Ready", "Progressing", "Degraded"}
        assert condition(demo, "Ready")["status"] == "False"
        assert condition(demo, "Degraded")["status"] == "False", "keda mode: unreachable Kafka is not fatal"
        assert st["components"]["api"] == {"desired": 2, "ready": 0}
        # the pods becoming ready turns the pipeline Running
        for name in ("demo-generator", "demo-api", "demo-analyzer"):
            dep = await api.get("apps/v1", "Deployment", name)
            assert dep is not None
            await api.patch("apps/v1", "Deployment", name, {"status": {"readyReplicas": dep["spec"]["replicas"]}})
        running = await eventually(
            lambda: _phase(api, "demo", "Running"), what="phase Running")
        assert condition(running, "Ready")["status"] == "True"

        # 3. a spec change patches the children (config + checksum roll)
        before = (await api.get("apps/v1", "Deployment", "demo-api"))["spec"]["template"]["metadata"]["annotations"]
        await api.patch("secustream.io/v1alpha1", "SecuStreamPipeline", "demo", {
            "metadata": {"generation": 2}, "spec": {"generator": {"eventsPerSecond": 99}, "api": {"replicas": 3}}})

        async def updated() -> bool:
            cm = await api.get("v1", "ConfigMap", "demo-config")
            dep = await api.get("apps/v1", "Deployment", "demo-api")
            return bool(cm and dep and cm["data"]["GENERATOR_EVENTS_PER_SECOND"] == "99"
                        and dep["spec"]["replicas"] == 3)
        await eventually(updated, what="children patched after spec change")
        after = (await api.get("apps/v1", "Deployment", "demo-api"))["spec"]["template"]["metadata"]["annotations"]
        assert after != before, "config checksum changed, pods roll"

        # 4. drift: a deleted child comes back, a hand edit is undone
        await api.delete("apps/v1", "Deployment", "demo-api")
        await api.delete("monitoring.coreos.com/v1", "ServiceMonitor", "demo-api")
        await api.patch("apps/v1", "Deployment", "demo-generator", {"spec": {"template": {"spec": {
            "containers": [{"name": "generator", "image": "evil", "args": ["oops"]}]}}}})
        await eventually(lambda: api.get("apps/v1", "Deployment", "demo-api"), what="deleted deployment restored")
        await eventually(lambda: api.get("monitoring.coreos.com/v1", "ServiceMonitor", "demo-api"),
                         what="deleted ServiceMonitor restored")

        async def undone() -> bool:
            dep = await api.get("apps/v1", "Deployment", "demo-generator")
            return bool(dep) and dep["spec"]["template"]["spec"]["containers"][0]["args"] == ["generate"]
        await eventually(undone, what="hand edit reverted")

        # 5. an invalid spec: condition + event, no children; other pipelines still served
        bad = spec(**{"analyzer.replicas": {"min": 5, "max": 2}})
        await api.create(pipeline("bad", bad, "uid-bad"))
        invalid = await eventually(lambda: _phase(api, "bad", "Invalid"), what="bad pipeline Invalid")
        degraded = condition(invalid, "Degraded")
        assert degraded["status"] == "True" and degraded["reason"] == "InvalidSpec"
        assert "min (5) must not exceed max (2)" in degraded["message"]
        assert await api.get("apps/v1", "Deployment", "bad-api") is None

        async def warning_event() -> bool:
            events = await api.items("v1", "Event")
            return any(e.get("reason") == "InvalidSpec" and e.get("involvedObject", {}).get("name") == "bad"
                       and e.get("type") == "Warning" for e in events)
        await eventually(warning_event, what="InvalidSpec warning event")

        # a pipeline whose secret is missing: children applied, Degraded/SecretMissing
        await api.create(pipeline("nosecret", spec(**{"database.secretRef": {"name": "absent-db", "key": "uri"}}),
                                  "uid-nosecret"))
        degraded_secret = await eventually(lambda: _phase(api, "nosecret", "Degraded"), what="SecretMissing")
        assert condition(degraded_secret, "Degraded")["reason"] == "SecretMissing"
        assert "absent-db" in condition(degraded_secret, "Degraded")["message"]
        assert await api.get("apps/v1", "Deployment", "nosecret-analyzer") is not None

        # the good pipeline keeps being reconciled after the bad ones appeared
        await api.patch("secustream.io/v1alpha1", "SecuStreamPipeline", "demo", {
            "metadata": {"generation": 3}, "spec": {"generator": {"eventsPerSecond": 7}}})

        async def still_served() -> bool:
            cm = await api.get("v1", "ConfigMap", "demo-config")
            return bool(cm) and cm["data"]["GENERATOR_EVENTS_PER_SECOND"] == "7"
        await eventually(still_served, what="good pipeline still served")

        # 6. disabling a component prunes its children
        await api.patch("secustream.io/v1alpha1", "SecuStreamPipeline", "demo", {
            "metadata": {"generation": 4}, "spec": {"generator": {"enabled": False}}})

        async def pruned() -> bool:
            return await api.get("apps/v1", "Deployment", "demo-generator") is None
        await eventually(pruned, what="generator pruned")
    assert kopf_runner.exception is None
    assert "failed with an exception" not in kopf_runner.output, "no handler crashed"


async def _phase(api: Api, name: str, phase: str) -> dict[str, Any] | None:
    obj = await api.get("secustream.io/v1alpha1", "SecuStreamPipeline", name)
    return obj if obj and (obj.get("status") or {}).get("phase") == phase else None
