"""Wires settings into a ready AnalyzerWorker (the I/O edge; the parts stay pure and testable)."""

from __future__ import annotations

import socket
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

from confluent_kafka import Consumer
from prometheus_client import CollectorRegistry
from sqlalchemy import Engine

from secustream import __version__
from secustream.alerts.hits import AlertPolicy, DetectionLookup
from secustream.alerts.hits import Detection as RuleInfo
from secustream.alerts.notify import WebhookConfig, WebhookSink
from secustream.alerts.stage import AlertStage
from secustream.alerts.story import build_story_writer
from secustream.analyzer.detection import Detection, Detector, RuleOverride
from secustream.analyzer.faults import Backoff
from secustream.analyzer.health import ProgressHealth
from secustream.analyzer.hits import Suppression
from secustream.analyzer.native import RulesEngine, RuleSet
from secustream.analyzer.overrides import OverrideWatch
from secustream.analyzer.reload import RulesReloader
from secustream.analyzer.router import Reload, Router
from secustream.analyzer.sigma import SigmaEngine
from secustream.analyzer.sigma.filters import RuleFilter
from secustream.analyzer.sigma.packs import SigmaSources
from secustream.analyzer.worker import AnalyzerWorker, RecordLimits, RetryPolicy, Topics
from secustream.attack import tactic_tags
from secustream.config import Settings
from secustream.messaging.client import TrackedProducer, consumer_config, producer_config
from secustream.metrics import AlertMetrics, AnalyzerMetrics, HybridMetrics
from secustream.sanitize import TimeWindow
from secustream.state import StateStore
from secustream.storage import alerts as alerts_store
from secustream.storage.repository import VerdictRepository
from secustream.verdict import RiskLevel

ANALYZER_VERSION = f"secustream-{__version__}"


def topics_from(settings: Settings) -> Topics:
    return Topics(events=settings.KAFKA_TOPIC, results=settings.KAFKA_RESULTS_TOPIC, dlq=settings.KAFKA_DLQ_TOPIC)


def sigma_sources(settings: Settings) -> SigmaSources | None:
    """SIGMA_RULES_PATH (run whole) and the packs in SIGMA_PACKS_DIR (through the SIGMA_* filters)."""
    path, packs = settings.sigma_rules_path, settings.sigma_packs_dir
    if path is None and packs is None:
        return None
    keep = RuleFilter.parse(settings.SIGMA_MIN_LEVEL, settings.SIGMA_STATUSES, settings.SIGMA_INCLUDE,
                            settings.SIGMA_EXCLUDE)
    return SigmaSources(path, packs, keep, settings.sigma_cache_dir)


def build_sigma(settings: Settings, state: StateStore, suppressed: Suppression | None = None,
                metrics: AnalyzerMetrics | None = None) -> SigmaEngine | None:
    """Sigma rules and packs (load issues are logged, never fatal); None when switched off."""
    sources = sigma_sources(settings)
    if sources is None:
        return None
    return SigmaEngine(sources.load(), state, suppressed, sources=sources,
                       reload_interval=settings.RULES_RELOAD_SECONDS, metrics=metrics)


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
    RulesReloader(settings.rules_path, engine, settings.RULES_RELOAD_SECONDS, metrics)  # attaches to the engine
    detectors: list[Detector] = [engine]
    sigma = build_sigma(settings, state, suppressions, metrics)
    if sigma is not None:
        detectors.append(sigma)
    reloads.extend(d.maybe_reload for d in detectors)
    detection = Detection(detectors, ANALYZER_VERSION)
    if db is not None:
        reloads.append(OverrideWatch(db, detection, max(settings.RULES_RELOAD_SECONDS, 1.0)).refresh)
    hybrid = build_hybrid(settings, state, db, ANALYZER_VERSION, hybrid_metrics)
    return Router(detection, hybrid.model, hybrid.llm, thresholds=hybrid.thresholds,
                  budget_left=hybrid.budget_left, reloads=reloads, metrics=hybrid_metrics)


def detection_lookup(engine: RulesEngine, sigma: SigmaEngine | None,
                     overrides: Callable[[], Mapping[str, RuleOverride]] = dict) -> DetectionLookup:
    """rule id → title, window, grouping fields, level (an admin's override of it first: ``overrides()`` reads the
    detection step's current map) and (Sigma) the rule's own ATT&CK tactics, read from the live (hot-reloaded) rule
    sets."""

    def level(rule_id: str, own: RiskLevel) -> RiskLevel:
        override = overrides().get(rule_id)
        return override.level if override is not None and override.level is not None else own

    def lookup(rule_id: str) -> Detection | None:
        if rule_id.startswith("sigma:"):
            if sigma is None:
                return None
            found = sigma.find(rule_id)
            if found is None:
                return None
            seconds = getattr(found, "seconds", None)
            return RuleInfo(found.title, seconds, tactics=tuple(tactic_tags(found.info.tags)),
                            level=level(rule_id, found.severity))
        rule = next((r for r in engine.ruleset.rules if r.id == rule_id), None)
        if rule is None:
            return None
        threshold = rule.spec.threshold
        return RuleInfo(rule.spec.description, threshold.window_seconds if threshold else None,
                         rule.group_by[0] if rule.group_by else (), level=level(rule_id, rule.severity))

    return lookup


def lookup_of(detection: Detection) -> DetectionLookup:
    """``detection_lookup`` over the detection step's native and Sigma engines and its admins' overrides."""
    engine = next(d for d in detection.detectors if isinstance(d, RulesEngine))
    sigma = next((d for d in detection.detectors if isinstance(d, SigmaEngine)), None)
    return detection_lookup(engine, sigma, lambda: detection.overrides)


def build_alert_stage(settings: Settings, db: Engine, lookup: DetectionLookup, llm_tier: Any | None,
                      registry: CollectorRegistry | None = None) -> AlertStage | None:
    """Alerts, incidents, stories and the webhook from settings; None when ALERTS_ENABLED is off."""
    if not settings.ALERTS_ENABLED:
        return None
    policy = AlertPolicy(RiskLevel(settings.ALERT_MIN_LEVEL), settings.ALERT_DEDUP_WINDOW_SECONDS, lookup)
    webhook = None
    if settings.ALERT_WEBHOOK_URL:
        def dead_letter(target: str, kind: str, subject: str, payload: dict[str, Any], attempts: int,
                        error: str) -> None:
            with db.begin() as conn:
                alerts_store.add_dead_letter(conn, target, kind, subject, payload, attempts, error)

        webhook = WebhookSink(WebhookConfig(
            settings.ALERT_WEBHOOK_URL, settings.ALERT_WEBHOOK_FORMAT, settings.ALERT_WEBHOOK_RETRIES,
            settings.ALERT_WEBHOOK_BACKOFF_SECONDS, settings.ALERT_WEBHOOK_TIMEOUT_SECONDS,
            secret=settings.ALERT_WEBHOOK_SECRET), dead_letter)
    return AlertStage(db, policy, incident_window=timedelta(seconds=settings.INCIDENT_WINDOW_SECONDS),
                      stories=build_story_writer(settings, llm_tier), webhook=webhook,
                      notify_min_level=RiskLevel(settings.ALERT_WEBHOOK_MIN_LEVEL),
                      metrics=AlertMetrics(registry) if registry is not None else None)


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
        max_batch_size=settings.ANALYZER_MAX_BATCH_SIZE,
        poll_timeout=settings.ANALYZER_POLL_TIMEOUT_SECONDS, recent_maxlen=settings.RECENT_STREAM_MAXLEN,
        limits=record_limits(settings), retry=retry_policy(settings),
        health=ProgressHealth(settings.ANALYZER_STALL_SECONDS), close_timeout=settings.ANALYZER_CLOSE_TIMEOUT_SECONDS,
        alerts=build_alert_stage(settings, db, lookup_of(router.detection), router.llm, registry),
    )
