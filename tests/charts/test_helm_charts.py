"""helm lint + helm template of every chart over a values matrix; every rendered object validates.

Built-in kinds: kubernetes-validate (strict, Kubernetes 1.35). Strimzi, CloudNativePG,
prometheus-operator and KEDA kinds: the upstream CRD schemas in ../shared/k8s-schemas.
SecuStreamPipeline: crds/secustreampipeline.yaml (schema + CEL rules).
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.charts import helmutil, schemas
from tests.charts.conftest import CHARTS, REPO
from tests.charts.helmutil import find

OPERATOR_MATRIX: dict[str, dict[str, Any]] = {
    "default": {},
    "monitoring-off": {"metrics": {"serviceMonitor": {"enabled": False}}},
    "standalone-one-replica": {"replicaCount": 1, "peering": {"enabled": False}},
    "namespaced": {"watchNamespaces": ["team-a", "team-b"], "image": {"tag": "dev"}},
}
PLATFORM_MATRIX: dict[str, dict[str, Any]] = {
    "default": {},
    "gpu": {"gpu": {"enabled": True, "count": 2}},
    "keda": {"keda": {"enabled": True}},
    "monitoring-off": {"monitoring": {"enabled": False}},
    "gpu-keda-monitoring-off": {"gpu": {"enabled": True}, "keda": {"enabled": True},
                                "monitoring": {"enabled": False}},
    "external-services": {"kafka": {"enabled": False, "externalBootstrapServers": "kafka.example:9092"},
                          "postgres": {"enabled": False, "externalSecret": {"name": "pg", "key": "url"}},
                          "redis": {"enabled": False, "externalUrl": "redis://redis.example:6379/0"}},
    "persistent-ha": {"kafka": {"replicas": 3, "storage": {"type": "jbod", "volumes": [
                          {"id": 0, "type": "persistent-claim", "size": "20Gi", "deleteClaim": False,
                           "kraftMetadata": "shared"}]}},
                      "postgres": {"instances": 3, "storage": {"size": "20Gi", "storageClass": "standard"}},
                      "redis": {"persistence": {"enabled": True, "size": "2Gi"}},
                      "pipeline": {"name": "prod", "image": {"repository": "registry.example/secustream",
                                                             "tag": "1.0.0"},
                                   "spec": {"api": {"replicas": 3}, "analyzer": {"replicas": {"max": 12}}}}},
}
DEPS_MATRIX: dict[str, dict[str, Any]] = {
    "default": {},
    "keda": {"components": {"keda": True}},
    "bring-your-own-monitoring": {"components": {"kubePrometheusStack": False}},
}


def assert_valid(docs: list[dict[str, Any]], schemas_dir: Path) -> None:
    problems = [e for d in docs for e in schemas.errors(d, schemas_dir)]
    assert problems == []


def assert_hardened(docs: list[dict[str, Any]]) -> None:
    """The design's container conventions on every workload we render."""
    for d in docs:
        if d["kind"] not in ("Deployment", "StatefulSet"):
            continue
        pod = d["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True, d["metadata"]["name"]
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        for c in pod["containers"]:
            sc = c["securityContext"]
            assert sc["readOnlyRootFilesystem"] is True and sc["allowPrivilegeEscalation"] is False
            assert sc["capabilities"] == {"drop": ["ALL"]}
            assert c["resources"]["requests"] and c["resources"]["limits"], c["name"]
            assert c["livenessProbe"] and c["readinessProbe"], c["name"]


# ---------------------------------------------------------------- lint

@pytest.mark.parametrize("chart", ["secustream-operator", "secustream-platform", "secustream-platform-deps"])
def test_helm_lint_strict(helm: str, chart: str, tmp_path: Path) -> None:
    path = helmutil.with_standins(chart, tmp_path)
    out = helmutil.run(helm, "lint", "--strict", str(path))
    assert "0 chart(s) failed" in out.stdout


def test_every_chart_has_the_documented_files() -> None:
    for chart in ("secustream-operator", "secustream-platform", "secustream-platform-deps"):
        root = CHARTS / chart
        for name in ("Chart.yaml", "values.yaml", "values.schema.json", "templates/_helpers.tpl",
                     "templates/NOTES.txt"):
            assert (root / name).is_file(), f"{chart}/{name}"
        values = (root / "values.yaml").read_text().splitlines()
        # every top-level key is preceded by a comment line ("documented line by line")
        for i, line in enumerate(values):
            if re.match(r"^[A-Za-z][\w-]*:", line):
                above = [v for v in values[max(0, i - 3):i] if v.strip()]
                assert above and above[-1].lstrip().startswith("#"), f"{chart}: undocumented key {line!r}"


# ---------------------------------------------------------------- operator chart

@pytest.mark.parametrize("case", sorted(OPERATOR_MATRIX))
def test_operator_chart_renders_and_validates(helm: str, schemas_dir: Path, tmp_path: Path, case: str) -> None:
    values = helmutil.values_file(tmp_path, case, OPERATOR_MATRIX[case])
    docs = helmutil.template(helm, CHARTS / "secustream-operator", "secustream-operator", "secustream-system", values)
    assert_valid(docs, schemas_dir)
    assert_hardened(docs)
    (dep,) = find(docs, "Deployment")
    pod = dep["spec"]["template"]["spec"]
    args = pod["containers"][0]["args"]
    if case == "standalone-one-replica":
        assert dep["spec"]["replicas"] == 1 and "--standalone" in args
        assert not find(docs, "ClusterKopfPeering") and not find(docs, "PodDisruptionBudget")
    else:
        assert dep["spec"]["replicas"] == 2 and "--peering=secustream-operator" in args
        assert find(docs, "ClusterKopfPeering", "secustream-operator")
    monitors = find(docs, "ServiceMonitor")
    if case == "monitoring-off":
        assert monitors == []
    else:
        (sm,) = monitors
        assert sm["metadata"]["labels"]["release"] == "secustream-deps"
        assert sm["spec"]["endpoints"][0]["port"] == "metrics" and sm["spec"]["endpoints"][0]["honorLabels"]
        (svc,) = find(docs, "Service")
        assert svc["spec"]["selector"] == sm["spec"]["selector"]["matchLabels"]
        assert svc["spec"]["selector"].items() <= pod_labels(dep).items()
    if case == "namespaced":
        assert {"--namespace=team-a", "--namespace=team-b"} <= set(args)
        assert pod["containers"][0]["image"] == "secustream-operator:dev"
    ports = {p["name"]: p["containerPort"] for p in pod["containers"][0]["ports"]}
    assert ports == {"health": 8080, "metrics": 9090}, "the ports secustream_operator.main listens on"


def pod_labels(workload: dict[str, Any]) -> dict[str, str]:
    return workload["spec"]["template"]["metadata"]["labels"]


def test_operator_chart_crd_is_the_one_source(helm: str) -> None:
    docs = helmutil.template(helm, CHARTS / "secustream-operator", "op", "secustream-system")
    (crd,) = find(docs, "CustomResourceDefinition", "secustreampipelines.secustream.io")
    assert crd == yaml.safe_load((REPO / "crds" / "secustreampipeline.yaml").read_text())
    link = CHARTS / "secustream-operator" / "crds" / "secustreampipeline.yaml"
    assert link.is_symlink() and link.resolve() == (REPO / "crds" / "secustreampipeline.yaml").resolve()


def test_operator_chart_matches_the_kustomize_base(helm: str, kubectl: str) -> None:
    """Peering CRDs and RBAC rules are the same as manifests/ (no drift between the two installs)."""
    out = subprocess.run([kubectl, "kustomize", str(REPO / "manifests")], capture_output=True, text=True,
                         timeout=60, check=True)
    base = [d for d in yaml.safe_load_all(out.stdout) if d]
    docs = helmutil.template(helm, CHARTS / "secustream-operator", "op", "secustream-system")
    for name in ("clusterkopfpeerings.kopf.dev", "kopfpeerings.kopf.dev"):
        (a,) = find(base, "CustomResourceDefinition", name)
        (b,) = find(docs, "CustomResourceDefinition", name)
        assert a["spec"] == b["spec"], name
    (role_a,) = find(base, "ClusterRole")
    (role_b,) = find(docs, "ClusterRole")
    assert role_a["rules"] == role_b["rules"]


# ---------------------------------------------------------------- platform chart

@pytest.mark.parametrize("case", sorted(PLATFORM_MATRIX))
def test_platform_chart_renders_and_validates(helm: str, schemas_dir: Path, tmp_path: Path, case: str) -> None:
    overrides = PLATFORM_MATRIX[case]
    values = helmutil.values_file(tmp_path, case, overrides)
    docs = helmutil.template(helm, CHARTS / "secustream-platform", "secustream", "secustream", values)
    assert_valid(docs, schemas_dir)
    assert_hardened(docs)
    (ssp,) = find(docs, "SecuStreamPipeline")
    spec = ssp["spec"]
    name = ssp["metadata"]["name"]

    # wiring: every connection points at an object this release (or the user) provides
    if overrides.get("kafka", {}).get("enabled", True):
        (kafka,) = find(docs, "Kafka")
        assert kafka["apiVersion"] == "kafka.strimzi.io/v1"
        (pool,) = find(docs, "KafkaNodePool")
        assert pool["metadata"]["labels"]["strimzi.io/cluster"] == kafka["metadata"]["name"]
        assert set(pool["spec"]["roles"]) == {"controller", "broker"}
        assert "kafkaExporter" in kafka["spec"] and "topicOperator" in kafka["spec"]["entityOperator"]
        assert spec["kafka"]["bootstrapServers"] == f"{kafka['metadata']['name']}-kafka-bootstrap:9092"
        assert spec["kafka"]["strimziCluster"] == kafka["metadata"]["name"]
        rf = min(3, pool["spec"]["replicas"])
        assert kafka["spec"]["kafka"]["config"]["default.replication.factor"] == rf
        assert spec["kafka"]["replicationFactor"] == rf
    else:
        assert not find(docs, "Kafka") and spec["kafka"]["bootstrapServers"] == "kafka.example:9092"
        assert "strimziCluster" not in spec["kafka"]
    if overrides.get("postgres", {}).get("enabled", True):
        (pg,) = find(docs, "Cluster")
        assert spec["database"]["secretRef"] == {"name": f"{pg['metadata']['name']}-app", "key": "uri"}
    else:
        assert spec["database"]["secretRef"] == {"name": "pg", "key": "url"}
    if overrides.get("redis", {}).get("enabled", True):
        (sts,) = find(docs, "StatefulSet")
        (svc,) = [s for s in find(docs, "Service") if s["metadata"]["name"] == sts["spec"]["serviceName"]]
        assert svc["spec"]["selector"].items() <= pod_labels(sts).items()
        assert spec["redis"]["url"] == f"redis://{svc['metadata']['name']}:6379/0"
        assert {c["name"] for c in sts["spec"]["template"]["spec"]["containers"]} == {"redis", "exporter"}
    else:
        assert spec["redis"]["url"] == "redis://redis.example:6379/0"
    (jwt,) = find(docs, "Secret")
    assert spec["api"]["jwtSecretRef"] == {"name": jwt["metadata"]["name"], "key": "secret"}
    assert len(jwt["data"]["secret"]) >= 48

    # toggles
    gpu = overrides.get("gpu", {}).get("enabled", False)
    assert spec["analyzer"]["gpu"]["enabled"] is gpu
    if gpu:
        assert spec["analyzer"]["gpu"]["resourceName"] == "nvidia.com/gpu"
        assert spec["analyzer"]["gpu"]["runtimeClassName"] == "nvidia"
        assert spec["analyzer"]["gpu"]["count"] == overrides["gpu"].get("count", 1)
    keda = overrides.get("keda", {}).get("enabled", False)
    assert spec["analyzer"]["autoscaling"]["mode"] == ("keda" if keda else "builtin")
    monitoring = overrides.get("monitoring", {}).get("enabled", True)
    assert spec["monitoring"]["serviceMonitor"] is monitoring
    monitoring_kinds = [d for d in docs if d["apiVersion"].startswith("monitoring.coreos.com/")]
    dashboards = [d for d in find(docs, "ConfigMap") if d["metadata"]["labels"].get("grafana_dashboard") == "1"]
    if monitoring:
        assert {d["kind"] for d in monitoring_kinds} >= {"PrometheusRule"}
        assert bool(find(docs, "ServiceMonitor")) is overrides.get("redis", {}).get("enabled", True)
        assert len(find(docs, "PodMonitor")) == (2 if case != "external-services" else 0)
        for d in monitoring_kinds:
            assert d["metadata"]["labels"]["release"] == spec["monitoring"]["prometheusReleaseLabel"]
        assert len(dashboards) == 3
    else:
        assert monitoring_kinds == [] and dashboards == []
    if case == "persistent-ha":
        assert name == "prod" and spec["image"] == {"repository": "registry.example/secustream", "tag": "1.0.0",
                                                    "pullPolicy": "IfNotPresent"}
        assert spec["api"]["replicas"] == 3 and spec["analyzer"]["replicas"] == {"min": 1, "max": 12}
        (sts,) = find(docs, "StatefulSet")
        assert sts["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"] == "2Gi"


def test_platform_dashboards_and_rules_are_the_repo_files(helm: str) -> None:
    docs = helmutil.template(helm, CHARTS / "secustream-platform", "secustream", "secustream")
    shipped = {}
    for cm in find(docs, "ConfigMap"):
        for key, text in cm["data"].items():
            shipped[key] = json.loads(text)
    files = {p.name: json.loads(p.read_text()) for p in (REPO / "grafana" / "dashboards").glob("*.json")}
    assert shipped == files and len(files) == 3
    (rule,) = find(docs, "PrometheusRule")
    source = yaml.safe_load((REPO / "prometheus" / "rules" / "secustream.rules.yaml").read_text())
    assert rule["spec"]["groups"] == source["groups"]
    for link, target in (("dashboards", "grafana/dashboards"), ("rules", "prometheus/rules")):
        path = CHARTS / "secustream-platform" / link
        assert path.is_symlink() and path.resolve() == (REPO / target).resolve()


@pytest.mark.parametrize(("values", "message"), [
    ({"pipeline": {"name": "Bad_Name"}}, "/pipeline/name"),
    ({"kafka": {"replicas": 0}}, "/kafka/replicas"),
    ({"redis": {"externalUrl": "http://nope"}}, "/redis/externalUrl"),
    ({"monitoring": {"intervall": "30s"}}, "intervall"),
    ({"kafka": {"enabled": False}}, "kafka.externalBootstrapServers is required"),
])
def test_platform_values_are_checked(helm: str, tmp_path: Path, values: dict[str, Any], message: str) -> None:
    path = helmutil.values_file(tmp_path, "bad", values)
    out = helmutil.run(helm, "template", "x", str(CHARTS / "secustream-platform"), "--values", str(path),
                       check=False)
    assert out.returncode != 0 and message in out.stderr


def test_operator_values_are_checked(helm: str, tmp_path: Path) -> None:
    path = helmutil.values_file(tmp_path, "bad", {"replicaCount": 2, "peering": {"enabled": False}})
    out = helmutil.run(helm, "template", "x", str(CHARTS / "secustream-operator"), "--values", str(path), check=False)
    assert out.returncode != 0 and "needs peering.enabled=true" in out.stderr


def test_validation_can_fail(helm: str, schemas_dir: Path) -> None:
    """Guard against a validator that accepts anything: a typo in each kind is caught."""
    docs = helmutil.template(helm, CHARTS / "secustream-platform", "secustream", "secustream")
    broken = {
        "Kafka": lambda d: d["spec"].__setitem__("kafkaExporterr", {}),
        "KafkaNodePool": lambda d: d["spec"].__setitem__("replicas", "one"),
        "Cluster": lambda d: d["spec"].__setitem__("instance", 1),
        "PodMonitor": lambda d: d["spec"]["podMetricsEndpoints"][0].__setitem__("portt", "x"),
        "PrometheusRule": lambda d: d["spec"]["groups"][0]["rules"][0].__setitem__("exp", "x"),
        "SecuStreamPipeline": lambda d: d["spec"]["analyzer"].__setitem__("replicas", {"min": 5, "max": 2}),
        "StatefulSet": lambda d: d["spec"]["template"]["spec"]["containers"][0].__setitem__("imagee", "x"),
    }
    for kind, mutate in broken.items():
        doc = json.loads(json.dumps(find(docs, kind)[0]))
        assert schemas.errors(doc, schemas_dir) == []
        mutate(doc)
        assert schemas.errors(doc, schemas_dir), f"{kind}: a broken object validated"
    v1beta2 = json.loads(json.dumps(find(docs, "Kafka")[0]))
    v1beta2["apiVersion"] = "kafka.strimzi.io/v1beta2"
    assert schemas.errors(v1beta2, schemas_dir), "Strimzi 1.x serves kafka.strimzi.io/v1 only"


# ---------------------------------------------------------------- platform-deps chart

@pytest.mark.parametrize("case", sorted(DEPS_MATRIX))
def test_platform_deps_render_with_standins(helm: str, schemas_dir: Path, tmp_path: Path, case: str) -> None:
    chart = helmutil.with_standins("secustream-platform-deps", tmp_path)
    values = helmutil.values_file(tmp_path, case, DEPS_MATRIX[case])
    docs = helmutil.template(helm, chart, "secustream-deps", "secustream-system", values)
    assert_valid(docs, schemas_dir)  # our own templates render nothing but NOTES: the operators are the deps


def test_every_dependency_is_pinned() -> None:
    meta = yaml.safe_load((CHARTS / "secustream-platform-deps" / "Chart.yaml").read_text())
    deps = {d["name"]: d for d in meta["dependencies"]}
    assert {n: d["version"] for n, d in deps.items()} == {
        "strimzi-kafka-operator": "1.2.0", "cloudnative-pg": "0.29.0",
        "kube-prometheus-stack": "88.5.3", "keda": "2.20.2"}
    assert deps["strimzi-kafka-operator"]["repository"] == "oci://quay.io/strimzi-helm"
    assert deps["cloudnative-pg"]["repository"] == "https://cloudnative-pg.github.io/charts"
    assert deps["kube-prometheus-stack"]["repository"] == "https://prometheus-community.github.io/helm-charts"
    assert deps["keda"]["repository"] == "https://kedacore.github.io/charts"
    assert deps["keda"]["condition"] == "components.keda"
    values = yaml.safe_load((CHARTS / "secustream-platform-deps" / "values.yaml").read_text())
    assert values["components"]["keda"] is False, "KEDA is optional"
    for chart in CHARTS.iterdir():
        for dep in yaml.safe_load((chart / "Chart.yaml").read_text()).get("dependencies") or []:
            assert re.fullmatch(r"\d+\.\d+\.\d+", str(dep["version"])), f"{chart.name}: {dep['name']} not pinned"
    for img in ("redis", "exporter"):
        image = (yaml.safe_load((CHARTS / "secustream-platform" / "values.yaml").read_text())["redis"]
                 if img == "redis" else
                 yaml.safe_load((CHARTS / "secustream-platform" / "values.yaml").read_text())["redis"]["exporter"])
        assert re.fullmatch(r"v?\d+\.\d+\.\d+(-alpine)?", image["image"]["tag"]), image


def test_kube_prometheus_stack_selects_our_monitors_and_dashboards() -> None:
    """The deps values make kube-prometheus-stack pick up what the other releases create."""
    kps = yaml.safe_load((CHARTS / "secustream-platform-deps" / "values.yaml").read_text())["kube-prometheus-stack"]
    spec = kps["prometheus"]["prometheusSpec"]
    assert spec["serviceMonitorSelectorNilUsesHelmValues"] is False
    assert spec["podMonitorSelectorNilUsesHelmValues"] is False and spec["ruleSelectorNilUsesHelmValues"] is False
    sidecar = kps["grafana"]["sidecar"]["dashboards"]
    platform = yaml.safe_load((CHARTS / "secustream-platform" / "values.yaml").read_text())["monitoring"]
    ours = (platform["dashboards"]["label"], platform["dashboards"]["labelValue"])
    assert (sidecar["label"], sidecar["labelValue"]) == ours == ("grafana_dashboard", "1")
    assert sidecar["searchNamespace"] == "ALL"
