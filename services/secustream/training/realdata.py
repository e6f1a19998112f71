"""Real events with the rules' verdicts attached, computed once and cached on disk.

Why cached: the full SigmaHQ corpus costs ~30 s to load and ~1 ms per real event, and training,
the promotion judge and ``evaluate`` all need the same rule verdicts on the same samples. The
cache key names the corpus sample (split, per-recording size, seed) and the rules' fingerprint,
so a changed rule pack or sample never reuses stale verdicts.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from secustream.analyzer.detection import Detection
from secustream.analyzer.native import RulesEngine, RuleSet
from secustream.analyzer.sigma import SigmaEngine, SigmaRuleSet
from secustream.analyzer.sigma.cache import load_compiled
from secustream.analyzer.sigma.filters import RuleFilter
from secustream.analyzer.sigma.loader import assemble
from secustream.config import Settings
from secustream.events import SecurityEvent
from secustream.state import MemoryState
from secustream.training import otrf, sigmahq
from secustream.verdict import Verdict

log = logging.getLogger(__name__)
VERSION = "secustream-realdata"
CACHE_FORMAT = 1


@dataclass(frozen=True)
class LabelledEvent:
    """A real event, the group it belongs to (recording or regression case), whether it is an attack
    event, and what the rules said about it."""

    group: str
    attack: bool
    event: SecurityEvent
    rules: Verdict


@dataclass
class Detectors:
    """The rules the product runs: the native YAML rules and a Sigma pack (the full SigmaHQ corpus)."""

    ruleset: RuleSet
    sigma: SigmaRuleSet
    fingerprint: str

    @classmethod
    def load(cls, rules_path: Path, sigma_path: Path | None, keep: RuleFilter | None = None,
             cache_dir: Path | None = None) -> Detectors:
        """``keep``: the pack filters a user's analyzer applies (SIGMA_MIN_LEVEL, …); ``cache_dir``: the
        compiled-rules cache (``analyzer/sigma/cache.py``), so the corpus is parsed once."""
        ruleset = RuleSet.load(rules_path)
        sigma = assemble(load_compiled(sigma_path, cache_dir), keep) if sigma_path is not None \
            else SigmaRuleSet.empty()
        digest = hashlib.sha256(f"{sigma.fingerprint}|{keep}|{_native_fingerprint(rules_path)}".encode())
        return cls(ruleset, sigma, digest.hexdigest()[:16])

    @classmethod
    def for_settings(cls, settings: Settings, cache_dir: Path | None) -> Detectors:
        """Native rules plus the full SigmaHQ corpus of ``CORPORA_DIR``, through the SIGMA_* pack filters."""
        keep = RuleFilter.parse(settings.SIGMA_MIN_LEVEL, settings.SIGMA_STATUSES, settings.SIGMA_INCLUDE,
                                settings.SIGMA_EXCLUDE)
        return cls.load(settings.rules_path, settings.corpora_path / "sigmahq" / "rules", keep, cache_dir)

    def detection(self) -> Detection:
        """A fresh detection step (own state: stateful rules see only the stream handed to it)."""
        state = MemoryState()
        return Detection([RulesEngine(self.ruleset, state), SigmaEngine(self.sigma, state)], VERSION)


def _native_fingerprint(path: Path) -> str:
    files = sorted(path.rglob("*.y*ml")) if path.is_dir() else [path]
    return hashlib.sha256(b"".join(f.read_bytes() for f in files if f.is_file())).hexdigest()


def rule_verdicts(detection: Detection, events: Sequence[SecurityEvent], batch: int = 500) -> list[Verdict]:
    out: list[Verdict] = []
    for start in range(0, len(events), batch):
        part = events[start : start + batch]
        docs = [e.model_dump(mode="json", exclude_none=True) for e in part]
        out.extend(d.verdict for d in detection.detect(part, docs))
    return out


def _cache_path(cache_dir: Path, kind: str, params: str, fingerprint: str) -> Path:
    return cache_dir / f"{kind}-{params}-{fingerprint}-v{CACHE_FORMAT}.jsonl.gz"


def _read(path: Path) -> list[LabelledEvent]:
    out: list[LabelledEvent] = []
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            out.append(LabelledEvent(row["g"], row["a"], SecurityEvent.model_validate(row["e"]),
                                     Verdict.model_validate(row["v"])))
    return out


def _write(path: Path, rows: Sequence[LabelledEvent]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with gzip.open(tmp, "wt", encoding="utf-8") as fh:
        for r in rows:
            fh.write(json.dumps({"g": r.group, "a": r.attack, "e": r.event.model_dump(mode="json", exclude_none=True),
                                 "v": r.rules.model_dump(mode="json")}) + "\n")
    tmp.replace(path)


def otrf_split(corpora: Path, split: str, detectors: Detectors, cache_dir: Path | None, background: int = 200,
               seed: int = 0) -> list[LabelledEvent]:
    """The attack events and ``background`` sampled others of each recording in ``split`` (0: all)."""
    path = _cache_path(cache_dir, "otrf", f"{split}-{background}-{seed}", detectors.fingerprint) if cache_dir else None
    if path is not None and path.exists():
        return _read(path)
    sample = otrf.sample_split(corpora, split, background, seed)
    log.info("otrf %s: %d events sampled; running the rules over them", split, len(sample))
    verdicts = rule_verdicts(detectors.detection(), [c.event for c in sample])
    rows = [LabelledEvent(c.recording, c.attack, c.event, v) for c, v in zip(sample, verdicts, strict=True)]
    if path is not None:
        _write(path, rows)
    return rows


def sigmahq_regression(corpora: Path, detectors: Detectors) -> list[LabelledEvent]:
    """Every event of SigmaHQ's regression suite (each is a true positive of its rule)."""
    cases = sigmahq.regression_events(corpora)
    verdicts = rule_verdicts(detectors.detection(), [c.event for c in cases])
    return [LabelledEvent(c.case, True, c.event, v) for c, v in zip(cases, verdicts, strict=True)]
