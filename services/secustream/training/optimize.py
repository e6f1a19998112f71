"""``secustream optimize-llm``: BootstrapFewShot over analyst feedback, saved as a versioned program.

Why few-shot bootstrapping: feedback is scarce and the LM is fixed, so the cheapest improvement is
picking demonstrations the LM gets right; the program is only promoted if it scores at least as
well as the program in use on held-out examples.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import dspy
from pydantic import ValidationError
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from secustream.analyzer.llm.program import LLMAssessment, adapter, load_program, make_lm
from secustream.analyzer.llm.tier import describe_event
from secustream.config import Settings
from secustream.events import SecurityEvent
from secustream.generator import EventGenerator
from secustream.storage import registry
from secustream.storage.tables import Event, Feedback
from secustream.storage.tables import Verdict as VerdictRow
from secustream.training.dataset import feedback_class


@dataclass
class OptimizeOutcome:
    version: int
    path: Path
    score_before: float
    score_after: float
    n_train: int
    n_dev: int
    promoted: bool

    def summary(self) -> str:
        verdict = "PROMOTED" if self.promoted else "not promoted (no better than the program in use)"
        return (f"llm program v{self.version}: accuracy {self.score_after:.3f} vs {self.score_before:.3f} before "
                f"on {self.n_dev} held-out examples ({self.n_train} training examples) -> {verdict}\n"
                f"saved to {self.path}")


def _example(event: SecurityEvent, label: str) -> dspy.Example:
    return dspy.Example(event=describe_event(event), context="classifier verdict unavailable (optimisation)",
                        threat_type=label).with_inputs("event", "context")


def feedback_dspy_examples(engine: Engine) -> list[dspy.Example]:
    stmt = (select(Feedback.label, Feedback.corrected_class, Event.payload, VerdictRow.threat_type)
            .join(Event, Event.id == Feedback.event_id)
            .outerjoin(VerdictRow, VerdictRow.event_id == Feedback.event_id))
    out: list[dspy.Example] = []
    with Session(engine) as s:
        for label, corrected, payload, verdict_class in s.execute(stmt):
            cls = feedback_class(label, corrected, verdict_class)
            if cls:
                out.append(_example(SecurityEvent.model_validate(payload), cls))
    return out


def demo_examples(seed: int, n: int) -> list[dspy.Example]:
    """Ground-truth generator events, balanced across classes (for demos without feedback yet)."""
    gen = EventGenerator(seed=seed, attack_ratio=0.5, start=datetime(2026, 3, 1, tzinfo=UTC))
    per_class: dict[str, list[dspy.Example]] = {}
    for g in gen.next_batch(n * 20):
        bucket = per_class.setdefault(g.label.value, [])
        if len(bucket) < max(1, n // 7):
            bucket.append(_example(g.event, g.label.value))
    return [e for bucket in per_class.values() for e in bucket][:n]


def metric(example: dspy.Example, pred: dspy.Prediction, trace: object = None) -> bool:
    try:
        a = LLMAssessment.model_validate({k: pred.get(k) for k in LLMAssessment.model_fields})
    except ValidationError:
        return False
    return a.threat_type == example.threat_type


def _score(program: dspy.Module, dev: list[dspy.Example]) -> float:
    ok = 0
    for ex in dev:
        with contextlib.suppress(Exception):  # an unparseable answer scores zero
            ok += bool(metric(ex, program(**ex.inputs())))
    return ok / max(1, len(dev))


def run_optimization(settings: Settings, engine: Engine, model_dir: str | Path, demo_events: int = 40,
                     seed: int = 3, max_demos: int = 4) -> OptimizeOutcome:
    lm = make_lm(settings)
    if lm is None:
        raise SystemExit("optimize-llm: no LM configured (set OPENAI_API_KEY or LLM_API_BASE)")
    examples = feedback_dspy_examples(engine) + (demo_examples(seed, demo_events) if demo_events else [])
    if len(examples) < 4:
        raise SystemExit(f"optimize-llm: need at least 4 labelled examples, have {len(examples)}")
    import random

    random.Random(seed).shuffle(examples)
    cut = max(2, int(len(examples) * 0.7))
    train, dev = examples[:cut], examples[cut:]
    current = registry.active(engine, registry.LLM_PROGRAM)
    before = load_program(Path(current.artifact_path) if current else None)
    before.set_lm(lm)
    with dspy.context(lm=lm, adapter=adapter()):
        score_before = _score(before, dev)
        teleprompter = dspy.BootstrapFewShot(metric=metric, max_bootstrapped_demos=max_demos,
                                             max_labeled_demos=max_demos)
        student = load_program(None)
        student.set_lm(lm)
        compiled = teleprompter.compile(student, trainset=train)
        compiled.set_lm(lm)
        score_after = _score(compiled, dev)
    version = registry.next_version(engine, registry.LLM_PROGRAM)
    path = registry.artifact_dir(model_dir, registry.LLM_PROGRAM, version) / "program.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    compiled.save(str(path))
    promoted = score_after >= score_before
    metrics = {"accuracy": score_after, "accuracy_before": score_before, "n_train": len(train), "n_dev": len(dev),
               "demos": len(compiled.assess.demos), "lm": settings.LLM_MODEL}
    (path.parent / "metrics.json").write_text(json.dumps(metrics, indent=2))
    registry.register(engine, registry.LLM_PROGRAM, version, "security-analyst", path, metrics)
    if promoted:
        registry.promote(engine, registry.LLM_PROGRAM, version)
    return OptimizeOutcome(version, path, score_before, score_after, len(train), len(dev), promoted)
