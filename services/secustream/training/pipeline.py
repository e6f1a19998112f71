"""``secustream train``: build the labelled set, fine-tune, evaluate on held-out data, register, promote.

Held-out data is a generator stream with a different seed (plus a slice of feedback), so identical
renderings cannot leak from training into the score. The candidate is promoted only if it beats
the active version re-scored on the same held-out set, and always has to beat the majority class.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from secustream.analyzer.model.classifier import ThreatClassifier
from secustream.analyzer.native import RuleSet
from secustream.storage import registry
from secustream.training.classifier import (
    EvalResult,
    TrainConfig,
    evaluate_classifier,
    majority_baseline,
    train_classifier,
)
from secustream.training.dataset import Example, feedback_examples, generated_examples, split, weak_llm_examples
from secustream.training.metrics import ClassScore, format_report

log = logging.getLogger(__name__)


@dataclass
class TrainPlan:
    seed: int = 7
    events: int = 12_000
    held_out_events: int = 4_000
    attack_ratio: float = 0.3
    use_feedback: bool = True
    use_weak_labels: bool = True
    weak_min_confidence: float = 0.9
    train: TrainConfig = field(default_factory=TrainConfig)


@dataclass
class TrainOutcome:
    version: int
    artifact: Path
    candidate: EvalResult
    baseline: EvalResult
    active_before: EvalResult | None
    promoted: bool
    reason: str
    sources: dict[str, int]
    suppressions_created: int = 0

    def summary(self) -> str:
        lines = [f"candidate v{self.version}: macro-F1 {self.candidate.macro_f1:.4f} "
                 f"(accuracy {self.candidate.accuracy:.4f}) on {self.candidate.n} held-out events",
                 f"majority-class baseline: macro-F1 {self.baseline.macro_f1:.4f}"]
        if self.active_before is not None:
            lines.append(f"active version on the same held-out set: macro-F1 {self.active_before.macro_f1:.4f}")
        lines.append(f"training examples by source: {self.sources}")
        report = {k: ClassScore(v["precision"], v["recall"], v["f1"], int(v["support"]))
                  for k, v in self.candidate.per_class.items()}
        lines.append(format_report(report))
        lines.append(("PROMOTED: " if self.promoted else "not promoted: ") + self.reason)
        if self.suppressions_created:
            lines.append(f"rule suppressions created from false-positive feedback: {self.suppressions_created}")
        return "\n".join(lines)


def run_training(plan: TrainPlan, engine: Engine, model_dir: str | Path, rules_path: Path | None = None,
                 loader_device: str = "auto") -> TrainOutcome:
    created = 0
    if rules_path is not None:
        from secustream.analyzer.native.suppressions import sync_from_feedback

        created = sync_from_feedback(engine, RuleSet.load(rules_path))
    train: list[Example] = generated_examples(plan.seed, plan.events, plan.attack_ratio)
    held: list[Example] = generated_examples(plan.seed + 10_007, plan.held_out_events, plan.attack_ratio)
    extra: list[Example] = []
    if plan.use_feedback:
        extra += feedback_examples(engine)
    if plan.use_weak_labels:
        extra += weak_llm_examples(engine, plan.weak_min_confidence)
    if extra:
        extra_train, extra_held = split(extra, 0.2, plan.seed)
        train += extra_train
        held += [e for e in extra_held if not e.weak]  # never score on weak labels
    sources: dict[str, int] = {}
    for e in train:
        sources[e.source] = sources.get(e.source, 0) + 1

    version = registry.next_version(engine, registry.CLASSIFIER)
    name = f"threat-{plan.train.arch}"
    clf = train_classifier(train, plan.train, name=name)
    candidate = evaluate_classifier(clf, held)
    baseline = majority_baseline(train, held)
    current = registry.active(engine, registry.CLASSIFIER)
    active_before: EvalResult | None = None
    if current is not None:
        try:
            active_before = evaluate_classifier(ThreatClassifier.load(current.artifact_path, device=loader_device),
                                                held)
        except Exception as exc:  # a vanished artifact must not block a good candidate
            log.warning("active v%d could not be re-scored (%s); using its recorded metrics", current.version, exc)
            recorded = float(current.metrics.get("macro_f1", 0.0))
            active_before = EvalResult(recorded, float(current.metrics.get("accuracy", 0.0)))
    if candidate.macro_f1 <= baseline.macro_f1:
        promoted, reason = False, "does not beat the majority-class baseline"
    elif active_before is not None and candidate.macro_f1 <= active_before.macro_f1:
        promoted, reason = False, (f"macro-F1 {candidate.macro_f1:.4f} does not beat active "
                                   f"v{current.version if current else '?'} ({active_before.macro_f1:.4f})")
    else:
        promoted = True
        reason = "beats the baseline" + (f" and active v{current.version} ({active_before.macro_f1:.4f})"
                                         if current and active_before else " (no active version)")
    path = registry.artifact_dir(model_dir, registry.CLASSIFIER, version)
    metrics: dict[str, Any] = {**candidate.as_dict(), "baseline_macro_f1": baseline.macro_f1,
                               "active_macro_f1_same_set": active_before.macro_f1 if active_before else None,
                               "sources": sources, "arch": plan.train.arch}
    clf.name = name
    clf.save(path, {"metrics": metrics, "version": version})
    registry.register(engine, registry.CLASSIFIER, version, name, path, metrics,
                      notes=reason)
    if promoted:
        registry.promote(engine, registry.CLASSIFIER, version)
    return TrainOutcome(version, path, candidate, baseline, active_before, promoted, reason, sources, created)
