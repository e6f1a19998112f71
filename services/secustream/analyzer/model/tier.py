"""Model tier: a classifier's verdict on the events the rules left open (the router decides what next).

The classifier comes from a ``ModelSource``: an explicit artifact path, or the registry's active
version, re-checked between batches so a promoted version is picked up without a restart.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine

from secustream.analyzer.model.classifier import ThreatClassifier
from secustream.analyzer.model.context import burst_counts
from secustream.analyzer.model.evidence import BRUTE_FORCE, EvidenceSettings, login_evidence
from secustream.analyzer.model.gate import GateSettings
from secustream.analyzer.model.text import render_event
from secustream.events import SecurityEvent
from secustream.metrics import HybridMetrics
from secustream.state import StateStore
from secustream.verdict import RiskLevel, Verdict, risk_level

log = logging.getLogger(__name__)

Loader = Callable[[Path], ThreatClassifier]


class ModelSource:
    """Holds the classifier in use; ``refresh()`` swaps to the registry's active version when it changes."""

    def __init__(self, loader: Loader, *, path: str | Path | None = None, engine: Engine | None = None,
                 interval: float = 30.0, metrics: HybridMetrics | None = None) -> None:
        self._loader = loader
        self._engine = engine
        self._interval = interval
        self._metrics = metrics
        self._next_check = 0.0
        self.version = 0
        self.classifier: ThreatClassifier | None = None
        self._pinned = bool(path)
        if path:
            self.classifier = loader(Path(path))
            self._report()
        else:
            self.refresh(force=True)

    def _report(self) -> None:
        if self._metrics and self.classifier:
            self._metrics.model_version.clear()
            self._metrics.model_version.labels(kind="classifier", name=self.classifier.name).set(self.version)

    def refresh(self, force: bool = False) -> bool:
        """Between batches: poll the registry (every ``interval`` s); True when a new version became active."""
        if self._pinned or self._engine is None:
            return False
        now = time.monotonic()
        if not force and (self._interval <= 0 or now < self._next_check):
            return False
        self._next_check = now + self._interval
        from secustream.storage.registry import CLASSIFIER, active

        try:
            current = active(self._engine, CLASSIFIER)
        except Exception as exc:  # the table may not exist yet on a fresh database
            log.warning("model registry unreadable, keeping version %s: %s", self.version, exc)
            return False
        if current is None or current.version == self.version:
            return False
        try:
            classifier = self._loader(Path(current.artifact_path))
        except Exception as exc:
            log.error("model v%d failed to load, keeping v%d: %s", current.version, self.version, exc)
            return False
        self.classifier, self.version = classifier, current.version
        log.info("model tier now uses %s v%d", classifier.name, current.version)
        if self._metrics:
            self._metrics.model_swaps.labels(kind="classifier").inc()
        self._report()
        return True


ABSTAIN = "outside the model's training distribution"


@dataclass(frozen=True, slots=True)
class Abstention:
    """The model claims nothing about this event (out of distribution); ``why`` names the check and figures."""

    why: str
    model: str

    @property
    def reason(self) -> str:
        return f"{self.model} abstained: {ABSTAIN} ({self.why})"


class ModelTier:
    """Verdicts and scores from the active classifier; no opinion (None) while there is none, an
    ``Abstention`` for an event its out-of-distribution gate rejects (``gate.py``), and no brute-force
    claim on a failed login its source's failure count does not support (``evidence.py``)."""

    name = "model"

    def __init__(self, source: ModelSource, state: StateStore, version: str, *, batch_size: int = 256,
                 gate: GateSettings | None = None, evidence: EvidenceSettings | None = None,
                 metrics: HybridMetrics | None = None) -> None:
        self.source = source
        self.state = state
        self.batch_size = batch_size
        self.gate = gate or GateSettings()
        self.evidence = evidence or EvidenceSettings()
        self.metrics = metrics
        self._version = version

    def reload(self) -> bool:
        return self.source.refresh()

    def score(self, events: Sequence[SecurityEvent]) -> list[Verdict | Abstention] | None:
        clf = self.source.classifier
        if clf is None:
            return None
        bursts = burst_counts(events, self.state)
        texts = [render_event(e, b) for e, b in zip(events, bursts, strict=True)]
        evidence = login_evidence(events, bursts, self.evidence)
        predictions, embeddings = clf.assess(texts, self.batch_size, [ev.refused if ev else None for ev in evidence])
        gated = clf.gate.check(events, embeddings, self.gate) if clf.gate is not None else None
        model_name = f"{clf.name} v{self.source.version}" if self.source.version else clf.name
        out: list[Verdict | Abstention] = []
        for i, (event, pred) in enumerate(zip(events, predictions, strict=True)):
            why = gated.reasons[i] if gated is not None else None
            if why is not None:
                if self.metrics is not None:
                    self.metrics.model_abstentions.inc()
                out.append(Abstention(why, model_name))
                continue
            reason = f"{model_name}: {pred.label} at {pred.confidence:.2f}"
            login = evidence[i]
            if login is not None and (login.refused or pred.label == BRUTE_FORCE):
                reason += f"; {login.describe()}"
            if gated is not None and clf.gate is not None and risk_level(pred.risk_score) is not RiskLevel.LOW:
                reason += f"; evidence: {clf.gate.evidence(int(gated.nearest[i]))}"
            out.append(Verdict(
                event_id=event.event_id, risk_level=risk_level(pred.risk_score), risk_score=pred.risk_score,
                threat_type=pred.label, confidence=pred.confidence, tier="model", reason=reason,
                analysis=f"Classifier {model_name} predicts {pred.label} (risk {pred.risk_score:.2f}).",
                analyzer_version=self._version,
            ))
        return out
