"""The operator's own Prometheus metrics (``secustream_operator_*``).

Why a class: metrics live in a registry owned by the running operator (kept in Kopf's memo),
not in module globals, so tests can create independent instances.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, start_http_server


@dataclass
class OperatorMetrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.reconciles = Counter("secustream_operator_reconciles", "Reconciliations run",
                                  ["namespace", "pipeline", "trigger"], registry=r)
        self.reconcile_errors = Counter("secustream_operator_reconcile_errors",
                                        "Reconciliations that reported an error condition",
                                        ["namespace", "pipeline", "reason"], registry=r)
        self.children_applied = Counter("secustream_operator_children_applied",
                                        "Child objects created or patched (drift repairs included)",
                                        ["namespace", "pipeline", "action"], registry=r)
        self.scale_decisions = Counter("secustream_operator_scale_decisions",
                                       "Builtin autoscaler decisions", ["namespace", "pipeline", "direction"],
                                       registry=r)
        self.consumer_lag = Gauge("secustream_operator_consumer_lag", "Analyzer consumer-group lag",
                                  ["namespace", "pipeline"], registry=r)
        self.desired_replicas = Gauge("secustream_operator_analyzer_desired_replicas",
                                      "Analyzer replicas the autoscaler wants", ["namespace", "pipeline"],
                                      registry=r)
        self.lag_errors = Counter("secustream_operator_lag_read_errors", "Failed consumer-lag reads",
                                  ["namespace", "pipeline"], registry=r)

    def serve(self, port: int, addr: str = "0.0.0.0") -> None:
        start_http_server(port, addr=addr, registry=self.registry)
