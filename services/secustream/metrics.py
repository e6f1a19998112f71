"""Prometheus metrics, one object per component, registered on a registry the caller owns.

Every name starts ``secustream_``; dashboards and alerts may only use names defined here.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class GeneratorMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.produced = Counter("secustream_events_produced_total", "Events produced to Kafka",
                                ["source", "event_type"], registry=registry)
        self.produce_errors = Counter("secustream_produce_errors_total", "Kafka delivery failures",
                                      ["source"], registry=registry)
        self.ingest_rejected = Counter("secustream_ingest_rejected_total",
                                       "Input lines that could not be normalised (sent to the DLQ)",
                                       ["format"], registry=registry)
        self.target_rate = Gauge("secustream_generator_target_events_per_second", "Configured generator rate",
                                 registry=registry)
        self.labels_failed = Counter("secustream_generator_labels_failed_total",
                                     "Ground-truth labels the label store could not take (events still produced)",
                                     registry=registry)


class AnalyzerMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.consumed = Counter("secustream_events_consumed_total", "Messages consumed from the events topic",
                                registry=registry)
        self.analyzed = Counter("secustream_events_analyzed_total", "Events analysed, by deciding tier and risk",
                                ["tier", "risk_level"], registry=registry)
        self.stored = Counter("secustream_events_stored_total", "New event rows written", registry=registry)
        self.duplicates = Counter("secustream_events_duplicate_total",
                                  "Redelivered events already stored (ignored)", registry=registry)
        self.dlq = Counter("secustream_dlq_messages_total",
                           "Records sent to the dead-letter topic, by refusing stage and reason kind",
                           ["stage", "reason"], registry=registry)
        self.replayed = Counter("secustream_events_replayed_total",
                                "Messages delivered again at offsets this process had already consumed "
                                "(rebalance or restart); not counted in consumed", registry=registry)
        self.retries = Counter("secustream_analyzer_retries_total",
                               "Batch retries by fault kind (infrastructure: backoff, same batch; record: isolation)",
                               ["kind"], registry=registry)
        self.sanitized = Counter("secustream_events_sanitized_total",
                                 "Events stored after a repair (nul: NUL removed; timestamp: outside the window)",
                                 ["what"], registry=registry)
        self.last_commit = Gauge("secustream_last_commit_timestamp_seconds",
                                 "Unix time of the last committed batch (process start until the first)",
                                 registry=registry)
        self.stalled = Gauge("secustream_analyzer_stalled_seconds",
                             "Seconds without a commit while records wait (0 when idle or progressing)",
                             registry=registry)
        self.rule_hits = Counter("secustream_rule_hits_total", "Verdicts each rule contributed to", ["rule_id"],
                                 registry=registry)
        self.batch_seconds = Histogram("secustream_batch_duration_seconds",
                                       "Consume-to-commit time of one batch", buckets=LATENCY_BUCKETS,
                                       registry=registry)
        self.batch_size = Histogram("secustream_batch_size", "Messages per processed batch",
                                    buckets=(1, 10, 50, 100, 250, 500, 1000, 2500, 5000, 10000),
                                    registry=registry)
        self.end_to_end = Histogram("secustream_produce_to_stored_seconds",
                                    "Producer timestamp to verdict committed in the database",
                                    buckets=LATENCY_BUCKETS, registry=registry)
        self.lag = Gauge("secustream_consumer_lag",
                         "Messages between the group's committed offsets and the end of the assigned partitions",
                         registry=registry)
        self.rules_loaded = Gauge("secustream_rules_loaded", "Enabled rules in the active rule set, per detector",
                                  ["detector"], registry=registry)
        self.rules_reloads = Counter("secustream_rules_reloads_total", "Rule reload attempts, per detector",
                                     ["detector", "result"], registry=registry)
        self.errors = Counter("secustream_analyzer_errors_total", "Batch failures (retried)", ["stage"],
                              registry=registry)


class AlertMetrics:
    """The alert stage (docs/alerts.md): hits counted, alerts and incidents opened, incidents escalated."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.hits = Counter("secustream_alert_hits_total", "Alert-level verdict hits counted into alerts "
                            "(replayed hits are not counted again)", registry=registry)
        self.alerts = Counter("secustream_alerts_created_total", "Deduplicated alerts opened", registry=registry)
        self.incidents = Counter("secustream_incidents_created_total", "Incidents opened", registry=registry)
        self.escalated = Counter("secustream_incidents_escalated_total",
                                 "Incidents whose severity rose (a higher alert or an advancing tactic chain)",
                                 registry=registry)

    def observe(self, changes: object) -> None:
        self.hits.inc(getattr(changes, "counted", 0))
        self.alerts.inc(len(getattr(changes, "new_alerts", ())))
        self.incidents.inc(len(getattr(changes, "new_incidents", ())))
        self.escalated.inc(len(getattr(changes, "escalated_incidents", ())))


class StorageMetrics:
    """Day partitions and retention (docs/storage.md), set by `secustream partitions` / `retention run`."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.partitions = Gauge("secustream_partitions", "Day partitions of a table", ["table"], registry=registry)
        self.oldest_day = Gauge("secustream_partition_oldest_day_timestamp_seconds",
                                "Start (UTC) of the oldest day partition of a table", ["table"], registry=registry)
        self.default_rows = Gauge("secustream_partition_default_rows",
                                  "Rows in a table's default partition (late or future-dated events)", ["table"],
                                  registry=registry)
        self.rows_dropped = Counter("secustream_retention_rows_dropped_total",
                                    "Rows removed by retention (after their archive was confirmed)", ["table"],
                                    registry=registry)
        self.failures = Counter("secustream_retention_failures_total",
                                 "Expired days kept because archiving failed (nothing dropped unarchived)",
                                 ["table"], registry=registry)


class HybridMetrics:
    """Model and LLM tiers and the adaptive router (docs/analyzer.md)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.tier_events = Counter("secustream_tier_events_total", "Events each tier analysed", ["tier"],
                                   registry=registry)
        self.tier_seconds = Histogram("secustream_tier_batch_seconds", "Time a tier spent on one batch", ["tier"],
                                      buckets=LATENCY_BUCKETS, registry=registry)
        self.escalations = Counter("secustream_escalations_total",
                                   "Router escalation decisions by wanted reason and outcome",
                                   ["reason", "outcome"], registry=registry)
        self.llm_calls = Counter("secustream_llm_calls_total",
                                 "LLM tier requests by outcome (ok, cache_hit, error, timeout, invalid, "
                                 "budget_exhausted, saturated)", ["outcome"], registry=registry)
        self.llm_seconds = Histogram("secustream_llm_call_seconds", "Latency of completed LLM calls",
                                     buckets=LATENCY_BUCKETS, registry=registry)
        self.llm_budget_remaining = Gauge("secustream_llm_budget_remaining",
                                          "LLM calls left in this minute's shared budget", registry=registry)
        self.model_version = Gauge("secustream_model_version", "Registry version in use (0 = explicit path)",
                                   ["kind", "name"], registry=registry)
        self.model_swaps = Counter("secustream_model_swaps_total", "Hot swaps to a newly active version",
                                   ["kind"], registry=registry)
        self.model_abstentions = Counter("secustream_model_abstentions_total",
                                         "Events the model tier abstained on (outside its training distribution)",
                                         registry=registry)


HealthCheck = Callable[[], tuple[bool, str]]


def _always_healthy() -> tuple[bool, str]:
    return True, "ok"


class _Handler(BaseHTTPRequestHandler):
    registry: CollectorRegistry
    health: HealthCheck

    def do_GET(self) -> None:
        if self.path.startswith("/livez"):  # the process answers: for liveness probes (a restart cures no outage)
            body, ctype, status = b"ok\n", "text/plain", 200
        elif self.path.startswith("/healthz"):
            healthy, detail = type(self).health()
            body, ctype, status = f"{detail}\n".encode(), "text/plain", 200 if healthy else 503
        elif self.path.startswith("/metrics") or self.path == "/":
            body, ctype, status = generate_latest(self.registry), CONTENT_TYPE_LATEST, 200
        else:
            body, ctype, status = b"not found\n", "text/plain", 404
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        return None


def serve_metrics(registry: CollectorRegistry, port: int, host: str = "0.0.0.0",
                  health: HealthCheck = _always_healthy) -> ThreadingHTTPServer:
    """Serve /metrics, /healthz and /livez on ``port`` in a daemon thread (port 0 picks a free one).

    ``health`` answers /healthz: 200 with its detail when healthy, 503 otherwise (readiness, and what
    an SRE checks). /livez only says the process serves HTTP: the liveness probe, so that a database
    outage makes analyzers unready rather than restarting them in a loop.
    """
    handler = type("MetricsHandler", (_Handler,), {"registry": registry, "health": staticmethod(health)})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="metrics-http", daemon=True).start()
    return server
