"""Promotion judge: a challenger replaces the active model only if it is better on synthetic data AND
no worse on real data.

Real data is the OTRF dev split: the hybrid (rules replayed + this model, with the safety nets off
so the model's own opinion is judged: no OOD gate, and no confidence floor, so an unsure claim that
serving would leave to the LLM or the rules counts as made) must not put more background at high/critical
than the active model did (``NOISE_TOLERANCE`` of slack: a share measured on a few thousand events
moves by a few events between equally good models), nor detect fewer recordings' techniques.
Without an active model the reference is the rules alone, and the first model may add noise up to
``NOISE_CEILING`` (1 % of background at high/critical, the product's target), never beyond.
Every rejection names its figures.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from secustream.analyzer.model.classifier import ThreatClassifier
from secustream.analyzer.model.gate import GateSettings
from secustream.analyzer.model.tier import ModelSource, ModelTier
from secustream.analyzer.policy import RouterThresholds
from secustream.analyzer.router import Router
from secustream.state import MemoryState
from secustream.training.classifier import EvalResult
from secustream.training.real_eval import RealModeResult, ReplayDetection, run_router, score
from secustream.training.realdata import LabelledEvent

OWN_OPINION = RouterThresholds(escalate_below_confidence=0.0)  # every answer stands, however unsure
NOISE_TOLERANCE = 0.001  # absolute share of background events at high/critical
NOISE_CEILING = 0.01


@dataclass(frozen=True)
class RealFigures:
    background_high_share: float
    detected: int
    recordings: int

    def render(self) -> str:
        return (f"{self.background_high_share:.2%} of background at high/critical, "
                f"{self.detected}/{self.recordings} recordings detected")


@dataclass(frozen=True)
class Judgement:
    promoted: bool
    reason: str


def _figures(result: RealModeResult) -> RealFigures:
    return RealFigures(result.background_share, result.detected_count, len(result.detected))


def rules_figures(rows: Sequence[LabelledEvent]) -> RealFigures:
    ordered = sorted(rows, key=lambda r: (r.group, r.event.timestamp))
    return _figures(score("rules-only", ordered, [r.rules for r in ordered]))


def real_figures(clf: ThreatClassifier, rows: Sequence[LabelledEvent]) -> RealFigures:
    """The hybrid on ``rows`` with ``clf`` deciding what the rules leave open, safety nets off."""
    ordered = sorted(rows, key=lambda r: (r.group, r.event.timestamp))
    tier = ModelTier(ModelSource(lambda _p: clf, path="judged"), MemoryState(), "judge",
                     gate=GateSettings(enabled=False))
    router = Router(ReplayDetection(ordered), tier, thresholds=OWN_OPINION)  # type: ignore[arg-type]
    return _figures(score("hybrid", ordered, run_router(router, ordered)))


def judge(candidate: EvalResult, baseline: EvalResult, active: EvalResult | None, active_version: int | None,
          real_candidate: RealFigures | None = None, real_reference: RealFigures | None = None,
          reference_is_rules: bool = False) -> Judgement:
    """Synthetic: beat the majority class and the active version. Real: no more noise, no fewer detections.
    Every failed criterion is named, so a rejection says all that is wrong with the challenger."""
    failures: list[str] = []
    if candidate.macro_f1 <= baseline.macro_f1:
        failures.append("does not beat the majority-class baseline")
    if active is not None and candidate.macro_f1 <= active.macro_f1:
        failures.append(f"synthetic macro-F1 {candidate.macro_f1:.4f} does not beat active v{active_version} "
                        f"({active.macro_f1:.4f})")
    real = ""
    if real_candidate is not None and real_reference is not None:
        ref_name = "the rules alone" if reference_is_rules else f"active v{active_version}"
        allowed = real_reference.background_high_share + NOISE_TOLERANCE
        if reference_is_rules:
            allowed = max(allowed, NOISE_CEILING)
        if real_candidate.background_high_share > allowed:
            failures.append(f"raises real background noise on the OTRF dev split: "
                            f"{real_candidate.background_high_share:.2%} at high/critical vs "
                            f"{real_reference.background_high_share:.2%} with {ref_name}")
        if real_candidate.detected < real_reference.detected:
            failures.append(f"lowers technique detection on the OTRF dev split: {real_candidate.detected}/"
                            f"{real_candidate.recordings} recordings vs {real_reference.detected} with {ref_name}")
        real = f"; real dev: {real_candidate.render()} (vs {real_reference.render()} with {ref_name})"
    elif real_candidate is None:
        real = "; real data not judged (corpora not found)"
    if failures:
        return Judgement(False, "; ".join(failures))
    beats = f" and active v{active_version} ({active.macro_f1:.4f})" if active is not None else " (no active version)"
    return Judgement(True, f"beats the baseline{beats}{real}")
