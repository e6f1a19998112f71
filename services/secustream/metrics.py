"""Prometheus metrics, one object per component, registered on a registry the caller owns.

Every name starts ``secustream_``; dashboards and alerts may only use names defined here.
"""

from __future__ import annotations

import threading
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


class AnalyzerMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.consumed = Counter("secustream_events_consumed_total", "Messages consumed from the events topic",
                                registry=registry)
        self.analyzed = Counter("secustream_events_analyzed_total", "Events analysed, by deciding tier and risk",
                                ["tier", "risk_level"], registry=registry)
        self.stored = Counter("secustream_events_stored_total", "New event rows written", registry=registry)
        self.duplicates = Counter("secustream_events_duplicate_total",
                                  "Redelivered events already stored (ignored)", registry=registry)
        self.dlq = Counter("secustream_dlq_messages_total", "Messages sent to the dead-letter topic",
                           ["reason"], registry=registry)
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
        self.lag = Gauge("secustream_consumer_lag", "Messages behind the end of the assigned partitions",
                         registry=registry)
        self.rules_loaded = Gauge("secustream_rules_loaded", "Enabled rules in the active rule set",
                                  registry=registry)
        self.rules_reloads = Counter("secustream_rules_reloads_total", "Rule reload attempts", ["result"],
                                     registry=registry)
        self.errors = Counter("secustream_analyzer_errors_total", "Batch failures (retried)", ["stage"],
                              registry=registry)


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


class _Handler(BaseHTTPRequestHandler):
    registry: CollectorRegistry

    def do_GET(self) -> None:
        if self.path.startswith("/healthz"):
            body, ctype, status = b"ok\n", "text/plain", 200
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


def serve_metrics(registry: CollectorRegistry, port: int, host: str = "0.0.0.0") -> ThreadingHTTPServer:
    """Serve /metrics and /healthz on ``port`` in a daemon thread (port 0 picks a free one)."""
    handler = type("MetricsHandler", (_Handler,), {"registry": registry})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="metrics-http", daemon=True).start()
    return server
