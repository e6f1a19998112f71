"""The adaptive routing policy as one pure function, so its decision table is testable in isolation.

The router calls it once per event that is still open after detection: an event no rule fired on,
scored by the model (``model`` below means the model's verdict stands), or an event a rule fired on
that asked for review (then the rule's verdict is the one that stands instead of the model's).
Order of the table (first match wins):

| escalation wanted? | consumer lag > threshold | LLM configured | budget left | route | reason                |
| ------------------ | ------------------------ | -------------- | ----------- | ----- | --------------------- |
| no                 | any                      | any            | any         | model | model confident       |
| yes                | yes                      | any            | any         | model | under load (shed)     |
| yes                | no                       | no             | any         | model | llm unavailable       |
| yes                | no                       | yes            | 0           | model | llm budget exhausted  |
| yes                | no                       | yes            | > 0 / ?     | llm   | the escalation reason |

Escalation is wanted when a rule asked for it, when the model abstained because the event lies
outside its training distribution, when model confidence is below the threshold, or when the
predicted risk is at or above the high-risk threshold. An abstaining model never decides: where the
table says "model", the rules' verdict stands. Nor does an unsure model (confidence below the
threshold) claim a threat on its own: when the LLM cannot review that claim, the rules' verdict
stands (``Decision.rules_stand``), because a guess nobody checked is not evidence. Under load the
model decides everything else ("widens what it decides") so the consumer catches up.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Route(StrEnum):
    MODEL = "model"
    LLM = "llm"


class Escalation(StrEnum):
    RULE_REQUEST = "rule_request"
    OUT_OF_DISTRIBUTION = "out_of_distribution"
    LOW_CONFIDENCE = "low_confidence"
    HIGH_RISK = "high_risk"


@dataclass(frozen=True, slots=True)
class RouterThresholds:
    escalate_below_confidence: float = 0.8
    escalate_at_risk: float = 0.9
    lag_threshold: int = 1000


@dataclass(frozen=True, slots=True)
class Decision:
    route: Route
    reason: str
    wanted: Escalation | None = None  # what escalation was asked for (also when it was refused)
    outcome: str = "none"  # metrics label: none | escalated | shed_load | llm_unavailable | budget_exhausted
    rules_stand: bool = False  # route MODEL, but the rules' verdict stands instead of the model's


def wanted_escalation(confidence: float, risk_score: float, rule_requested: bool,
                      t: RouterThresholds, out_of_distribution: bool = False) -> Escalation | None:
    if rule_requested:
        return Escalation.RULE_REQUEST
    if out_of_distribution:
        return Escalation.OUT_OF_DISTRIBUTION
    if confidence < t.escalate_below_confidence:
        return Escalation.LOW_CONFIDENCE
    if risk_score >= t.escalate_at_risk:
        return Escalation.HIGH_RISK
    return None


def decide(*, confidence: float, risk_score: float, lag: int, llm_available: bool, budget_left: int | None,
           thresholds: RouterThresholds, rule_requested: bool = False, out_of_distribution: bool = False,
           claims_threat: bool = False) -> Decision:
    """Where an open event goes. ``budget_left`` None means "unknown, try"; ``claims_threat``: the model's
    verdict names a threat, or a higher risk, than the rules' verdict (an unsure claim needs a reviewer)."""
    t = thresholds
    wanted = wanted_escalation(confidence, risk_score, rule_requested, t, out_of_distribution)
    if wanted is None:
        return Decision(Route.MODEL, f"model confident ({confidence:.2f} >= {t.escalate_below_confidence:.2f}, "
                                     f"risk {risk_score:.2f} < {t.escalate_at_risk:.2f})")
    unsure_claim = wanted is Escalation.LOW_CONFIDENCE and claims_threat
    rules_stand = rule_requested or out_of_distribution or unsure_claim
    stands = "rule verdict stands" if rules_stand else "model decides"
    if unsure_claim:
        stands += " (an unsure model claims no threat unreviewed)"
    why = _describe(wanted, confidence, risk_score, t)
    if lag > t.lag_threshold:
        return Decision(Route.MODEL, f"under load (lag {lag} > {t.lag_threshold}): {stands}, "
                                     f"llm skipped ({why})", wanted, "shed_load", rules_stand)
    if not llm_available:
        return Decision(Route.MODEL, f"llm unavailable: {stands} ({why})", wanted, "llm_unavailable", rules_stand)
    if budget_left is not None and budget_left <= 0:
        return Decision(Route.MODEL, f"llm budget exhausted: {stands} ({why})", wanted, "budget_exhausted",
                        rules_stand)
    return Decision(Route.LLM, f"escalated to llm: {why}", wanted, "escalated")


def _describe(wanted: Escalation, confidence: float, risk: float, t: RouterThresholds) -> str:
    if wanted is Escalation.LOW_CONFIDENCE:
        return f"model confidence {confidence:.2f} < {t.escalate_below_confidence:.2f}"
    if wanted is Escalation.HIGH_RISK:
        return f"predicted risk {risk:.2f} >= {t.escalate_at_risk:.2f}"
    if wanted is Escalation.OUT_OF_DISTRIBUTION:
        return "outside the model's training distribution"
    return "a rule requested llm review"
