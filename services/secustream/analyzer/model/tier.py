"""Model tier: classify what the rules left open, then let the adaptive policy pick model or LLM.

The classifier comes from a ``ModelSource``: an explicit artifact path, or the registry's active
version, re-checked between batches so a promoted version is picked up without a restart.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from secustream.analyzer.model.classifier import ThreatClassifier
from secustream.analyzer.model.context import burst_counts
from secustream.analyzer.model.gate import GateSettings
from secustream.analyzer.model.text import render_event
from secustream.analyzer.routing import Route, RouterThresholds, decide
from secustream.analyzer.tiers import RoutingContext
from secustream.analyzer.verdict import RISK_SCORE_FLOOR, RiskLevel, Verdict
from secustream.events import SecurityEvent
from secustream.metrics import HybridMetrics
from secustream.state import StateStore

log = logging.getLogger(__name__)


def risk_level(score: float) -> RiskLevel:
    if score >= 0.9:
        return RiskLevel.CRITICAL
    if score >= 0.7:
        return RiskLevel.HIGH
    if score >= 0.4:
        return RiskLevel.MEDIUM
    return RiskLevel.LOW


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
        from secustream.training.registry import CLASSIFIER, active

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


class ModelTier:
    name = "model"

    def __init__(self, source: ModelSource, state: StateStore, version: str, thresholds: RouterThresholds, *,
                 llm_available: bool = False, budget_left: Callable[[], int] | None = None,
                 batch_size: int = 256, metrics: HybridMetrics | None = None,
                 gate: GateSettings | None = None) -> None:
        self.source = source
        self.state = state
        self.thresholds = thresholds
        self.llm_available = llm_available
        self.budget_left = budget_left
        self.batch_size = batch_size
        self.metrics = metrics
        self.gate = gate or GateSettings()
        self._version = version

    def analyze(self, events: Sequence[SecurityEvent], docs: Sequence[dict[str, Any]],
                prior: Sequence[Verdict | None], context: RoutingContext) -> list[Verdict | None]:
        self.source.refresh()
        clf = self.source.classifier
        if clf is None:
            return [p.model_copy(update={"reason": f"{p.reason}; model tier has no active model",
                                         "conclusive": True}) if p else None for p in prior]
        texts = [render_event(e, b) for e, b in zip(events, burst_counts(events, self.state), strict=True)]
        predictions, embeddings = clf.assess(texts, self.batch_size)
        gated = clf.gate.check(events, embeddings, self.gate) if clf.gate is not None else None
        budget: int | None = None
        if self.llm_available and self.budget_left is not None and context.consumer_lag <= \
                self.thresholds.lag_threshold:
            budget = self.budget_left()
        out: list[Verdict | None] = []
        model_name = f"{clf.name} v{self.source.version}" if self.source.version else clf.name
        for i, (event, p_prior, pred) in enumerate(zip(events, prior, predictions, strict=True)):
            ood = gated.reasons[i] if gated is not None else None
            requested = bool(p_prior and p_prior.rule_ids and not p_prior.conclusive)
            d = decide(confidence=pred.confidence, risk_score=pred.risk_score, lag=context.consumer_lag,
                       llm_available=self.llm_available, budget_left=budget, thresholds=self.thresholds,
                       rule_requested=requested, out_of_distribution=ood is not None)
            if self.metrics and d.wanted is not None:
                self.metrics.escalations.labels(reason=d.wanted.value, outcome=d.outcome).inc()
            if ood is not None:
                out.append(self._abstain(event, p_prior, ood, d.reason, model_name, d.route is Route.LLM))
                continue
            reason = f"{model_name}: {pred.label} at {pred.confidence:.2f}; {d.reason}"
            if gated is not None and clf.gate is not None and pred.risk_score >= RISK_SCORE_FLOOR[RiskLevel.MEDIUM]:
                reason += f"; evidence: {clf.gate.evidence(int(gated.nearest[i]))}"
            out.append(Verdict(
                event_id=event.event_id, risk_level=risk_level(pred.risk_score), risk_score=pred.risk_score,
                threat_type=pred.label, confidence=pred.confidence, tier="model", reason=reason,
                rule_ids=list(p_prior.rule_ids) if p_prior else [],
                analysis=f"Classifier {model_name} predicts {pred.label} (risk {pred.risk_score:.2f}).",
                analyzer_version=self._version, conclusive=d.route is Route.MODEL,
            ))
        return out

    def _abstain(self, event: SecurityEvent, prior: Verdict | None, why: str, route: str, model_name: str,
                 escalate: bool) -> Verdict:
        """The model claims nothing: the rules' verdict stands (or the LLM reviews it when it has budget)."""
        reason = f"{model_name} abstained: {ABSTAIN} ({why}); {route}"
        if self.metrics:
            self.metrics.model_abstentions.inc()
        base = prior or Verdict(event_id=event.event_id, risk_level=RiskLevel.LOW, risk_score=0.05,
                                threat_type="benign", confidence=0.5, tier="rules", reason="no rule matched",
                                analyzer_version=self._version)
        if escalate:  # the LLM tier reviews inconclusive model-tier verdicts; it keeps the rules' assessment
            return base.model_copy(update={"tier": "model", "reason": f"{base.reason}; {reason}",
                                           "conclusive": False})
        return base.model_copy(update={"reason": f"{base.reason}; {reason}", "conclusive": True})
