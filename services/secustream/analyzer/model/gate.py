"""Out-of-distribution gate: the model abstains on events unlike anything it was trained on.

Why two checks: a kind of event never seen in training (``windows.sysmon:process`` for a model
that only saw generator traffic) is out of distribution by definition and costs a dict lookup;
within known kinds, an event whose embedding (the classifier's pooled representation, L2-normed)
lies farther from every training centroid than almost all held-out training events did is
unfamiliar even if its kind is not. Both thresholds are fitted at training time and selected by
settings at serving time (``MODEL_OOD_*``); the centroids and a representative training text for
each ride in the artifact, so a verdict can name the training examples it resembles (its evidence).
Cost: one (n, d) @ (d, k) product per batch, k = 64 — well under the forward pass.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from secustream.events import SecurityEvent

GATE_FILE = "secustream-ood.npz"
GATE_META = "secustream-ood.json"
QUANTILES = (0.9, 0.95, 0.98, 0.99, 0.995, 0.999, 1.0)


def event_kind(event: SecurityEvent) -> str:
    """What the kind check compares: the source (dataset, else product) and the event type."""
    return f"{event.dataset or event.product or '-'}:{event.event_type.value}"


@dataclass(frozen=True)
class GateSettings:
    enabled: bool = True
    unseen_kind: bool = True
    distance_quantile: float = 0.995
    min_kind_examples: int = 20


@dataclass(frozen=True)
class GateResult:
    """Per event: None when in distribution, else why not; and the nearest centroid for evidence."""

    reasons: list[str | None]
    nearest: np.ndarray  # index of the nearest centroid per event (-1 without a gate)


@dataclass
class DistributionGate:
    centroids: np.ndarray  # (k, d), rows L2-normalised
    centroid_texts: list[str]
    centroid_labels: list[str]
    distance_quantiles: dict[float, float]  # held-out training events: quantile → cosine distance
    kinds: dict[str, int]

    # ---- fitting (training time) ----------------------------------------------------------------
    @classmethod
    def fit(cls, embeddings: np.ndarray, texts: Sequence[str], labels: Sequence[str], kinds: Sequence[str],
            held_out: np.ndarray, k: int = 64, seed: int = 0, iterations: int = 15) -> DistributionGate:
        """Spherical k-means on training embeddings; quantiles of held-out distances to the centroids."""
        x = _normed(embeddings)
        rng = np.random.default_rng(seed)
        k = max(1, min(k, len(x)))
        centroids = x[rng.choice(len(x), size=k, replace=False)]
        for _ in range(iterations):
            assign = (x @ centroids.T).argmax(axis=1)
            for j in range(k):
                members = x[assign == j]
                if len(members):
                    c = members.mean(axis=0)
                    centroids[j] = c / max(float(np.linalg.norm(c)), 1e-8)
        sims = x @ centroids.T
        rep = sims.argmax(axis=0)  # the training example closest to each centroid
        held = held_out if len(held_out) else embeddings
        dist = 1.0 - (_normed(held) @ centroids.T).max(axis=1)
        quantiles = {q: float(np.quantile(dist, q)) for q in QUANTILES}
        counts: dict[str, int] = {}
        for kind in kinds:
            counts[kind] = counts.get(kind, 0) + 1
        return cls(centroids.astype(np.float32), [texts[i] for i in rep], [labels[i] for i in rep], quantiles, counts)

    # ---- persistence ----------------------------------------------------------------------------
    def save(self, path: Path) -> None:
        np.savez_compressed(path / GATE_FILE, centroids=self.centroids)
        (path / GATE_META).write_text(json.dumps({
            "centroid_texts": self.centroid_texts, "centroid_labels": self.centroid_labels,
            "distance_quantiles": {str(q): v for q, v in self.distance_quantiles.items()}, "kinds": self.kinds,
        }, indent=1, sort_keys=True))

    @classmethod
    def load(cls, path: Path) -> DistributionGate | None:
        """The gate saved with an artifact, or None for artifacts trained before the gate existed."""
        if not (path / GATE_FILE).exists() or not (path / GATE_META).exists():
            return None
        meta = json.loads((path / GATE_META).read_text())
        with np.load(path / GATE_FILE) as data:
            centroids = data["centroids"].astype(np.float32)
        return cls(centroids, list(meta["centroid_texts"]), list(meta["centroid_labels"]),
                   {float(q): float(v) for q, v in meta["distance_quantiles"].items()}, dict(meta["kinds"]))

    # ---- serving --------------------------------------------------------------------------------
    def threshold(self, quantile: float) -> float:
        """The distance at the nearest fitted quantile at or above ``quantile``."""
        above = [q for q in self.distance_quantiles if q >= quantile]
        return self.distance_quantiles[min(above)] if above else self.distance_quantiles[max(self.distance_quantiles)]

    def check(self, events: Sequence[SecurityEvent], embeddings: np.ndarray, settings: GateSettings) -> GateResult:
        sims = _normed(embeddings) @ self.centroids.T
        nearest = sims.argmax(axis=1)
        reasons: list[str | None] = [None] * len(events)
        if not settings.enabled:
            return GateResult(reasons, nearest)
        limit = self.threshold(settings.distance_quantile)
        distance = 1.0 - sims[np.arange(len(events)), nearest]
        for i, event in enumerate(events):
            kind = event_kind(event)
            if settings.unseen_kind and self.kinds.get(kind, 0) < settings.min_kind_examples:
                reasons[i] = f"event kind {kind} unseen in training ({self.kinds.get(kind, 0)} examples)"
            elif distance[i] > limit:
                reasons[i] = (f"embedding distance {distance[i]:.3f} to the training set > {limit:.3f} "
                              f"(q{settings.distance_quantile:g} of held-out training events)")
        return GateResult(reasons, nearest)

    def evidence(self, index: int) -> str:
        label, text = self.centroid_labels[index], self.centroid_texts[index][:90]
        return f"closest training examples labelled {label}, like '{text}'"


def _normed(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-8)
