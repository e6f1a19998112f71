"""Builds the model and LLM tiers from settings (one place for ``build_worker`` and ``evaluate``)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from secustream.analyzer.model.classifier import ThreatClassifier
from secustream.analyzer.model.evidence import EvidenceSettings
from secustream.analyzer.model.gate import GateSettings
from secustream.analyzer.model.tier import ModelSource, ModelTier
from secustream.analyzer.policy import RouterThresholds
from secustream.config import Settings
from secustream.metrics import HybridMetrics
from secustream.state import StateStore

log = logging.getLogger(__name__)


def thresholds_from(settings: Settings) -> RouterThresholds:
    return RouterThresholds(settings.ROUTER_ESCALATE_BELOW_CONFIDENCE, settings.ROUTER_ESCALATE_AT_RISK,
                            settings.ROUTER_LAG_THRESHOLD)


def gate_from(settings: Settings) -> GateSettings:
    return GateSettings(settings.MODEL_OOD_ENABLED, settings.MODEL_OOD_UNSEEN_KIND,
                        settings.MODEL_OOD_DISTANCE_QUANTILE, settings.MODEL_OOD_MIN_KIND_EXAMPLES)


def evidence_from(settings: Settings) -> EvidenceSettings:
    return EvidenceSettings(settings.MODEL_BRUTE_FORCE_MIN_FAILURES)


def classifier_loader(settings: Settings):  # type: ignore[no-untyped-def]
    def load(path: Path) -> ThreatClassifier:
        return ThreatClassifier.load(path, device=settings.MODEL_DEVICE, backend=settings.MODEL_BACKEND,
                                     threads=settings.MODEL_THREADS)

    return load


@dataclass
class HybridTiers:
    model: ModelTier | None
    llm: Any | None  # LLMTier (imported lazily: DSPy is only loaded when the LLM is configured)
    thresholds: RouterThresholds

    @property
    def budget_left(self) -> Callable[[], int] | None:
        return self.llm.budget.remaining if self.llm is not None else None


def build_llm_tier(settings: Settings, state: StateStore, db: Engine | None, version: str,
                   metrics: HybridMetrics | None):  # type: ignore[no-untyped-def]
    """The LLM tier, or None when disabled or no LM is configured (escalations then fall back)."""
    if not settings.LLM_ENABLED or not (settings.LLM_API_BASE or settings.OPENAI_API_KEY):
        return None
    from secustream.analyzer.llm.program import load_program, make_lm
    from secustream.analyzer.llm.tier import LLMTier

    budget = state.call_budget(settings.LLM_MAX_CALLS_PER_MINUTE)
    cache = state.verdict_cache(settings.LLM_CACHE_TTL_SECONDS)
    program_path, program_version = None, "builtin"
    if db is not None:
        from secustream.storage.registry import LLM_PROGRAM, active

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
        model = ModelTier(source, state, version, batch_size=settings.MODEL_BATCH_SIZE, gate=gate_from(settings),
                          evidence=evidence_from(settings), metrics=metrics)
    return HybridTiers(model, llm, thresholds_from(settings))
