"""The cascade end to end through ``Router``: detection → model → decide → LLM, row by row.

The model and the LLM are stand-ins with fixed answers, so each row of the decision table (and the
rule-requested review, from a YAML rule and from a Sigma tag) is exercised exactly.
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from prometheus_client import CollectorRegistry

from secustream.analyzer.detection import Detection, RuleOverride
from secustream.analyzer.model.tier import ModelSource, ModelTier
from secustream.analyzer.native import RulesEngine, RuleSet
from secustream.analyzer.policy import RouterThresholds
from secustream.analyzer.router import Router, RoutingContext
from secustream.analyzer.sigma import SigmaEngine, SigmaRuleSet
from secustream.events import SecurityEvent
from secustream.metrics import HybridMetrics
from secustream.state import MemoryState
from secustream.verdict import RiskLevel, Verdict

from .fakes import FixedClassifier

RULES = """
rules:
  - {id: PLAIN-1, description: plain, severity: high, threat_type: malicious_process,
     match: {process.name: evil.exe}}
  - {id: REVIEW-1, description: asks for review, severity: medium, threat_type: malicious_process,
     match: {process.name: odd.exe}, review: true}
"""

SIGMA = """
title: Odd tool (asks for review)
name: odd-tool-review
logsource: {product: linux, category: process_creation}
level: medium
tags: [attack.execution, secustream.review]
detection:
  sel: {Image|endswith: /oddtool}
  condition: sel
"""

T = RouterThresholds(escalate_below_confidence=0.8, escalate_at_risk=0.9, lag_threshold=100)


class FakeLLM:
    """Answers "port_scan, high" for every event, or fails (the earlier verdict stands, as LLMTier does)."""

    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.seen: list[Verdict] = []

    def review(self, events: Sequence[SecurityEvent], prior: Sequence[Verdict]) -> list[Verdict]:
        self.seen.extend(prior)
        if self.fail:
            return [p.model_copy(update={"reason": f"{p.reason}; llm error: boom, {p.tier} verdict stands"})
                    for p in prior]
        return [Verdict(event_id=e.event_id, risk_level=RiskLevel.HIGH, risk_score=0.8, threat_type="port_scan",
                        confidence=0.9, tier="llm", reason=f"{p.reason}; llm says port_scan",
                        rule_ids=list(p.rule_ids), analyzer_version="t") for e, p in zip(events, prior, strict=True)]


def _router(clf: FixedClassifier | None = None, llm: FakeLLM | None = None, budget: int = 10,
            metrics: HybridMetrics | None = None, sigma: bool = False) -> Router:
    state = MemoryState()
    detectors: list = [RulesEngine(RuleSet.from_yaml_text(RULES), state)]  # type: ignore[type-arg]
    if sigma:
        detectors.append(SigmaEngine(SigmaRuleSet.from_yaml_text(SIGMA, "odd.yml"), state))
    model = ModelTier(ModelSource(lambda _p: clf, path="pinned"), state, "t") if clf is not None else None  # type: ignore[arg-type,return-value]
    return Router(Detection(detectors, "t"), model, llm, thresholds=T,  # type: ignore[arg-type]
                  budget_left=(lambda: budget) if llm is not None else None, metrics=metrics)


def _event(name: str = "ls") -> SecurityEvent:
    return SecurityEvent(event_type="process", action="process_start", product="linux",
                         process={"name": name, "executable": f"/usr/bin/{name}"})


def _one(router: Router, event: SecurityEvent | None = None, lag: int = 0) -> Verdict:
    [v] = router.analyze([event or _event()], RoutingContext(consumer_lag=lag))
    return v


# (model confidence, model risk, lag, llm present, budget, tier that stands, route, phrase in reason); the unsure
# answers are "benign" at low risk, so they claim nothing the rules did not and stand without a reviewer
TABLE = [
    (0.97, 0.03, 0, True, 10, "model", "rules>model", "model confident"),
    (0.50, 0.30, 0, True, 10, "llm", "rules>model>llm", "escalated to llm: model confidence 0.50 < 0.80"),
    (0.99, 0.95, 0, True, 10, "llm", "rules>model>llm", "predicted risk 0.95 >= 0.90"),
    (0.50, 0.30, 101, True, 10, "model", "rules>model", "under load (lag 101 > 100)"),
    (0.50, 0.30, 100, True, 10, "llm", "rules>model>llm", "escalated to llm"),
    (0.50, 0.30, 0, True, 0, "model", "rules>model", "llm budget exhausted: model decides"),
    (0.50, 0.30, 0, False, 10, "model", "rules>model", "llm unavailable: model decides"),
]


@pytest.mark.parametrize(("conf", "risk", "lag", "llm", "budget", "tier", "route", "phrase"), TABLE)
def test_decision_table_through_the_router(conf, risk, lag, llm, budget, tier, route, phrase):  # type: ignore[no-untyped-def]
    v = _one(_router(FixedClassifier("benign", conf, risk), FakeLLM() if llm else None, budget), lag=lag)
    assert v.tier == tier and v.reason.startswith(f"route {route}: ") and phrase in v.reason, v.reason


def test_an_unsure_threat_claim_without_a_reviewer_leaves_the_rules_verdict():
    """No LLM to check it: a 0.37 'other_threat' guess does not override 'no rule matched' (issue 16)."""
    v = _one(_router(FixedClassifier("other_threat", 0.37, 0.3)))
    assert v.tier == "rules" and v.threat_type == "benign" and v.risk_level == "low"
    assert v.reason.startswith("route rules>model: no rule matched; fixed: other_threat at 0.37")
    assert "llm unavailable: rule verdict stands (an unsure model claims no threat unreviewed)" in v.reason
    assert _one(_router(FixedClassifier("other_threat", 0.37, 0.3), FakeLLM())).tier == "llm"
    # an unsure "benign" that still puts the risk at medium claims more than the rules did
    raised = _one(_router(FixedClassifier("benign", 0.44, 0.5)))
    assert raised.tier == "rules" and raised.risk_level == "low" and "claims no threat unreviewed" in raised.reason


def test_a_rule_that_fires_settles_the_event_without_model_or_llm():
    llm = FakeLLM()
    v = _one(_router(FixedClassifier("benign", 0.1, 0.1), llm), _event("evil.exe"))
    assert v.tier == "rules" and v.rule_ids == ["PLAIN-1"] and v.risk_level == "high"
    assert v.reason.startswith("route rules: rule PLAIN-1 fired") and llm.seen == []


def test_no_model_means_the_detection_verdict_stands():
    v = _one(_router(None, FakeLLM()))
    assert v.tier == "rules" and v.reason == "route rules: no rule matched"
    no_active = Router(Detection([], "t"), ModelTier(ModelSource(lambda _p: None), MemoryState(), "t"))  # type: ignore[arg-type,return-value]
    assert _one(no_active).reason == "route rules: no rule matched; model tier has no active model"


def test_a_yaml_rule_requests_review_and_the_llm_gets_the_rule_verdict():
    llm = FakeLLM()
    v = _one(_router(FixedClassifier("benign", 0.99, 0.01), llm), _event("odd.exe"))
    assert v.tier == "llm" and v.rule_ids == ["REVIEW-1"] and v.reason.startswith("route rules>llm: rule REVIEW-1")
    assert "a rule requested llm review" in v.reason
    assert [p.tier for p in llm.seen] == ["rules"]  # the model never saw it


def test_a_sigma_tag_requests_review():
    llm = FakeLLM()
    event = SecurityEvent(event_type="process", action="process_start", product="auditd",
                          process={"name": "oddtool", "executable": "/opt/x/oddtool"})
    v = _one(_router(FixedClassifier("benign", 0.99, 0.01), llm, sigma=True), event)
    assert v.tier == "llm" and v.rule_ids == ["sigma:odd-tool-review"] and v.reason.startswith("route rules>llm:")


@pytest.mark.parametrize(("llm", "budget", "lag", "phrase"), [
    (False, 10, 0, "llm unavailable: rule verdict stands"),
    (True, 0, 0, "llm budget exhausted: rule verdict stands"),
    (True, 10, 500, "under load (lag 500 > 100): rule verdict stands"),
])
def test_a_refused_review_leaves_the_rule_verdict(llm, budget, lag, phrase):  # type: ignore[no-untyped-def]
    v = _one(_router(FixedClassifier("benign", 0.99, 0.01), FakeLLM() if llm else None, budget), _event("odd.exe"),
             lag=lag)
    assert v.tier == "rules" and v.rule_ids == ["REVIEW-1"]
    assert v.reason.startswith("route rules: ") and phrase in v.reason


def test_a_failed_llm_leaves_the_earlier_verdict_with_the_reason():
    v = _one(_router(FixedClassifier("benign", 0.5, 0.4), FakeLLM(fail=True)))
    assert v.tier == "model" and v.reason.startswith("route rules>model>llm: ") and "model verdict stands" in v.reason


def test_overrides_disable_a_rule_or_change_its_level():
    router = _router(None)
    router.detection.overrides = {"PLAIN-1": RuleOverride(enabled=False)}
    assert _one(router, _event("evil.exe")).rule_ids == []
    router.detection.overrides = {"PLAIN-1": RuleOverride(level=RiskLevel.CRITICAL)}
    v = _one(router, _event("evil.exe"))
    assert v.risk_level == "critical" and v.risk_score == 0.95


def test_escalations_and_step_times_are_counted():
    metrics = HybridMetrics(CollectorRegistry())
    router = _router(FixedClassifier("benign", 0.5, 0.4), FakeLLM(), metrics=metrics)
    router.analyze([_event(), _event("evil.exe")])
    assert metrics.escalations.labels(reason="low_confidence", outcome="escalated")._value.get() == 1
    assert metrics.tier_events.labels(tier="rules")._value.get() == 2
    assert metrics.tier_events.labels(tier="model")._value.get() == 1
    assert metrics.tier_events.labels(tier="llm")._value.get() == 1


def test_reload_runs_every_check_in_one_place():
    calls: list[str] = []
    router = Router(Detection([], "t"), reloads=[lambda: calls.append("rules"), lambda: calls.append("sigma")])
    router.reload()
    assert calls == ["rules", "sigma"]


def test_analyze_documents_hands_back_the_json_documents_the_detectors_read():
    events = [_event(), _event("evil.exe")]
    verdicts, documents = _router(None).analyze_documents(events)
    assert [v.rule_ids for v in verdicts] == [[], ["PLAIN-1"]]
    assert documents == [e.model_dump(mode="json", exclude_none=True) for e in events]
