"""Wires the model and LLM tiers from settings (one place for ``build_worker`` and ``evaluate``)."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis
from sqlalchemy import Engine

from secustream.analyzer.model.classifier import ThreatClassifier
from secustream.analyzer.model.gate import GateSettings
from secustream.analyzer.model.tier import ModelSource, ModelTier
from secustream.analyzer.routing import RouterThresholds
from secustream.analyzer.tiers import RoutingContext, Tier
from secustream.analyzer.verdict import Verdict
from secustream.config import Settings
from secustream.events import SecurityEvent
from secustream.metrics import HybridMetrics
from secustream.state import StateStore

log = logging.getLogger(__name__)


class TimedTier:
    """Counts events and batch time per tier without touching the router."""

    def __init__(self, tier: Tier, metrics: HybridMetrics) -> None:
        self.tier = tier
        self.name = tier.name
        self.metrics = metrics

    def analyze(self, events: Sequence[SecurityEvent], docs: Sequence[dict[str, Any]],
                prior: Sequence[Verdict | None], context: RoutingContext) -> list[Verdict | None]:
        started = time.perf_counter()
        out = self.tier.analyze(events, docs, prior, context)
        self.metrics.tier_seconds.labels(tier=self.name).observe(time.perf_counter() - started)
        self.metrics.tier_events.labels(tier=self.name).inc(len(events))
        return out


def thresholds_from(settings: Settings) -> RouterThresholds:
    return RouterThresholds(settings.ROUTER_ESCALATE_BELOW_CONFIDENCE, settings.ROUTER_ESCALATE_AT_RISK,
                            settings.ROUTER_LAG_THRESHOLD)


def gate_from(settings: Settings) -> GateSettings:
    return GateSettings(settings.MODEL_OOD_ENABLED, settings.MODEL_OOD_UNSEEN_KIND,
                        settings.MODEL_OOD_DISTANCE_QUANTILE, settings.MODEL_OOD_MIN_KIND_EXAMPLES)


def classifier_loader(settings: Settings):  # type: ignore[no-untyped-def]
    def load(path: Path) -> ThreatClassifier:
        return ThreatClassifier.load(path, device=settings.MODEL_DEVICE, backend=settings.MODEL_BACKEND,
                                     threads=settings.MODEL_THREADS)

    return load


@dataclass
class HybridTiers:
    model: ModelTier | None
    llm: Any | None  # LLMTier (imported lazily: DSPy is only loaded when the LLM is configured)

    def tiers(self, metrics: HybridMetrics | None) -> list[Tier]:
        tiers: list[Tier] = [t for t in (self.model, self.llm) if t is not None]
        return [TimedTier(t, metrics) for t in tiers] if metrics else tiers


def build_llm_tier(settings: Settings, state: StateStore, db: Engine | None, version: str,
                   metrics: HybridMetrics | None):  # type: ignore[no-untyped-def]
    """The LLM tier, or None when disabled or no LM is configured (escalations then fall back)."""
    if not settings.LLM_ENABLED or not (settings.LLM_API_BASE or settings.OPENAI_API_KEY):
        return None
    from secustream.analyzer.llm.limits import (
        MemoryCallBudget,
        MemoryVerdictCache,
        RedisCallBudget,
        RedisVerdictCache,
    )
    from secustream.analyzer.llm.program import load_program, make_lm
    from secustream.analyzer.llm.tier import LLMTier

    client: redis.Redis | None = getattr(state, "client", None)
    budget = RedisCallBudget(client, settings.LLM_MAX_CALLS_PER_MINUTE) if client is not None \
        else MemoryCallBudget(settings.LLM_MAX_CALLS_PER_MINUTE)
    cache = RedisVerdictCache(client, settings.LLM_CACHE_TTL_SECONDS) if client is not None \
        else MemoryVerdictCache(settings.LLM_CACHE_TTL_SECONDS)
    program_path, program_version = None, "builtin"
    if db is not None:
        from secustream.training.registry import LLM_PROGRAM, active

        try:
            current = active(db, LLM_PROGRAM)
        except Exception as exc:
            log.warning("llm program registry unreadable, using the built-in program: %s", exc)
            current = None
        if current is not None:
            program_path, program_version = Path(current.artifact_path), f"program-v{current.version}"
    lm = make_lm(settings)
    assert lm is not None
    return LLMTier(load_program(program_path), lm, budget, cache, version, program_version=program_version,
                   timeout=settings.LLM_TIMEOUT_SECONDS, max_concurrency=settings.LLM_MAX_CONCURRENCY,
                   metrics=metrics)


def build_hybrid(settings: Settings, state: StateStore, db: Engine | None, version: str,
                 metrics: HybridMetrics | None = None) -> HybridTiers:
    llm = build_llm_tier(settings, state, db, version, metrics)
    model: ModelTier | None = None
    if settings.MODEL_ENABLED:
        source = ModelSource(classifier_loader(settings), path=settings.MODEL_PATH or None, engine=db,
                             interval=settings.MODEL_RELOAD_SECONDS, metrics=metrics)
        model = ModelTier(source, state, version, thresholds_from(settings), llm_available=llm is not None,
                          budget_left=llm.budget.remaining if llm is not None else None,
                          batch_size=settings.MODEL_BATCH_SIZE, metrics=metrics, gate=gate_from(settings))
    return HybridTiers(model, llm)
