"""The CRD's schema: structural, defaults equal the operator's, samples accepted, bad specs rejected."""

from __future__ import annotations

from typing import Any

import pytest

from secustream_operator.spec import DEFAULTS, merge_defaults, validate
from tests.operator import crdschema
from tests.operator.conftest import load_samples
from tests.operator.specs import MINIMAL, spec


def walk(node: dict[str, Any], path: str = "") -> list[tuple[str, dict[str, Any]]]:
    out = [(path, node)]
    for key, sub in (node.get("properties") or {}).items():
        out += walk(sub, f"{path}.{key}")
    if isinstance(node.get("items"), dict):
        out += walk(node["items"], f"{path}[]")
    if isinstance(node.get("additionalProperties"), dict):
        out += walk(node["additionalProperties"], f"{path}{{}}")
    return out


def test_crd_identity_and_columns(crd: dict[str, Any]) -> None:
    assert crd["metadata"]["name"] == "secustreampipelines.secustream.io"
    assert crd["spec"]["names"]["shortNames"] == ["ssp"]
    version = crd["spec"]["versions"][0]
    assert version["name"] == "v1alpha1" and version["served"] and version["storage"]
    assert version["subresources"] == {"status": {}}
    columns = [c["name"] for c in version["additionalPrinterColumns"]]
    for wanted in ("Phase", "Lag", "Analyzers", "Ready", "Age"):
        assert wanted in columns


def test_schema_is_structural(crd_schema: dict[str, Any]) -> None:
    """Every node has a type (or is int-or-string / preserve-unknown), as the API server requires."""
    for path, node in walk(crd_schema):
        assert "type" in node or node.get("x-kubernetes-int-or-string") or node.get(
            "x-kubernetes-preserve-unknown-fields"), f"{path or '<root>'} has no type"
        if "anyOf" in node:
            assert node.get("x-kubernetes-int-or-string"), f"{path}: anyOf only for int-or-string"


def test_crd_defaults_equal_operator_defaults(crd_schema: dict[str, Any]) -> None:
    """Server-side defaulting of a minimal spec gives exactly what the operator assumes."""
    defaulted = crdschema.apply_defaults(crd_schema["properties"]["spec"], MINIMAL)
    assert defaulted == merge_defaults(MINIMAL)
    assert set(DEFAULTS) <= set(crd_schema["properties"]["spec"]["properties"])


@pytest.mark.parametrize("name", ["pipeline", "pipeline-gpu"])
def test_samples_accepted_by_crd_and_operator(name: str, crd_schema: dict[str, Any]) -> None:
    sample = load_samples()[name]
    assert sample["apiVersion"] == "secustream.io/v1alpha1"
    assert crdschema.validate(crd_schema, sample) == []
    assert validate(merge_defaults(sample["spec"])) == []


def without(path: str) -> dict[str, Any]:
    out = spec()
    *parents, leaf = path.split(".")
    node = out
    for p in parents:
        node = node[p]
    del node[leaf]
    return out


# (case, spec, text expected in the CRD's reason, operator must reject too)
BAD: list[tuple[str, dict[str, Any], str, bool]] = [
    ("no kafka", without("kafka"), "'kafka' is a required property", True),
    ("no bootstrap", spec(kafka={}), "'bootstrapServers' is a required property", True),
    ("zero partitions", spec(**{"kafka.partitions": 0}), "less than the minimum of 1", True),
    ("string partitions", spec(**{"kafka.partitions": "many"}), "is not of type 'integer'", True),
    ("unknown mode", spec(**{"analyzer.autoscaling.mode": "magic"}), "'magic' is not one of", True),
    ("min > max", spec(**{"analyzer.replicas": {"min": 5, "max": 2}}), "min must not exceed max", True),
    ("redis neither", spec(redis={}), "set redis.url or redis.secretRef", True),
    ("same topics", spec(**{"kafka.resultsTopic": "security-events"}), "must differ", True),
    ("gpu count 0", spec(**{"analyzer.gpu": {"enabled": True, "count": 0}}), "less than the minimum of 1", True),
    ("pull policy", spec(**{"image.pullPolicy": "Sometimes"}), "'Sometimes' is not one of", True),
    ("db secret name", spec(database={"secretRef": {"key": "uri"}}), "'name' is a required property", True),
    ("no jwt", spec(api={}), "'jwtSecretRef' is a required property", True),
    ("confidence > 1", spec(**{"analyzer.tiers.model.escalateBelowConfidence": 1.5}), "greater than the maximum",
     True),
    ("negative lag threshold", spec(**{"analyzer.autoscaling.lagThreshold": -1}), "less than the minimum", True),
    ("bad topic name", spec(**{"kafka.topic": "has space"}), "does not match", True),
    ("typo field", spec(**{"analyzer.replica": {"min": 1}}), "Additional properties are not allowed", False),
    ("scrape interval", spec(**{"monitoring.interval": "30 seconds"}), "does not match", False),
    ("redis scheme", spec(redis={"url": "http://redis:6379"}), "does not match", False),
    ("proxy not a cidr", spec(**{"api.trustedProxies": ["ingress-nginx"]}), "does not match", True),
    ("gpu resource", spec(**{"analyzer.gpu": {"enabled": True, "resourceName": "gpu"}}), "does not match", True),
]


@pytest.mark.parametrize(("case", "bad", "reason", "operator_too"), BAD, ids=[b[0] for b in BAD])
def test_bad_specs_rejected_with_reason(case: str, bad: dict[str, Any], reason: str, operator_too: bool,
                                        crd_schema: dict[str, Any]) -> None:
    obj = {"apiVersion": "secustream.io/v1alpha1", "kind": "SecuStreamPipeline",
           "metadata": {"name": "x"}, "spec": bad}
    errors = crdschema.validate(crd_schema, obj)
    assert errors, f"{case}: CRD schema accepted a bad spec"
    assert any(reason in e for e in errors), errors
    if operator_too:
        assert validate(merge_defaults(bad)), f"{case}: operator accepted a bad spec"


def test_minimal_spec_is_valid(crd_schema: dict[str, Any]) -> None:
    obj = {"apiVersion": "secustream.io/v1alpha1", "kind": "SecuStreamPipeline", "metadata": {"name": "x"},
           "spec": spec()}
    assert crdschema.validate(crd_schema, obj) == []
    assert validate(merge_defaults(spec())) == []
