"""The out-of-distribution gate: fitted at training, checked at serving; an OOD event gets the abstain
reason and no model-raised risk; in distribution, a flagged verdict names its evidence."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
import torch

from secustream.analyzer.detection import Detection
from secustream.analyzer.model.classifier import LABELS, Prediction, ThreatClassifier, build_model, load_tokenizer
from secustream.analyzer.model.gate import DistributionGate, GateSettings, event_kind
from secustream.analyzer.model.tier import ABSTAIN, ModelSource, ModelTier
from secustream.analyzer.policy import Route, RouterThresholds, decide
from secustream.analyzer.router import Router
from secustream.events import SecurityEvent
from secustream.state import MemoryState
from secustream.verdict import RiskLevel, Verdict


def _gate(kinds: dict[str, int]) -> DistributionGate:
    rng = np.random.default_rng(0)
    train = rng.normal(size=(400, 8)) + np.array([5.0] + [0.0] * 7)  # a tight cloud along one axis
    held = rng.normal(size=(100, 8)) + np.array([5.0] + [0.0] * 7)
    gate = DistributionGate.fit(train, [f"text {i}" for i in range(400)], ["benign"] * 400,
                                [k for k, n in kinds.items() for _ in range(n)], held, k=4)
    return gate


def test_gate_flags_unseen_kinds_and_far_embeddings_and_round_trips(tmp_path: Path):
    sysmon = SecurityEvent(event_type="process", product="windows", dataset="windows.sysmon")
    ssh = SecurityEvent(event_type="auth", product="openssh", dataset="sshd")
    gate = _gate({event_kind(ssh): 50, event_kind(sysmon): 3})
    near = np.array([[5.0] + [0.0] * 7] * 2)
    far = np.array([[0.0] * 7 + [5.0]] * 2)
    settings = GateSettings(min_kind_examples=20)
    result = gate.check([ssh, sysmon], near, settings)
    assert result.reasons[0] is None
    assert result.reasons[1] and "windows.sysmon:process unseen in training (3 examples)" in result.reasons[1]
    far_reason = gate.check([ssh, ssh], far, settings).reasons[0]
    assert far_reason and "embedding distance" in far_reason
    assert gate.check([ssh, sysmon], far, GateSettings(enabled=False)).reasons == [None, None]
    assert gate.check([sysmon], near[:1], GateSettings(unseen_kind=False)).reasons == [None]
    gate.save(tmp_path)
    loaded = DistributionGate.load(tmp_path)
    assert loaded is not None and loaded.kinds == gate.kinds
    assert loaded.threshold(0.995) == pytest.approx(gate.threshold(0.995))
    assert gate.threshold(0.9) <= gate.threshold(0.999)


class _Fixed:
    """A classifier with a fixed answer and embedding, plus a gate that knows only sshd auth events."""

    name = "fixed"
    labels = list(LABELS)

    def __init__(self, label: str, confidence: float, risk: float, embedding: list[float]) -> None:
        self.answer = Prediction(label, confidence, risk)
        self.embedding = np.array(embedding, dtype=np.float32)
        self.gate = _gate({"sshd:auth": 100})

    def assess(self, texts, batch_size=256, refuse=None):  # type: ignore[no-untyped-def]
        return [self.answer] * len(texts), np.tile(self.embedding, (len(texts), 1))


def _verdict(clf, event: SecurityEvent) -> Verdict:  # type: ignore[no-untyped-def]
    """Through the real router: no detector fires (Detection without detectors), the model decides or abstains."""
    tier = ModelTier(ModelSource(lambda _p: clf, path="pinned"), MemoryState(), "t")
    return Router(Detection([], "t"), tier, thresholds=RouterThresholds(0.8, 0.9, 100)).analyze([event])[0]


def test_out_of_distribution_event_gets_the_abstain_reason_and_no_model_raised_risk():
    """A product and event kind never trained on: the rules' verdict stands, the reason says why."""
    clf = _Fixed("malicious_process", 0.99, 0.95, [5.0] + [0.0] * 7)
    event = SecurityEvent(event_type="process", product="windows", dataset="windows.sysmon",
                          timestamp=datetime(2026, 1, 1, tzinfo=UTC))
    v = _verdict(clf, event)
    assert ABSTAIN in v.reason and "windows.sysmon:process unseen in training" in v.reason
    assert v.risk_level == RiskLevel.LOW and v.threat_type == "benign" and v.tier == "rules"
    assert v.reason.startswith("route rules>model: no rule matched")
    # with an LLM that has budget, the policy sends it there (the model still claims nothing)
    d = decide(confidence=1.0, risk_score=0.05, lag=0, llm_available=True, budget_left=5,
               thresholds=RouterThresholds(), out_of_distribution=True)
    assert d.route is Route.LLM and "outside the model's training distribution" in d.reason
    alone = decide(confidence=1.0, risk_score=0.05, lag=0, llm_available=False, budget_left=None,
                   thresholds=RouterThresholds(), out_of_distribution=True)
    assert alone.route is Route.MODEL and "rule verdict stands" in alone.reason


def test_in_distribution_the_model_may_raise_risk_and_names_its_evidence():
    clf = _Fixed("brute_force", 0.95, 0.75, [5.0] + [0.0] * 7)
    event = SecurityEvent(event_type="auth", product="openssh", dataset="sshd")
    v = _verdict(clf, event)
    assert v.tier == "model" and v.risk_level == RiskLevel.HIGH
    assert "evidence: closest training examples labelled benign, like 'text" in v.reason


def test_a_trained_artifact_carries_its_gate(tmp_path: Path):
    """fit_gate on a tiny random model: saved with the artifact, loaded back, and used by the tier."""
    from secustream.training.classifier import fit_gate
    from secustream.training.dataset import generated_examples

    torch.manual_seed(0)
    clf = ThreatClassifier(build_model("tiny", init="random"), load_tokenizer(), LABELS, max_length=32,
                           device=torch.device("cpu"), name="tiny")
    examples = generated_examples(5, 300)
    _l, held = clf.forward([e.text for e in examples[:50]])
    clf.gate = fit_gate(clf, examples[50:], held)
    clf.save(tmp_path / "v1")
    loaded = ThreatClassifier.load(tmp_path / "v1", device="cpu")
    assert loaded.gate is not None and sum(loaded.gate.kinds.values()) == 250
    assert len(loaded.gate.centroid_texts) == loaded.gate.centroids.shape[0]
