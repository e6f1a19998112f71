"""skaffold.yaml against the upstream v4beta14 JSON schema (every profile applied), the release
sequence it deploys renders with helm, and the Dockerfiles follow the image conventions."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from secustream_operator.naming import child_name
from tests.charts import helmutil, schemas
from tests.charts.conftest import CHARTS, REPO

SKAFFOLD = REPO / "skaffold.yaml"


def config() -> dict[str, Any]:
    return yaml.safe_load(SKAFFOLD.read_text())


def apply_patches(doc: dict[str, Any], patches: list[dict[str, Any]]) -> dict[str, Any]:
    """JSON Patch add/replace, the two ops our profiles use."""
    out = copy.deepcopy(doc)
    for p in patches:
        assert p["op"] in ("add", "replace"), p
        *parents, last = [int(x) if x.isdigit() else x for x in p["path"].lstrip("/").split("/")]
        node = out
        for key in parents:
            node = node[key]
        node[last] = copy.deepcopy(p["value"])
    return out


def profiles() -> list[str | None]:
    return [None, *(p["name"] for p in config()["profiles"])]


def effective(profile: str | None) -> dict[str, Any]:
    doc = config()
    if profile is None:
        return doc
    (prof,) = [p for p in doc["profiles"] if p["name"] == profile]
    return apply_patches(doc, prof.get("patches", []))


@pytest.mark.parametrize("profile", profiles())
def test_skaffold_validates_against_v4beta14(schemas_dir: Path, profile: str | None) -> None:
    schema = json.loads((schemas_dir / "skaffold" / "v4beta14.json").read_text())
    doc = effective(profile)
    assert doc["apiVersion"] == "skaffold/v4beta14"
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in jsonschema.Draft7Validator(schema).iter_errors(doc)]
    assert errors == []
    broken = copy.deepcopy(doc)
    broken["deploy"]["helm"]["releases"][0]["chartPth"] = "x"
    assert list(jsonschema.Draft7Validator(schema).iter_errors(broken)), "the schema check can fail"


def test_skaffold_builds_both_images_deploys_in_order_and_forwards_the_seed_ports() -> None:
    doc = config()
    images = {a["image"]: a["docker"]["dockerfile"] for a in doc["build"]["artifacts"]}
    assert images == {"secustream": "Dockerfile", "secustream-operator": "Dockerfile.operator"}
    releases = [(r["name"], r["chartPath"]) for r in doc["deploy"]["helm"]["releases"]]
    assert releases == [("secustream-deps", "charts/secustream-platform-deps"),
                        ("secustream-operator", "charts/secustream-operator"),
                        ("secustream", "charts/secustream-platform")]
    assert doc["deploy"]["helm"]["releases"][0]["wait"] is True
    forwards = {f["localPort"]: (f["namespace"], f["resourceName"], f["port"]) for f in doc["portForward"]}
    assert set(forwards) == {8080, 3000, 9090}
    platform = yaml.safe_load((CHARTS / "secustream-platform" / "values.yaml").read_text())
    deps = yaml.safe_load((CHARTS / "secustream-platform-deps" / "values.yaml").read_text())["kube-prometheus-stack"]
    assert forwards[8080] == ("secustream", child_name(platform["pipeline"]["name"], "api"), 8080)
    assert forwards[3000] == ("secustream-system", deps["grafana"]["fullnameOverride"], 80)
    assert forwards[9090] == ("secustream-system", f"{deps['fullnameOverride']}-prometheus", 9090)
    names = {p["name"] for p in doc["profiles"]}
    assert {"kind", "gpu"} <= names
    kind = next(p for p in doc["profiles"] if p["name"] == "kind")
    assert kind["activation"] == [{"kubeContext": "kind-.*"}] and doc["build"]["local"]["push"] is False


def _set_args(release: dict[str, Any]) -> list[str]:
    args = []
    for key, value in (release.get("setValues") or {}).items():
        args += ["--set", f"{key}={value}"]
    for key, value in (release.get("setValueTemplates") or {}).items():
        value = re.sub(r"\{\{\.IMAGE_REPO_\w+\}\}", "registry.local/img", value)
        value = re.sub(r"\{\{\.IMAGE_TAG_\w+\}\}", "abc1234", value)
        args += ["--set", f"{key}={value}"]
    return args


@pytest.mark.parametrize("profile", profiles())
def test_skaffold_releases_render_with_their_values(helm: str, schemas_dir: Path, tmp_path: Path,
                                                   profile: str | None) -> None:
    """What skaffold would install, per profile: helm template with exactly its --set values."""
    rendered: dict[str, list[dict[str, Any]]] = {}
    for release in effective(profile)["deploy"]["helm"]["releases"]:
        chart = helmutil.with_standins(Path(release["chartPath"]).name, tmp_path / release["name"])
        docs = helmutil.template(helm, chart, release["name"], release["namespace"], None, *_set_args(release))
        assert [e for d in docs for e in schemas.errors(d, schemas_dir)] == []
        rendered[release["name"]] = docs
    (ssp,) = helmutil.find(rendered["secustream"], "SecuStreamPipeline")
    assert ssp["spec"]["image"]["repository"] == "registry.local/img" and ssp["spec"]["image"]["tag"] == "abc1234"
    (op,) = helmutil.find(rendered["secustream-operator"], "Deployment")
    assert op["spec"]["template"]["spec"]["containers"][0]["image"] == "registry.local/img:abc1234"
    assert ssp["spec"]["analyzer"]["gpu"]["enabled"] is (profile == "gpu")
    if profile == "kind":
        assert ssp["spec"]["generator"]["eventsPerSecond"] == 10 and ssp["spec"]["kafka"]["partitions"] == 2
        assert op["spec"]["replicas"] == 1


# ---------------------------------------------------------------- images

def stages(dockerfile: Path) -> list[list[str]]:
    """Instructions grouped by stage (continuation lines joined, comments dropped)."""
    text = re.sub(r"\\\n", " ", dockerfile.read_text())
    out: list[list[str]] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.upper().startswith("FROM "):
            out.append([])
        if out:
            out[-1].append(line)
    return out


def arg_default(dockerfile: Path, name: str) -> str:
    m = re.search(rf"^ARG {name}=(\S+)", dockerfile.read_text(), re.M)
    assert m, f"{dockerfile.name}: ARG {name} with a default"
    return m.group(1)


@pytest.mark.parametrize("name", ["Dockerfile", "Dockerfile.operator"])
def test_images_are_multistage_and_non_root(name: str) -> None:
    path = REPO / name
    st = stages(path)
    assert len(st) >= 3, "uv + builder + runtime"
    runtime = st[-1]
    assert runtime[0].startswith("FROM ${BASE_IMAGE}")
    users = [i for i in runtime if i.upper().startswith("USER ")]
    assert users and users[-1].split()[1].split(":")[0] in ("${APP_UID}", "10001")
    assert arg_default(path, "APP_UID") == "10001", "matches the charts' runAsUser"
    assert not any(i.upper().startswith(("ADD ", "COPY . ")) for i in runtime)
    assert any("COPY --from=builder /opt/venv" in i for i in runtime), "only the venv reaches the runtime"
    assert re.search(r"ghcr.io/astral-sh/uv:\d+\.\d+\.\d+$", arg_default(path, "UV_IMAGE")), "uv pinned"
    assert any(i.startswith("ENTRYPOINT") for i in runtime)


def test_services_image_is_cpu_by_default_with_a_cuda_build_arg() -> None:
    path = REPO / "Dockerfile"
    assert arg_default(path, "BASE_IMAGE") == "debian:bookworm-slim"
    assert arg_default(path, "TORCH_INDEX_URL") == "https://download.pytorch.org/whl/cpu"
    torch_pin = re.search(r"^torch==([\d.]+)", (REPO / "constraints.txt").read_text(), re.M)
    assert torch_pin and arg_default(path, "TORCH_VERSION") == torch_pin.group(1), "same torch as constraints.txt"
    text = path.read_text()
    assert '--index-url "${TORCH_INDEX_URL}" "torch==${TORCH_VERSION}"' in text
    gpu = next(p for p in config()["profiles"] if p["name"] == "gpu")
    args = next(p["value"] for p in gpu["patches"] if p["path"] == "/build/artifacts/0/docker/buildArgs")
    assert args["BASE_IMAGE"].startswith("nvidia/cuda:") and "/whl/cu" in args["TORCH_INDEX_URL"]
    operator = (REPO / "Dockerfile.operator").read_text()
    assert "torch==" not in operator and "grep -v -E '^(torch|" in operator, "the operator image has no torch"


def test_dockerignore_keeps_the_context_small() -> None:
    ignored = {line.strip() for line in (REPO / ".dockerignore").read_text().splitlines()
               if line.strip() and not line.startswith("#")}
    assert {".git", ".venv", "tests", "models", "tools", ".secustream", "**/__pycache__"} <= ignored
    for needed in ("services", "operator", "pyproject.toml", "setup.py", "constraints.txt", "README.md"):
        assert needed not in ignored
