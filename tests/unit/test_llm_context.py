"""What the LLM tier tells the LLM about the classifier's claim, and how the test stub reads it.

A benign workstation's SMB flow to its domain controller was classified lateral_movement at 0.77 on one host's
training run, with the model's own evidence that its closest training examples were benign; the LLM saw only
"classifier says lateral_movement", so the stub (and a real LLM given nothing else) agreed and raised it high.
"""

from __future__ import annotations

import uuid

from secustream.analyzer.llm.stub import _answer
from secustream.analyzer.llm.tier import describe_context
from secustream.verdict import RiskLevel, Verdict


def _prior(reason: str, rule_ids: list[str] | None = None) -> Verdict:
    return Verdict(event_id=uuid.uuid4(), risk_level=RiskLevel.MEDIUM, risk_score=0.6, threat_type="lateral_movement",
                   confidence=0.77, tier="model", reason=reason, rule_ids=rule_ids or [], analyzer_version="t")


def _prompt(event: str, context: str) -> str:
    return f"[[ ## event ## ]]\n{event}\n\n[[ ## context ## ]]\n{context}\n"


def test_the_context_carries_the_classifiers_evidence() -> None:
    bare = describe_context(_prior("student v1: lateral_movement at 0.77"))
    assert bare == ("classifier says lateral_movement (confidence 0.77, risk 0.60); no detection rule matched")
    told = describe_context(_prior("student v1: lateral_movement at 0.77; evidence: closest training examples "
                                   "labelled benign, like 'network flow success src internal workstation'"))
    assert told.startswith(bare) and told.endswith(
        "; the classifier's closest training examples labelled benign, like 'network flow success src internal "
        "workstation'")
    assert describe_context(_prior("x", ["R1"])).startswith("detection rules R1 fired")


def test_the_stub_agrees_with_the_classifier_unless_its_evidence_is_benign() -> None:
    flow = "network flow success src internal workstation dst internal server port 445"
    agreed = _answer(_prompt(flow, describe_context(_prior("m: lateral_movement at 0.77"))))
    assert "[[ ## threat_type ## ]]\nlateral_movement" in agreed and "[[ ## risk_level ## ]]\nhigh" in agreed
    benign = describe_context(_prior("m: lateral_movement at 0.77; evidence: closest training examples labelled "
                                     "benign, like 'network flow'"))
    assert "[[ ## threat_type ## ]]\nbenign" in _answer(_prompt(flow, benign))
    marked = _answer(_prompt(flow + " brute_force", benign))  # a class named in the event text still wins
    assert "[[ ## threat_type ## ]]\nbrute_force" in marked
