"""Rules tier: turns rule hits into verdicts; conclusive when a rule fires."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from secustream.analyzer.rules import RuleHit, RulesEngine
from secustream.analyzer.sigma import SigmaEngine
from secustream.analyzer.tiers import RoutingContext
from secustream.analyzer.verdict import RISK_ORDER, RiskLevel, Verdict
from secustream.events import SecurityEvent, ThreatClass

SEVERITY_SCORE = {RiskLevel.LOW: 0.25, RiskLevel.MEDIUM: 0.5, RiskLevel.HIGH: 0.8, RiskLevel.CRITICAL: 0.95}
NO_HIT_SCORE = 0.05
NO_HIT_CONFIDENCE = 0.6


def verdict_from_hits(event: SecurityEvent, hits: Sequence[RuleHit], version: str,
                      analyzed_at: datetime | None = None) -> Verdict:
    """Highest severity decides; ids, techniques and actions are unioned in rule order.

    ``analyzed_at`` lets a batch share one clock read (reading the clock per event is measurable).
    """
    analyzed_at = analyzed_at or datetime.now(UTC)
    if not hits:  # (validating is faster than model_construct here: pydantic-core builds the instance)
        return Verdict(
            event_id=event.event_id, risk_level=RiskLevel.LOW, risk_score=NO_HIT_SCORE,
            threat_type=ThreatClass.BENIGN.value, confidence=NO_HIT_CONFIDENCE, tier="rules",
            reason="no rule matched", analysis="No detection rule matched this event.",
            analyzer_version=version, analyzed_at=analyzed_at, conclusive=False,
        )
    top = max(hits, key=lambda h: (RISK_ORDER[h.severity], h.confidence))
    ordered = sorted(hits, key=lambda h: -RISK_ORDER[h.severity])
    return Verdict(
        event_id=event.event_id,
        risk_level=top.severity,
        risk_score=SEVERITY_SCORE[top.severity],
        threat_type=top.threat_type,
        confidence=top.confidence,
        tier="rules",
        reason=f"rule {top.rule_id} fired: {top.detail}",
        rule_ids=list(dict.fromkeys(h.rule_id for h in ordered)),
        mitre_ids=list(dict.fromkeys(m for h in ordered for m in h.mitre)),
        recommended_actions=list(dict.fromkeys(a for h in ordered for a in h.recommended_actions)),
        analysis="; ".join(f"{h.rule_id} ({h.severity.value}): {h.detail}" for h in ordered),
        analyzer_version=version,
        analyzed_at=analyzed_at,
    )


class RulesTier:
    name = "rules"

    def __init__(self, engine: RulesEngine, version: str, sigma: SigmaEngine | None = None) -> None:
        self.engine = engine
        self.sigma = sigma  # Sigma rules next to the native ones; their hits merge per event
        self._version = version

    def analyze(
        self,
        events: Sequence[SecurityEvent],
        docs: Sequence[dict[str, Any]],
        prior: Sequence[Verdict | None],
        context: RoutingContext,
    ) -> list[Verdict | None]:
        all_hits = self.engine.evaluate(events, docs)
        if self.sigma is not None:
            sigma_hits = self.sigma.evaluate(events, docs)
            all_hits = [native + extra for native, extra in zip(all_hits, sigma_hits, strict=True)]
        now = datetime.now(UTC)
        return [verdict_from_hits(e, h, self._version, now) for e, h in zip(events, all_hits, strict=True)]
