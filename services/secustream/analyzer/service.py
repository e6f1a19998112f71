"""Wires settings into a ready AnalyzerWorker (the I/O edge; the parts stay pure and testable)."""

from __future__ import annotations

import socket
from datetime import timedelta

from confluent_kafka import Consumer
from prometheus_client import CollectorRegistry
from sqlalchemy import Engine

from secustream import __version__
from secustream.analyzer.detection import Detection, Detector
from secustream.analyzer.faults import Backoff
from secustream.analyzer.health import ProgressHealth
from secustream.analyzer.native import RulesEngine, RuleSet
from secustream.analyzer.native.engine import Suppression
from secustream.analyzer.overrides import OverrideWatch
from secustream.analyzer.reload import RulesReloader
from secustream.analyzer.router import Reload, Router
from secustream.analyzer.sigma import SigmaEngine, SigmaRuleSet
from secustream.analyzer.worker import AnalyzerWorker, RecordLimits, RetryPolicy, Topics
from secustream.config import Settings
from secustream.messaging.client import TrackedProducer, consumer_config, producer_config
from secustream.metrics import AnalyzerMetrics, HybridMetrics
from secustream.sanitize import TimeWindow
from secustream.state import StateStore
from secustream.storage.repository import VerdictRepository

ANALYZER_VERSION = f"secustream-{__version__}"


def topics_from(settings: Settings) -> Topics:
    return Topics(events=settings.KAFKA_TOPIC, results=settings.KAFKA_RESULTS_TOPIC, dlq=settings.KAFKA_DLQ_TOPIC)


def build_sigma(settings: Settings, state: StateStore, suppressed: Suppression | None = None) -> SigmaEngine | None:
    """Sigma rules from SIGMA_RULES_PATH (load issues are logged, never fatal); None when switched off."""
    path = settings.sigma_rules_path
    if path is None:
        return None
    return SigmaEngine(SigmaRuleSet.load(path), state, suppressed, reload_path=path,
                       reload_interval=settings.RULES_RELOAD_SECONDS)


def record_limits(settings: Settings) -> RecordLimits:
    return RecordLimits(max_event_bytes=settings.EVENT_MAX_BYTES, dlq_max_bytes=settings.DLQ_MAX_PAYLOAD_BYTES,
                        time_window=TimeWindow(settings.EVENT_TIME_EARLIEST,
                                               timedelta(seconds=settings.EVENT_TIME_MAX_AHEAD_SECONDS)))


def retry_policy(settings: Settings) -> RetryPolicy:
    return RetryPolicy(Backoff(settings.ANALYZER_RETRY_INITIAL_SECONDS, settings.ANALYZER_RETRY_MAX_SECONDS),
                       settings.ANALYZER_MAX_ATTEMPTS)


def build_router(settings: Settings, db: Engine | None, state: StateStore, hybrid_metrics: HybridMetrics | None,
                 metrics: AnalyzerMetrics | None = None) -> Router:
    """The cascade from settings, with every reload check it owns (rule files, suppressions, overrides, model)."""
    from secustream.analyzer.model.hybrid import build_hybrid
    from secustream.analyzer.native.suppressions import SuppressionIndex

    reloads: list[Reload] = []
    suppressions: Suppression | None = None
    if db is not None:
        index = SuppressionIndex(db, interval=max(settings.RULES_RELOAD_SECONDS, 1.0))
        reloads.append(index.refresh)
        suppressions = index
    engine = RulesEngine(RuleSet.load(settings.rules_path), state, suppressions)
    reloads.append(RulesReloader(settings.rules_path, engine, settings.RULES_RELOAD_SECONDS, metrics).maybe_reload)
    detectors: list[Detector] = [engine]
    sigma = build_sigma(settings, state, suppressions)
    if sigma is not None:
        detectors.append(sigma)
        reloads.append(sigma.maybe_reload)
    detection = Detection(detectors, ANALYZER_VERSION)
    if db is not None:
        reloads.append(OverrideWatch(db, detection, max(settings.RULES_RELOAD_SECONDS, 1.0)).refresh)
    hybrid = build_hybrid(settings, state, db, ANALYZER_VERSION, hybrid_metrics)
    return Router(detection, hybrid.model, hybrid.llm, thresholds=hybrid.thresholds,
                  budget_left=hybrid.budget_left, reloads=reloads, metrics=hybrid_metrics)


def build_worker(settings: Settings, bootstrap: str, db: Engine, state: StateStore, registry: CollectorRegistry,
                 client_id: str | None = None) -> AnalyzerWorker:
    metrics = AnalyzerMetrics(registry)
    router = build_router(settings, db, state, HybridMetrics(registry), metrics)
    client_id = client_id or f"secustream-analyzer-{socket.gethostname()}"
    consumer = Consumer(consumer_config(bootstrap, settings.KAFKA_CONSUMER_GROUP, client_id,
                                        settings.KAFKA_SESSION_TIMEOUT_MS))
    producer = TrackedProducer(producer_config(bootstrap, client_id))
    return AnalyzerWorker(
        consumer=consumer, producer=producer, router=router, repository=VerdictRepository(db), state=state,
        metrics=metrics, topics=topics_from(settings), batch_size=settings.ANALYZER_BATCH_SIZE,
        poll_timeout=settings.ANALYZER_POLL_TIMEOUT_SECONDS, recent_maxlen=settings.RECENT_STREAM_MAXLEN,
        limits=record_limits(settings), retry=retry_policy(settings),
        health=ProgressHealth(settings.ANALYZER_STALL_SECONDS),
    )
