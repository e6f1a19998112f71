"""What every detector reports, and the one question each asks before a rule's match counts.

Native YAML rules and Sigma rules (and Sigma correlations) describe a rule differently, but a hit is
the same thing for all of them: a ``RuleHit``, built by ``hit()`` from any rule that names its id,
level, threat class, ATT&CK ids, confidence, actions and review wish (``HitSource``). ``Suppression``
is the analysts' "false positive" answer (``native/suppressions.SuppressionIndex``); every detector asks
it for each match before the match becomes a hit or counts in a window, so a suppressed rule is silent
the same way whichever detector carries it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from secustream.verdict import RiskLevel


@dataclass(frozen=True, slots=True)
class RuleHit:
    rule_id: str
    severity: RiskLevel
    threat_type: str
    mitre: tuple[str, ...]
    confidence: float
    recommended_actions: tuple[str, ...]
    detail: str
    review: bool = False  # the rule asks for an LLM review of what it fired on


class HitSource(Protocol):
    """What a rule of any detector tells a hit about itself."""

    @property
    def rule_id(self) -> str: ...
    @property
    def severity(self) -> RiskLevel: ...
    @property
    def threat_type(self) -> str: ...
    @property
    def mitre(self) -> tuple[str, ...]: ...
    @property
    def confidence(self) -> float: ...
    @property
    def recommended_actions(self) -> tuple[str, ...]: ...
    @property
    def review(self) -> bool: ...


def hit(rule: HitSource, detail: str) -> RuleHit:
    return RuleHit(rule.rule_id, rule.severity, rule.threat_type, rule.mitre, rule.confidence,
                   rule.recommended_actions, detail, rule.review)


Suppression = Callable[[str, dict[str, Any]], bool]
"""(rule id, event dict) -> True when an analyst suppressed that rule for this kind of event."""


def never_suppressed(_rule_id: str, _doc: dict[str, Any]) -> bool:
    """The suppression of a detector built without the analysts' index (tests, ``rules test``)."""
    return False
