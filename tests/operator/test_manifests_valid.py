"""Every builder output, the kustomize base and the samples validate against real schemas.

Built-in kinds: kubernetes-validate (strict, Kubernetes 1.35). Custom kinds: the upstream CRD
schemas in ../shared/k8s-schemas (ServiceMonitor, ScaledObject, KafkaTopic).
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from secustream_operator import builders
from secustream_operator.spec import merge_defaults
from tests.operator import crdschema
from tests.operator.conftest import K8S_VERSION, REPO, load_samples
from tests.operator.specs import MATRIX

UPSTREAM = {
    ("monitoring.coreos.com/v1", "ServiceMonitor"): "prometheus-operator/ServiceMonitor.yaml",
    ("keda.sh/v1alpha1", "ScaledObject"): "keda/ScaledObject.yaml",
    ("kafka.strimzi.io/v1", "KafkaTopic"): "strimzi/KafkaTopic.yaml",
}


def upstream_schema(schemas_dir: Path, api_version: str, kind: str) -> dict[str, Any]:
    crd = yaml.safe_load((schemas_dir / "crds" / UPSTREAM[(api_version, kind)]).read_text())
    version = api_version.split("/")[1]
    (v,) = [v for v in crd["spec"]["versions"] if v["name"] == version]
    assert v["served"], f"{api_version} {kind} is not served upstream"
    return v["schema"]["openAPIV3Schema"]


def check(obj: dict[str, Any], schemas_dir: Path, own_crd: dict[str, Any] | None = None) -> None:
    key = (obj["apiVersion"], obj["kind"])
    if key in UPSTREAM:
        errors = crdschema.validate(upstream_schema(schemas_dir, *key), obj, strict=False)
        assert errors == [], f"{key}: {errors}"
    elif obj["apiVersion"].startswith("secustream.io/"):
        assert own_crd is not None
        assert crdschema.validate(own_crd, obj) == []
    elif obj["apiVersion"].startswith("kopf.dev/"):
        assert obj["kind"] in {"ClusterKopfPeering", "KopfPeering"}
    else:
        try:
            kubernetes_validate.validate(obj, K8S_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{obj['kind']}/{obj['metadata']['name']}: {exc.message} at {list(exc.path)}")


SPECS = {**MATRIX, **{f"sample-{k}": v["spec"] for k, v in load_samples().items()}}


@pytest.mark.parametrize("name", sorted(SPECS))
def test_builder_output_validates(name: str, schemas_dir: Path) -> None:
    objs = builders.build_children("demo", "ns1", merge_defaults(SPECS[name]), 3)
    assert objs
    kinds = set()
    for obj in objs:
        check(obj, schemas_dir)
        kinds.add(obj["kind"])
    assert {"ConfigMap", "Deployment", "Service", "PodDisruptionBudget"} <= kinds


def test_validation_can_fail(schemas_dir: Path) -> None:
    """Guard against a validator that accepts anything."""
    objs = builders.build_children("demo", "ns1", merge_defaults(MATRIX["gpu-keda-strimzi"]))
    deployment = next(o for o in objs if o["kind"] == "Deployment")
    deployment["spec"]["template"]["spec"]["containers"][0]["securityContext"]["readOnlyRootFs"] = True
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, K8S_VERSION, strict=True)
    topic = next(o for o in objs if o["kind"] == "KafkaTopic")
    topic["spec"]["partitions"] = "twelve"
    assert crdschema.validate(upstream_schema(schemas_dir, "kafka.strimzi.io/v1", "KafkaTopic"), topic,
                              strict=False)
    scaled = next(o for o in objs if o["kind"] == "ScaledObject")
    del scaled["spec"]["scaleTargetRef"]
    assert crdschema.validate(upstream_schema(schemas_dir, "keda.sh/v1alpha1", "ScaledObject"), scaled,
                              strict=False)


def test_kustomize_base_renders_and_validates(kubectl: str, schemas_dir: Path, crd: dict[str, Any]) -> None:
    out = subprocess.run([kubectl, "kustomize", str(REPO / "manifests")], capture_output=True, text=True,
                         timeout=60, check=False)
    assert out.returncode == 0, out.stderr
    docs = [d for d in yaml.safe_load_all(out.stdout) if d]
    kinds = {(d["kind"], d["metadata"]["name"]) for d in docs}
    assert ("CustomResourceDefinition", "secustreampipelines.secustream.io") in kinds
    assert ("Deployment", "secustream-operator") in kinds and ("ClusterRole", "secustream-operator") in kinds
    own = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    for doc in docs:
        check(doc, schemas_dir, own)
    rendered_crd = next(d for d in docs if d["metadata"]["name"] == "secustreampipelines.secustream.io")
    assert rendered_crd["spec"] == crd["spec"], "manifests reuse crds/secustreampipeline.yaml unchanged"
    deployment = next(d for d in docs if d["kind"] == "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    assert deployment["spec"]["replicas"] == 2 and pod["serviceAccountName"] == "secustream-operator"
    c = pod["containers"][0]
    assert c["securityContext"]["readOnlyRootFilesystem"] is True
    assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert c["command"] == ["secustream-operator"]


def test_rbac_covers_exactly_what_the_builders_emit(kubectl: str) -> None:
    """Least privilege: every emitted kind is writable, and nothing beyond is granted."""
    out = subprocess.run([kubectl, "kustomize", str(REPO / "manifests")], capture_output=True, text=True,
                         timeout=60, check=True)
    role = next(d for d in yaml.safe_load_all(out.stdout) if d and d["kind"] == "ClusterRole")
    grants: dict[tuple[str, str], set[str]] = {}
    for rule in role["rules"]:
        assert "*" not in rule["verbs"] and "*" not in rule["resources"]
        for group in rule["apiGroups"]:
            for res in rule["resources"]:
                grants.setdefault((group, res), set()).update(rule["verbs"])
    plural = {"ConfigMap": "configmaps", "Service": "services", "PersistentVolumeClaim": "persistentvolumeclaims",
              "Deployment": "deployments", "CronJob": "cronjobs", "PodDisruptionBudget": "poddisruptionbudgets",
              "ServiceMonitor": "servicemonitors", "ScaledObject": "scaledobjects", "KafkaTopic": "kafkatopics"}
    emitted = set()
    for raw in SPECS.values():
        for obj in builders.build_children("demo", "ns1", merge_defaults(raw)):
            group = obj["apiVersion"].rpartition("/")[0]
            emitted.add((group, plural[obj["kind"]]))
    for key in emitted:
        assert {"get", "create", "patch", "delete", "list"} <= grants[key], key
    assert grants[("", "secrets")] == {"get"}, "secrets: read one by name, never list"
    assert grants[("secustream.io", "secustreampipelines/status")] == {"get", "patch"}
    child_grants = {k for k, v in grants.items() if "create" in v}
    assert child_grants - emitted == {("", "events"), ("events.k8s.io", "events")}
