"""The documented install sequence (README, docs/deploy.md) matches the charts and skaffold.yaml."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import yaml

from tests.charts.conftest import CHARTS, REPO

EXPECTED = [("secustream-deps", "charts/secustream-platform-deps", "secustream-system"),
            ("secustream-operator", "charts/secustream-operator", "secustream-system"),
            ("secustream", "charts/secustream-platform", "secustream")]


def helm_installs(path: Path) -> list[tuple[str, str, str]]:
    out = []
    for line in re.sub(r"\\\n\s*", " ", path.read_text()).splitlines():
        line = line.split("#", 1)[0].strip()
        if not line.startswith("helm install "):
            continue
        argv = shlex.split(line)
        ns = argv[argv.index("-n") + 1]
        out.append((argv[2], argv[3], ns))
    return out


@pytest.mark.parametrize("doc", ["README.md", "docs/deploy.md"])
def test_documented_helm_sequence_is_the_tested_one(doc: str) -> None:
    assert helm_installs(REPO / doc) == EXPECTED
    text = (REPO / doc).read_text()
    assert "helm dependency build charts/secustream-platform-deps" in text
    assert text.index("helm dependency build") < text.index("helm install secustream-deps")
    for _, chart, _ in EXPECTED:
        assert (REPO / chart / "Chart.yaml").is_file()


def test_skaffold_deploys_the_documented_sequence() -> None:
    releases = yaml.safe_load((REPO / "skaffold.yaml").read_text())["deploy"]["helm"]["releases"]
    assert [(r["name"], r["chartPath"], r["namespace"]) for r in releases] == EXPECTED


def test_readme_section_and_deploy_guide_cover_the_issue() -> None:
    readme = (REPO / "README.md").read_text()
    assert "## Deploy on Kubernetes" in readme and "skaffold dev --profile kind" in readme
    guide = (REPO / "docs" / "deploy.md").read_text()
    for heading in ("## On a new kind cluster", "## `skaffold dev` on kind", "## GPU analyzers", "## Upgrade",
                    "## Uninstall"):
        assert heading in guide
    deps = yaml.safe_load((CHARTS / "secustream-platform-deps" / "Chart.yaml").read_text())["dependencies"]
    for dep in deps:
        assert re.search(rf"\*\*{re.escape(dep['version'])}\*\*", guide), f"{dep['name']} version in the guide"


def test_sample_pipeline_is_wired_to_the_platform_release() -> None:
    sample = yaml.safe_load((REPO / "manifests" / "samples" / "pipeline.yaml").read_text())["spec"]
    assert sample["kafka"]["bootstrapServers"] == "demo-kafka-bootstrap:9092"
    assert sample["kafka"]["strimziCluster"] == "demo"
    assert sample["database"]["secretRef"]["name"] == "demo-db-app"
    assert sample["api"]["jwtSecretRef"]["name"] == "secustream-jwt"
    assert sample["redis"]["url"] == "redis://demo-redis:6379/0"
