"""The adaptive router's decision table (analyzer/policy.py), row by row."""

from __future__ import annotations

import pytest

from secustream.analyzer.policy import Escalation, Route, RouterThresholds, decide

T = RouterThresholds(escalate_below_confidence=0.8, escalate_at_risk=0.9, lag_threshold=1000)


@pytest.mark.parametrize(
    ("confidence", "risk", "lag", "llm", "budget", "rule", "route", "wanted", "outcome", "phrase"),
    [
        # confident and not high risk: the model decides, whatever the load or budget
        (0.95, 0.10, 0, True, 10, False, Route.MODEL, None, "none", "model confident"),
        (0.95, 0.10, 50_000, True, 0, False, Route.MODEL, None, "none", "model confident"),
        # low confidence escalates when the LLM is there and budget allows (unknown budget = try)
        (0.55, 0.30, 0, True, 10, False, Route.LLM, Escalation.LOW_CONFIDENCE, "escalated", "confidence 0.55"),
        (0.55, 0.30, 0, True, None, False, Route.LLM, Escalation.LOW_CONFIDENCE, "escalated", "< 0.80"),
        # high predicted risk escalates even when confident
        (0.99, 0.95, 10, True, 3, False, Route.LLM, Escalation.HIGH_RISK, "escalated", "risk 0.95 >= 0.90"),
        # a rule asking for review escalates first
        (0.99, 0.05, 0, True, 3, True, Route.LLM, Escalation.RULE_REQUEST, "escalated", "rule requested"),
        # load de-escalation: lag above the threshold means the model decides, llm skipped
        (0.55, 0.30, 1001, True, 10, False, Route.MODEL, Escalation.LOW_CONFIDENCE, "shed_load", "under load"),
        (0.99, 0.95, 5000, True, 10, False, Route.MODEL, Escalation.HIGH_RISK, "shed_load", "lag 5000 > 1000"),
        # exactly at the lag threshold is not "above"
        (0.55, 0.30, 1000, True, 10, False, Route.LLM, Escalation.LOW_CONFIDENCE, "escalated", "escalated"),
        # budget exhaustion: the model decides and says so
        (0.55, 0.30, 0, True, 0, False, Route.MODEL, Escalation.LOW_CONFIDENCE, "budget_exhausted",
         "budget exhausted"),
        (0.99, 0.95, 0, True, 0, False, Route.MODEL, Escalation.HIGH_RISK, "budget_exhausted", "budget exhausted"),
        # no LLM configured
        (0.55, 0.30, 0, False, None, False, Route.MODEL, Escalation.LOW_CONFIDENCE, "llm_unavailable",
         "llm unavailable"),
        # load shedding wins over budget / availability (it is checked first)
        (0.55, 0.30, 2000, False, 0, False, Route.MODEL, Escalation.LOW_CONFIDENCE, "shed_load", "under load"),
    ],
)
def test_decision_table(confidence, risk, lag, llm, budget, rule, route, wanted, outcome, phrase):  # type: ignore[no-untyped-def]
    d = decide(confidence=confidence, risk_score=risk, lag=lag, llm_available=llm, budget_left=budget,
               thresholds=T, rule_requested=rule)
    assert d.route is route
    assert d.wanted == wanted
    assert d.outcome == outcome
    assert phrase in d.reason


def test_thresholds_are_inclusive_where_documented():
    at_conf = decide(confidence=0.8, risk_score=0.0, lag=0, llm_available=True, budget_left=1, thresholds=T)
    at_risk = decide(confidence=0.99, risk_score=0.9, lag=0, llm_available=True, budget_left=1, thresholds=T)
    assert at_conf.route is Route.MODEL  # confidence == threshold is confident enough
    assert at_risk.route is Route.LLM  # risk == threshold is high risk


@pytest.mark.parametrize(("lag", "llm", "budget", "outcome"), [(0, False, None, "llm_unavailable"),
                                                               (0, True, 0, "budget_exhausted"),
                                                               (5000, True, 10, "shed_load")])
def test_an_unsure_threat_claim_nobody_can_review_leaves_the_rules_verdict(lag, llm, budget, outcome):  # type: ignore[no-untyped-def]
    d = decide(confidence=0.37, risk_score=0.3, lag=lag, llm_available=llm, budget_left=budget, thresholds=T,
               claims_threat=True)
    assert d.route is Route.MODEL and d.rules_stand and d.outcome == outcome
    assert "rule verdict stands (an unsure model claims no threat unreviewed)" in d.reason
    # the same unsure answer without a threat in it, or a confident claim, is the model's to make
    assert not decide(confidence=0.37, risk_score=0.3, lag=lag, llm_available=llm, budget_left=budget,
                      thresholds=T).rules_stand
    assert not decide(confidence=0.95, risk_score=0.6, lag=lag, llm_available=llm, budget_left=budget,
                      thresholds=T, claims_threat=True).rules_stand
    # with a reviewer at hand the claim goes to the LLM
    assert decide(confidence=0.37, risk_score=0.3, lag=0, llm_available=True, budget_left=3, thresholds=T,
                  claims_threat=True).route is Route.LLM
