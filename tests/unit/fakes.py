"""Stand-ins shared by the unit tests (plain classes, no pytest magic)."""

from __future__ import annotations

import numpy as np

from secustream.analyzer.model.classifier import Prediction


class FixedClassifier:
    """A classifier with known outputs, so each routing branch is exercised exactly."""

    name = "fixed"
    gate = None  # no out-of-distribution gate: it never abstains

    def __init__(self, label: str, confidence: float, risk: float) -> None:
        self.answer = Prediction(label, confidence, risk)

    def predict(self, texts, batch_size=256):  # type: ignore[no-untyped-def]
        return [self.answer] * len(texts)

    def assess(self, texts, batch_size=256, refuse=None):  # type: ignore[no-untyped-def]
        """A refused class (missing evidence) answers benign, as the real classifier's runner-up would."""
        benign = Prediction("benign", self.answer.confidence, 0.02)
        answers = [benign if refuse is not None and refuse[i] == self.answer.label else self.answer
                   for i in range(len(texts))]
        return answers, np.zeros((len(texts), 4), dtype=np.float32)
