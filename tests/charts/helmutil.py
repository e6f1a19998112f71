"""Run the real helm binary on our charts (lint, template) and parse what it renders."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

from tests.charts.conftest import CHARTS


def run(helm: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    out = subprocess.run([helm, *args], capture_output=True, text=True, timeout=120, check=False)
    if check and out.returncode != 0:
        raise AssertionError(f"helm {' '.join(args)} failed ({out.returncode}):\n{out.stderr}\n{out.stdout}")
    return out


def with_standins(chart: str, tmp: Path) -> Path:
    """A copy of ``chart`` whose dependencies are empty local stand-ins (same name and version).

    Why: helm refuses to render a chart whose dependencies are missing from charts/, even when a
    condition disables them, and this machine cannot download them.
    """
    src = CHARTS / chart
    meta = yaml.safe_load((src / "Chart.yaml").read_text())
    dst = tmp / chart
    shutil.copytree(src, dst, symlinks=False)
    for dep in meta.get("dependencies") or []:
        stand = dst / "charts" / dep["name"]
        stand.mkdir(parents=True)
        (stand / "Chart.yaml").write_text(yaml.safe_dump(
            {"apiVersion": "v2", "name": dep["name"], "version": dep["version"], "type": "application"}))
    return dst


def values_file(tmp: Path, name: str, values: dict[str, Any]) -> Path:
    path = tmp / f"values-{name}.yaml"
    path.write_text(yaml.safe_dump(values))
    return path


def template(helm: str, chart: Path, release: str, namespace: str, values: Path | None = None,
             *extra: str) -> list[dict[str, Any]]:
    args = ["template", release, str(chart), "--namespace", namespace, "--include-crds", *extra]
    if values is not None:
        args += ["--values", str(values)]
    out = run(helm, *args)
    return [d for d in yaml.safe_load_all(out.stdout) if d]


def find(docs: list[dict[str, Any]], kind: str, name: str | None = None) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)]
