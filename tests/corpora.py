"""Readers for the third-party corpora in ``../shared/corpora`` (SigmaHQ + its regression suite, OTRF).

Used by tests and benchmarks in place (never copied into the repo). ``SECUSTREAM_CORPORA`` points
elsewhere; under CI a missing corpus fails the test, locally it skips (``require``).
"""

from __future__ import annotations

import json
import os
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml

from secustream.ingest_input import resource_fork

REPO = Path(__file__).resolve().parents[1]


def _default_corpora() -> Path:
    """The workspace's shared folder next to the clone, else the workspace's own (a clone made elsewhere)."""
    for candidate in (REPO.parent / "shared" / "corpora", Path("/work/shared/corpora")):
        if candidate.is_dir():
            return candidate
    return REPO.parent / "shared" / "corpora"


CORPORA = Path(os.environ.get("SECUSTREAM_CORPORA") or os.environ.get("CORPORA_DIR") or _default_corpora())
SIGMAHQ = CORPORA / "sigmahq"
RULE_DIRS = ("rules", "rules-emerging-threats", "rules-threat-hunting")
OTRF = CORPORA / "otrf-atomic-windows" / "windows"


def require(path: Path) -> Path:
    """``path``, or fail (CI) / skip (elsewhere) saying which corpus is missing."""
    if path.exists():
        return path
    import pytest

    from tests.conftest import service_missing

    service_missing(f"corpus {path} (set SECUSTREAM_CORPORA)")
    pytest.skip(f"corpus {path} not present")


@dataclass(frozen=True)
class RegressionCase:
    name: str  # the info.yml folder, relative to regression_data
    rule_ids: tuple[str, ...]  # Sigma ids of the rules the events must fire
    events: tuple[str, ...]  # one JSON object (evtx_dump shape) per item


def _json_objects(text: str) -> Iterator[dict]:
    """Several JSON objects one after another (evtx_dump writes them so)."""
    decoder = json.JSONDecoder()
    at = 0
    while True:
        while at < len(text) and text[at].isspace():
            at += 1
        if at >= len(text):
            return
        obj, at = decoder.raw_decode(text, at)
        yield obj


def regression_cases(root: Path | None = None) -> list[RegressionCase]:
    root = root or SIGMAHQ / "regression_data"
    cases = []
    for info_file in sorted(root.rglob("info.yml")):
        info = yaml.safe_load(info_file.read_text(encoding="utf-8"))
        ids = tuple(str(m["id"]) for m in info.get("rule_metadata") or ())
        events: list[str] = []
        for test in info.get("regression_tests_info") or ():
            json_file = SIGMAHQ / Path(str(test["path"])).with_suffix(".json")
            if not json_file.exists():
                json_file = info_file.parent / json_file.name
            if json_file.exists():
                events.extend(json.dumps(o) for o in _json_objects(json_file.read_text(encoding="utf-8")))
        cases.append(RegressionCase(str(info_file.parent.relative_to(root)), ids, tuple(events)))
    return cases


def otrf_recordings() -> list[Path]:
    return sorted(OTRF.glob("*/host/*.zip"))


def otrf_lines(recording: Path) -> Iterator[str]:
    """Every non-blank line of every JSON file in one recording's zip, less the macOS resource forks
    (``__MACOSX/._name.json``, binary) 14 of the zips hold: what ``secustream ingest recording.zip`` reads."""
    with zipfile.ZipFile(recording) as archive:
        for member in archive.namelist():
            if not member.endswith(".json") or resource_fork(member):
                continue
            with archive.open(member) as fh:
                for raw in fh:
                    line = raw.decode("utf-8", errors="replace").strip()
                    if line:
                        yield line
