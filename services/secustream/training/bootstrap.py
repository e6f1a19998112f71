"""A first model for a fresh installation, trained in the background, so the hybrid is on from minute one.

Why train instead of shipping weights: the model must match this installation's renderer, labels
and tokenizer exactly, and a compact student on a few thousand generated events trains in under
a minute on two CPU cores (capped at 40 s of optimisation: a capped model is weaker, never absent).
It only knows the kinds of events the generator makes; the out-of-distribution gate makes it
abstain on everything else (real Windows telemetry, say) until
``secustream train`` retrains it with real data. It goes through the same registry and promotion
judge as any other version, and analyzers pick it up by the registry poll (hot swap).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Engine

from secustream.storage import registry
from secustream.training.classifier import TrainConfig
from secustream.training.pipeline import TrainOutcome, TrainPlan, run_training

log = logging.getLogger(__name__)


def bootstrap_plan(device: str = "cpu", progress: Callable[[int, int], None] | None = None) -> TrainPlan:
    """Small on purpose: a 1-layer student on 4,000 generated events, 3 epochs, capped at 40 s of
    optimisation so `up` shows the model tier within two minutes even on two busy cores."""
    return TrainPlan(seed=7, events=4_000, held_out_events=500, use_feedback=False, use_weak_labels=False,
                     train=TrainConfig(arch="student-l1", epochs=3, batch_size=64, max_length=64, progress=False,
                                       device=device, max_seconds=40, on_progress=progress))


def needs_bootstrap(engine: Engine) -> bool:
    return registry.active(engine, registry.CLASSIFIER) is None


def bootstrap_model(engine: Engine, model_dir: Path, rules_path: Path | None, device: str = "cpu",
                    say: Callable[[str], None] = print, every: float = 10.0) -> TrainOutcome | None:
    """Train, register and (if the judge agrees) promote a first classifier; progress goes to ``say``."""
    if not needs_bootstrap(engine):
        return None
    started = time.monotonic()
    last = [0.0]

    def progress(done: int, total: int) -> None:
        now = time.monotonic()
        if now - last[0] >= every or done == total:
            last[0] = now
            say(f"model    : training a first model in the background: batch {done}/{total} "
                f"({now - started:.0f} s)")

    say("model    : no active model; training a first one in the background (1-layer student, 4,000 generated events)")
    outcome = run_training(bootstrap_plan(device, progress), engine, model_dir, rules_path, device)
    state = "active" if outcome.promoted else "NOT promoted"
    say(f"model    : v{outcome.version} {state} after {time.monotonic() - started:.0f} s, synthetic macro-F1 "
        f"{outcome.candidate.macro_f1:.3f} ({outcome.reason})")
    return outcome
