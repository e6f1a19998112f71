"""Detection, the cascade's first step: every detector's hits on an event become one verdict.

Detectors are the native YAML rules and the Sigma rules. Their hits merge per event; the admins'
rule overrides (disable, change level) apply to the hits here, whatever detector produced them.
A hit whose rule asks for review (YAML ``review: true``, Sigma tag ``secustream.review``) marks the
verdict for the LLM; the router decides whether it gets there.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Protocol, runtime_checkable

from secustream.analyzer.hits import RuleHit
from secustream.events import SecurityEvent, ThreatClass
from secustream.verdict import RISK_ORDER, RiskLevel, Verdict, level_score

log = logging.getLogger(__name__)

NO_HIT_SCORE = 0.05
NO_HIT_CONFIDENCE = 0.6


@runtime_checkable
class Detector(Protocol):
    """The one shape of every detector (native YAML rules, Sigma rules and packs).

    Windows go through ``analyzer/windows.py`` and hot reloads through ``analyzer/reload.py`` for
    both; the analyst suppressions are the one callable both consult before a rule's match counts.
    """

    name: str  # "native" | "sigma": the ``detector`` label of the rules metrics

    def evaluate(self, events: Sequence[SecurityEvent], dumped: Sequence[dict[str, Any]] | None = None
                 ) -> list[list[RuleHit]]:
        """Hits per event, in input order; ``dumped``: the events' JSON dicts, dumped once by the router."""
        ...

    def replace_rules(self, ruleset: Any) -> None:
        """Make ``ruleset`` active atomically (between two batches)."""
        ...

    def maybe_reload(self) -> bool:
        """Reload when the sources changed (cheap until the reload interval is up); True when swapped."""
        ...

    @property
    def rule_count(self) -> int: ...


@dataclass(frozen=True, slots=True)
class RuleOverride:
    """An admin's override of one rule: off, or another level."""

    enabled: bool = True
    level: RiskLevel | None = None


OverrideSource = Callable[[], Mapping[str, RuleOverride]]


@dataclass(frozen=True, slots=True)
class Detected:
    """The detection step's verdict for one event, and whether a rule that fired asked for review."""

    verdict: Verdict
    review: bool = False

    @property
    def fired(self) -> bool:
        return bool(self.verdict.rule_ids)


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
            analyzer_version=version, analyzed_at=analyzed_at,
        )
    top = max(hits, key=lambda h: (RISK_ORDER[h.severity], h.confidence))
    ordered = sorted(hits, key=lambda h: -RISK_ORDER[h.severity])
    return Verdict(
        event_id=event.event_id,
        risk_level=top.severity,
        risk_score=level_score(top.severity),
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


def apply_overrides(hits: list[RuleHit], overrides: Mapping[str, RuleOverride]) -> list[RuleHit]:
    """Drop the hits of disabled rules; give overridden rules their new level."""
    out: list[RuleHit] = []
    for hit in hits:
        ov = overrides.get(hit.rule_id)
        if ov is None:
            out.append(hit)
        elif ov.enabled:
            out.append(replace(hit, severity=ov.level) if ov.level is not None else hit)
    return out


class Detection:
    """All detectors as one step; knows nothing of the steps after it."""

    name = "rules"

    def __init__(self, detectors: Sequence[Detector], version: str,
                 overrides: Mapping[str, RuleOverride] | None = None) -> None:
        self.detectors = list(detectors)
        self.overrides: Mapping[str, RuleOverride] = overrides or {}
        self._version = version

    def detect(self, events: Sequence[SecurityEvent], docs: Sequence[dict[str, Any]]) -> list[Detected]:
        per_detector = [d.evaluate(events, docs) for d in self.detectors]
        merged = [[h for hits in found for h in hits] for found in zip(*per_detector, strict=True)] \
            if per_detector else [[] for _ in events]
        if self.overrides:
            merged = [apply_overrides(h, self.overrides) if h else h for h in merged]
        now = datetime.now(UTC)
        return [Detected(verdict_from_hits(e, h, self._version, now), any(x.review for x in h))
                for e, h in zip(events, merged, strict=True)]
