"""The model's brute-force claim needs evidence: its source's failed logins in the window (issue 16)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import torch

from secustream.analyzer.detection import Detection
from secustream.analyzer.model.classifier import LABELS, ThreatClassifier, build_model, load_tokenizer, without_classes
from secustream.analyzer.model.evidence import EvidenceSettings, login_evidence
from secustream.analyzer.model.hybrid import evidence_from
from secustream.analyzer.model.tier import ModelSource, ModelTier
from secustream.analyzer.policy import RouterThresholds
from secustream.analyzer.router import Router
from secustream.config import Settings
from secustream.events import SecurityEvent
from secustream.state import MemoryState
from secustream.verdict import RiskLevel

from .fakes import FixedClassifier

T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)


def _failed(ip: str, second: float) -> SecurityEvent:
    return SecurityEvent(event_type="auth", action="ssh_login", outcome="failure", product="openssh", dataset="sshd",
                         source={"ip": ip}, destination={"host": "srv-web-01", "port": 22, "user": "root"},
                         timestamp=T0 + timedelta(seconds=second))


def _router(clf, evidence: EvidenceSettings | None = None) -> Router:  # type: ignore[no-untyped-def]
    tier = ModelTier(ModelSource(lambda _p: clf, path="pinned"), MemoryState(), "t", evidence=evidence)
    return Router(Detection([], "t"), tier, thresholds=RouterThresholds(0.8, 0.9, 100))


def test_stray_failed_logins_are_not_brute_force_whatever_the_model_says():
    """Three sources with one to three failures each: the model would say brute force, the window refuses."""
    clf = FixedClassifier("brute_force", 0.95, 0.75)
    events = [_failed("45.9.1.1", 0), _failed("45.9.1.2", 1), _failed("45.9.1.2", 5),
              _failed("45.9.1.3", 2), _failed("45.9.1.3", 9), _failed("45.9.1.3", 30)]
    verdicts = _router(clf).analyze(events)
    assert [v.threat_type for v in verdicts] == ["benign"] * 6
    assert all(v.risk_level == RiskLevel.LOW and v.tier == "model" for v in verdicts)
    assert "brute force not claimed: 1 failed login from this source in 60 s, fewer than 4" in verdicts[0].reason
    assert "brute force not claimed: 3 failed logins from this source in 60 s, fewer than 4" in verdicts[5].reason


def test_a_burst_of_failures_lets_the_claim_stand_and_the_reason_names_the_count():
    clf = FixedClassifier("brute_force", 0.95, 0.75)
    events = [_failed("45.9.9.9", 2 * i) for i in range(6)]
    verdicts = _router(clf).analyze(events)
    assert [v.threat_type for v in verdicts] == ["benign"] * 3 + ["brute_force"] * 3
    assert verdicts[3].risk_level == RiskLevel.HIGH
    assert "evidence: 4 failed logins from this source in 60 s" in verdicts[3].reason
    # failures spread beyond the window never add up to evidence
    slow = [_failed("45.9.9.8", 61 * i) for i in range(6)]
    assert {v.threat_type for v in _router(clf).analyze(slow)} == {"benign"}


def test_one_means_no_evidence_required_and_the_setting_reaches_the_tier():
    clf = FixedClassifier("brute_force", 0.95, 0.75)
    off = evidence_from(Settings(MODEL_BRUTE_FORCE_MIN_FAILURES=1))
    assert off == EvidenceSettings(1)
    assert _router(clf, off).analyze([_failed("45.9.1.1", 0)])[0].threat_type == "brute_force"
    assert evidence_from(Settings()).brute_force_min_failures == 4


def test_only_failed_logins_need_the_count():
    ok = _failed("45.9.1.1", 0).model_copy(update={"outcome": "success"})
    dns = SecurityEvent(event_type="dns", action="dns_query", source={"ip": "10.0.0.1"})
    found = login_evidence([_failed("45.9.1.1", 0), ok, dns], [1, 1, None], EvidenceSettings())
    assert found[0] is not None and found[0].refused == "brute_force" and found[1] is None and found[2] is None
    no_address = login_evidence([_failed("45.9.1.1", 0)], [None], EvidenceSettings())[0]
    assert no_address is not None and no_address.refused == "brute_force"
    assert "no source address to count by" in no_address.describe()


def test_a_refused_class_hands_the_answer_to_the_next_most_likely_one():
    probs = np.array([[0.2, 0.7, 0.1, 0, 0, 0, 0, 0], [0.2, 0.7, 0.1, 0, 0, 0, 0, 0]], dtype=np.float32)
    out = without_classes(probs, LABELS, ["brute_force", None])
    assert np.allclose(out[0, :3], [2 / 3, 0.0, 1 / 3]) and np.allclose(out[1], probs[1])
    assert probs[0, 1] == np.float32(0.7)  # the input is left alone
    torch.manual_seed(0)
    clf = ThreatClassifier(build_model("tiny", init="random"), load_tokenizer(), LABELS, max_length=32,
                           device=torch.device("cpu"), name="tiny")
    texts = [f"auth ssh_login failure burst {i}" for i in range(1, 9)]
    refused, _emb = clf.assess(texts, refuse=["brute_force"] * len(texts))
    assert all(p.label != "brute_force" for p in refused)
