"""Run `secustream ingest` as a user does (a subprocess) and read its summary line."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path


def ingest_env(kafka_bootstrap: str, topics: dict[str, str]) -> dict[str, str]:
    return dict(os.environ, KAFKA_SERVER=kafka_bootstrap, KAFKA_TOPIC=topics["events"], KAFKA_DLQ_TOPIC=topics["dlq"])


def run_ingest(paths: Path | list[Path], env: dict[str, str], fmt: str = "windows") -> subprocess.CompletedProcess:
    """`secustream ingest --format FMT PATH...` as a subprocess."""
    named = [str(p) for p in (paths if isinstance(paths, list) else [paths])]
    return subprocess.run([sys.executable, "-m", "secustream.cli", "ingest", "--format", fmt, *named],
                          env=env, capture_output=True, text=True, timeout=300)


def ingest(paths: Path | list[Path], env: dict[str, str], fmt: str = "windows") -> tuple[tuple[int, int, int], str]:
    """((read, published, rejected), stderr) of one successful run."""
    proc = run_ingest(paths, env, fmt)
    assert proc.returncode == 0, proc.stderr
    summary = re.search(r"read (\d+) lines(?: from \d+ files)?: published (\d+) events, rejected (\d+)", proc.stdout)
    assert summary, proc.stdout
    read, published, rejected = map(int, summary.groups())
    return (read, published, rejected), proc.stderr
