"""``secustream evaluate``: rules-only vs model-only vs hybrid on a fresh labelled stream.

Each mode runs the real tiers over the same events in stream order and in batches (as the worker
does) with its own in-memory state, so stateful rules and burst context behave as in production.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from prometheus_client import CollectorRegistry

from secustream.analyzer.detection import Detection
from secustream.analyzer.model.classifier import ThreatClassifier
from secustream.analyzer.model.hybrid import build_llm_tier, evidence_from, gate_from, thresholds_from
from secustream.analyzer.model.tier import ModelSource, ModelTier
from secustream.analyzer.native import RulesEngine, RuleSet
from secustream.analyzer.router import Router
from secustream.config import Settings
from secustream.generator import EventGenerator
from secustream.metrics import HybridMetrics
from secustream.state import MemoryState
from secustream.training.metrics import ClassScore, classification_report, format_report, macro_f1

VERSION = "secustream-evaluate"


@dataclass
class ModeResult:
    name: str
    macro_f1: float
    report: dict[str, ClassScore]
    tier_share: dict[str, float]
    llm_calls_per_1000: float
    escalations_per_1000: float = 0.0
    notes: list[str] = field(default_factory=list)

    def render(self) -> str:
        share = ", ".join(f"{k} {v:.1%}" for k, v in sorted(self.tier_share.items()))
        return (f"== {self.name}: macro-F1 {self.macro_f1:.4f}\n{format_report(self.report)}\n"
                f"share of events per deciding tier: {share}\n"
                f"LLM calls per 1,000 events: {self.llm_calls_per_1000:.1f} "
                f"(escalations wanted per 1,000: {self.escalations_per_1000:.1f})")


def _run(name: str, router: Router, batches: list[list], truth: list[str],  # type: ignore[type-arg]
         metrics: HybridMetrics | None) -> ModeResult:
    preds: list[str] = []
    deciding: Counter[str] = Counter()
    for batch in batches:
        for v in router.analyze([g.event for g in batch]):
            preds.append(v.threat_type)
            deciding[v.tier] += 1
    n = len(truth)
    llm_calls = escalations = 0.0
    if metrics is not None:
        for metric in metrics.llm_calls.collect():
            for s in metric.samples:
                if s.name.endswith("_total") and s.labels.get("outcome") in ("ok", "error", "timeout", "invalid"):
                    llm_calls += s.value
        for metric in metrics.escalations.collect():
            for s in metric.samples:
                if s.name.endswith("_total"):
                    escalations += s.value
    return ModeResult(name, macro_f1(truth, preds), classification_report(truth, preds),
                      {k: v / n for k, v in deciding.items()}, 1000 * llm_calls / n, 1000 * escalations / n)


def serving_model_tier(settings: Settings, classifier: ThreatClassifier, state: MemoryState | None = None,
                       metrics: HybridMetrics | None = None) -> ModelTier:
    """The model tier as the analyzer builds it from ``settings``, around an already loaded classifier."""
    source = ModelSource(lambda _p: classifier, path="loaded")
    return ModelTier(source, state or MemoryState(), VERSION, batch_size=settings.MODEL_BATCH_SIZE,
                     gate=gate_from(settings), evidence=evidence_from(settings), metrics=metrics)


def load_classifier(settings: Settings, path: Path) -> ThreatClassifier:
    return ThreatClassifier.load(path, device=settings.MODEL_DEVICE, backend=settings.MODEL_BACKEND,
                                 threads=settings.MODEL_THREADS)


def run_evaluation(settings: Settings, classifier_path: Path, seed: int, events: int = 20_000,
                   attack_ratio: float = 0.05, batch_size: int = 500) -> list[ModeResult]:
    gen = EventGenerator(seed=seed, attack_ratio=attack_ratio, start=datetime(2026, 6, 1, tzinfo=UTC), rate=50)
    stream = gen.next_batch(events)
    truth = [g.label.value for g in stream]
    batches = [stream[i : i + batch_size] for i in range(0, len(stream), batch_size)]
    ruleset = RuleSet.load(settings.rules_path)
    classifier = load_classifier(settings, classifier_path)

    thresholds = thresholds_from(settings)

    def model_tier(state: MemoryState) -> ModelTier:
        return serving_model_tier(settings, classifier, state)

    def rules(state: MemoryState) -> Detection:
        return Detection([RulesEngine(ruleset, state)], VERSION)

    results = [_run("rules-only", Router(rules(MemoryState())), batches, truth, None)]
    state = MemoryState()
    results.append(_run("model-only", Router(Detection([], VERSION), model_tier(state), thresholds=thresholds),
                        batches, truth, None))
    state = MemoryState()
    metrics = HybridMetrics(CollectorRegistry())
    llm = build_llm_tier(settings, state, None, VERSION, metrics)
    router = Router(rules(state), model_tier(state), llm, thresholds=thresholds,
                    budget_left=llm.budget.remaining if llm is not None else None, metrics=metrics)
    hybrid = _run("hybrid (rules -> model -> llm)" if llm else "hybrid (rules -> model; llm not configured)",
                  router, batches, truth, metrics)
    if llm is not None:
        llm.close()
    results.append(hybrid)
    return results


def run_real_evaluation(settings: Settings, classifier_path: Path | None, corpus: str, split: str = "test",
                        background: int = 200, seed: int = 0) -> str:
    """``evaluate --corpus otrf|sigmahq``: the real-data table (rules: native + the full SigmaHQ corpus)."""
    from secustream.training import real_eval, realdata

    corpora = settings.corpora_path
    detectors = realdata.Detectors.for_settings(settings, real_cache_dir(settings))
    classifier = load_classifier(settings, classifier_path) if classifier_path else None

    def factory() -> ModelTier:
        assert classifier is not None
        return serving_model_tier(settings, classifier)

    model = factory if classifier is not None else None
    if corpus == "otrf":
        rows = realdata.otrf_split(corpora, split, detectors, real_cache_dir(settings), background, seed)
        return real_eval.render_otrf(split, real_eval.compare(rows, model, thresholds_from(settings)))
    rows = realdata.sigmahq_regression(corpora, detectors)
    return real_eval.render_sigmahq(real_eval.compare(rows, model, thresholds_from(settings)))


def real_cache_dir(settings: Settings) -> Path:
    """Rule verdicts on real samples are cached next to the models (``MODEL_DIR/cache``)."""
    return Path(settings.MODEL_DIR) / "cache"
