"""Stand-ins shared by the unit tests (plain classes, no pytest magic)."""

from __future__ import annotations

from secustream.analyzer.model.classifier import Prediction


class FixedClassifier:
    """A classifier with known outputs, so each routing branch is exercised exactly."""

    name = "fixed"

    def __init__(self, label: str, confidence: float, risk: float) -> None:
        self.answer = Prediction(label, confidence, risk)

    def predict(self, texts, batch_size=256):  # type: ignore[no-untyped-def]
        return [self.answer] * len(texts)
