"""Fixtures for chart, image, skaffold, alert and dashboard tests: real helm, kubectl, promtool, prometheus.

Under CI=true a missing tool or schema FAILS the test (never skips), so CI cannot go green by not
testing. Locally a missing tool skips with the command that installs it.
"""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CHARTS = REPO / "charts"
K8S_VERSION = "1.35.0"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def missing(what: str) -> None:
    if IN_CI:
        pytest.fail(f"required test dependency missing under CI: {what}")
    pytest.skip(f"missing: {what}")


def _tool(name: str, hint: str) -> str:
    found = shutil.which(name) or str(REPO / "tools" / "bin" / name)
    if not os.access(found, os.X_OK):
        missing(f"{name} ({hint})")
    return found


@pytest.fixture(scope="session")
def helm() -> str:
    return _tool("helm", "run scripts/install-k8s-tools.sh")


@pytest.fixture(scope="session")
def kubectl() -> str:
    return _tool("kubectl", "run scripts/install-k8s-tools.sh")


@pytest.fixture(scope="session")
def promtool() -> str:
    return _tool("promtool", "run scripts/install-test-deps.sh")


@pytest.fixture(scope="session")
def prometheus_bin() -> str:
    return _tool("prometheus", "run scripts/install-test-deps.sh")


@pytest.fixture(scope="session")
def schemas_dir() -> Path:
    path = Path(os.environ.get("SECUSTREAM_K8S_SCHEMAS", REPO.parent / "shared" / "k8s-schemas"))
    if not (path / "crds").is_dir() or not (path / "skaffold").is_dir():
        missing(f"upstream schemas at {path} (set SECUSTREAM_K8S_SCHEMAS)")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
