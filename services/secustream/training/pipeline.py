"""``secustream train``: build the labelled set, fine-tune, evaluate on held-out data, register, promote.

Sources: the generator, analyst feedback, high-confidence LLM verdicts and, when the corpora are
there, real telemetry (Sigma weak labels and OTRF background of the train split, ``real_examples``).
Held-out data is a generator stream with a different seed (plus a slice of feedback), so identical
renderings cannot leak from training into the score, and the OTRF dev split (real recordings never
trained on). ``judge`` promotes only a candidate better on both (docs/analyzer.md).
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
from secustream.training import otrf, realdata
from secustream.training.classifier import (
    EvalResult,
    TrainConfig,
    evaluate_classifier,
    majority_baseline,
    train_classifier,
)
from secustream.training.dataset import Example, feedback_examples, generated_examples, split, weak_llm_examples
from secustream.training.judge import judge, real_figures, rules_figures
from secustream.training.metrics import ClassScore, format_report
from secustream.training.real_examples import real_examples
from secustream.training.realdata import LabelledEvent

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
    corpora: Path | None = None  # real data (OTRF); None or missing: synthetic + feedback only
    detectors: realdata.Detectors | None = None  # the rules on real data (native + SigmaHQ corpus); with corpora
    real_background: int = 200  # OTRF background events sampled per recording (train and dev splits)
    real_training: bool = True  # False: train without real examples (the real dev judge still runs)
    cache_dir: Path | None = None  # rule verdicts on the real samples (realdata)


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
    real: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> str:
        lines = [f"candidate v{self.version}: macro-F1 {self.candidate.macro_f1:.4f} "
                 f"(accuracy {self.candidate.accuracy:.4f}) on {self.candidate.n} held-out events",
                 f"majority-class baseline: macro-F1 {self.baseline.macro_f1:.4f}"]
        if self.active_before is not None:
            lines.append(f"active version on the same held-out set: macro-F1 {self.active_before.macro_f1:.4f}")
        lines.append("training examples by source: " + ", ".join(f"{k} {v}" for k, v in sorted(self.sources.items())))
        for key, value in self.real.items():
            lines.append(f"real dev ({key}): {value}")
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
    real_dev: list[LabelledEvent] = []
    if plan.corpora is not None and plan.detectors is not None and (plan.corpora / otrf.OTRF_DIR).is_dir():
        detectors = plan.detectors
        real_dev = realdata.otrf_split(plan.corpora, "dev", detectors, plan.cache_dir, plan.real_background)
        if plan.real_training:
            train += real_examples(realdata.otrf_split(plan.corpora, "train", detectors, plan.cache_dir,
                                                       plan.real_background))
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
    active_clf: ThreatClassifier | None = None
    if current is not None:
        try:
            active_clf = ThreatClassifier.load(current.artifact_path, device=loader_device)
            active_before = evaluate_classifier(active_clf, held)
        except Exception as exc:  # a vanished artifact must not block a good candidate
            log.warning("active v%d could not be re-scored (%s); using its recorded metrics", current.version, exc)
            recorded = float(current.metrics.get("macro_f1", 0.0))
            active_before = EvalResult(recorded, float(current.metrics.get("accuracy", 0.0)))
    real_candidate = real_reference = None
    real: dict[str, Any] = {}
    if real_dev:
        real_candidate = real_figures(clf, real_dev)
        real_reference = real_figures(active_clf, real_dev) if active_clf is not None else rules_figures(real_dev)
        real = {"candidate": real_candidate.render(),
                ("active" if active_clf is not None else "rules alone"): real_reference.render()}
    verdict = judge(candidate, baseline, active_before, current.version if current else None,
                    real_candidate, real_reference, reference_is_rules=active_clf is None)
    promoted, reason = verdict.promoted, verdict.reason
    path = registry.artifact_dir(model_dir, registry.CLASSIFIER, version)
    metrics: dict[str, Any] = {**candidate.as_dict(), "baseline_macro_f1": baseline.macro_f1,
                               "active_macro_f1_same_set": active_before.macro_f1 if active_before else None,
                               "sources": sources, "arch": plan.train.arch,
                               "real_dev": real_candidate.__dict__ if real_candidate else None}
    clf.name = name
    clf.save(path, {"metrics": metrics, "version": version})
    registry.register(engine, registry.CLASSIFIER, version, name, path, metrics,
                      notes=reason)
    if promoted:
        registry.promote(engine, registry.CLASSIFIER, version)
    return TrainOutcome(version, path, candidate, baseline, active_before, promoted, reason, sources, created, real)
