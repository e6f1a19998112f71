"""Grafana dashboards: well-formed JSON models the sidecar can load, one datasource variable, the panels
the issue asks for."""

from __future__ import annotations

import json

from tests.charts.conftest import REPO
from tests.charts.promql import dashboard_targets

DIR = REPO / "grafana" / "dashboards"


def load(name: str) -> dict:
    return json.loads((DIR / name).read_text())


def panels(doc: dict) -> list[dict]:
    out = []
    for p in doc["panels"]:
        out.append(p)
        out += p.get("panels") or []
    return out


def test_dashboards_are_loadable_models() -> None:
    docs = [json.loads(p.read_text()) for p in sorted(DIR.glob("*.json"))]
    assert len(docs) == 3
    assert len({d["uid"] for d in docs}) == 3
    for d in docs:
        assert d["schemaVersion"] >= 36 and d["title"].startswith("SecuStreamAI / ")
        ids = [p["id"] for p in panels(d)]
        assert len(ids) == len(set(ids)), d["uid"]
        names = [v["name"] for v in d["templating"]["list"]]
        assert names[:2] == ["datasource", "namespace"]
        for p in panels(d):
            assert {"h", "w", "x", "y"} <= set(p["gridPos"]) and p["gridPos"]["x"] + p["gridPos"]["w"] <= 24
            if p["type"] != "row":
                assert p["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
                assert p["targets"], p["title"]
                for t in p["targets"]:
                    assert '$namespace' in t["expr"] or "vector(0)" in t["expr"], (p["title"], t["expr"])


def test_panels_the_issue_asks_for() -> None:
    def exprs(name: str) -> str:
        return "\n".join(e for _, _, e in dashboard_targets(DIR / name))
    overview = exprs("secustream-overview.json")
    for needle in ("sum by (tier) (rate(secustream_events_analyzed_total", "sum by (risk_level)",
                   "secustream_produce_to_stored_seconds_bucket", "secustream_consumer_lag",
                   'up{namespace=~"$namespace", job=~".+-analyzer"}', "secustream_operator_analyzer_desired_replicas"):
        assert needle in overview, needle
    for needle in ("secustream_alerts_created_total", "secustream_incidents_created_total",
                   "secustream_incidents_escalated_total", "secustream_alert_hits_total"):
        assert needle in overview, needle
    analyzer = exprs("secustream-analyzer.json")
    for needle in ("secustream_batch_duration_seconds_bucket", "secustream_tier_batch_seconds_bucket",
                   "secustream_llm_call_seconds_bucket", "secustream_escalations_total",
                   "secustream_llm_budget_remaining", 'outcome="cache_hit"'):
        assert needle in analyzer, needle
    infra = exprs("secustream-infrastructure.json")
    for needle in ("sum by (consumergroup, topic, partition) (kafka_consumergroup_lag", "redis_memory_used_bytes",
                   "cnpg_collector_up"):
        assert needle in infra, needle
