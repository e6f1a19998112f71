"""Offline validation of rendered objects: built-in kinds with kubernetes-validate, custom kinds
against the upstream CRDs' openAPIV3Schema (strict: an unknown field is an error, as with
``kubectl apply --validate=strict``), our own kind against crds/secustreampipeline.yaml.

CEL rules (x-kubernetes-validations) of upstream CRDs are not evaluated; our own CRD's are
(tests.operator.crdschema).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import yaml

from tests.charts.conftest import K8S_VERSION, REPO

UPSTREAM = {
    ("kafka.strimzi.io/v1", "Kafka"): "strimzi/Kafka.yaml",
    ("kafka.strimzi.io/v1", "KafkaNodePool"): "strimzi/KafkaNodePool.yaml",
    ("kafka.strimzi.io/v1", "KafkaTopic"): "strimzi/KafkaTopic.yaml",
    ("postgresql.cnpg.io/v1", "Cluster"): "cloudnative-pg/Cluster.yaml",
    ("monitoring.coreos.com/v1", "ServiceMonitor"): "prometheus-operator/ServiceMonitor.yaml",
    ("monitoring.coreos.com/v1", "PodMonitor"): "prometheus-operator/PodMonitor.yaml",
    ("monitoring.coreos.com/v1", "PrometheusRule"): "prometheus-operator/PrometheusRule.yaml",
    ("keda.sh/v1alpha1", "ScaledObject"): "keda/ScaledObject.yaml",
}
OWN_CRD = REPO / "crds" / "secustreampipeline.yaml"


def to_jsonschema(node: Any) -> Any:
    """Kubernetes OpenAPI v3 -> JSON Schema, rejecting unknown fields where the schema lists properties."""
    if isinstance(node, list):
        return [to_jsonschema(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: to_jsonschema(v) for k, v in node.items()
           if not k.startswith("x-kubernetes-") and k not in ("nullable", "default", "format")}
    if node.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if node.get("nullable") and "type" in out:
        out["type"] = [out["type"], "null"]
    if (node.get("type") == "object" and "properties" in node and "additionalProperties" not in node
            and not node.get("x-kubernetes-preserve-unknown-fields")):
        out["additionalProperties"] = False
    return out


@cache
def crd_validator(schemas_dir: Path, api_version: str, kind: str) -> jsonschema.Draft7Validator:
    path = OWN_CRD if api_version.startswith("secustream.io/") else schemas_dir / "crds" / UPSTREAM[(api_version, kind)]
    crd = yaml.safe_load(path.read_text())
    assert crd["spec"]["names"]["kind"] == kind
    version = api_version.split("/")[1]
    matches = [v for v in crd["spec"]["versions"] if v["name"] == version]
    assert matches and matches[0]["served"], f"{api_version} {kind} is not served by {path}"
    schema = to_jsonschema(matches[0]["schema"]["openAPIV3Schema"])
    # metadata is validated by the API server's ObjectMeta, not by the CRD schema
    schema.setdefault("properties", {})["metadata"] = {"type": "object"}
    return jsonschema.Draft7Validator(schema)


def errors(obj: dict[str, Any], schemas_dir: Path) -> list[str]:
    """Reasons the API server would reject ``obj``; [] when it is accepted."""
    key = (obj.get("apiVersion", ""), obj.get("kind", ""))
    name = f"{key[1]}/{(obj.get('metadata') or {}).get('name')}"
    if key in UPSTREAM or key[0].startswith("secustream.io/"):
        found = [f"{name}: {'.'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}"
                 for e in crd_validator(schemas_dir, *key).iter_errors(obj)]
        if not found and key[0].startswith("secustream.io/"):
            from tests.operator import crdschema  # CEL rules and defaulting of our own CRD

            own = yaml.safe_load(OWN_CRD.read_text())["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
            found = [f"{name}: {e}" for e in crdschema.validate(own, obj)]
        return found
    if key[0] == "kopf.dev/v1":
        return [] if key[1] in ("ClusterKopfPeering", "KopfPeering") else [f"{name}: unknown kopf kind"]
    try:
        kubernetes_validate.validate(obj, K8S_VERSION, strict=True)
    except kubernetes_validate.ValidationError as exc:
        return [f"{name}: {exc.message} at {list(exc.path)}"]
    except kubernetes_validate.SchemaNotFoundError:
        return [f"{name}: no schema for {key[0]} {key[1]} (not a Kubernetes {K8S_VERSION} kind, no CRD here)"]
    return []
