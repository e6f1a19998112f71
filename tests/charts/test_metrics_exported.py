"""Every metric a dashboard panel or an alert uses is exported by a running process of ours, and a
real Prometheus scraping a running analyzer (scrape config = our ServiceMonitors) answers the
overview dashboard's main queries with data.

Runs briefly, for real: `secustream generate`, `secustream analyze` and `secustream api` against a
Tansu Kafka broker, PostgreSQL and Redis, and `secustream-operator` against kmock's Kubernetes
API emulator; scrapes their /metrics. Metrics of third-party exporters are checked against the
lists below, each with its source.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.charts import helmutil, promql
from tests.charts.conftest import CHARTS, REPO, free_port

pytestmark = [pytest.mark.integration]

DASHBOARDS = sorted((REPO / "grafana" / "dashboards").glob("*.json"))
RULE_FILES = sorted((REPO / "prometheus" / "rules").glob("*.yaml"))
BIN = Path(sys.executable).parent

# Third-party exporters we do not run here: the names our dashboards/alerts may use, with sources.
EXPORTER_METRICS = {
    # Strimzi's Kafka Exporter is danielqsj/kafka_exporter: README "Metrics" tables; the same names in
    # strimzi-kafka-operator 1.2.0 examples/metrics/grafana-dashboards/strimzi-kafka-exporter.json.
    "kafka_exporter": {"kafka_brokers", "kafka_consumergroup_lag", "kafka_consumergroup_current_offset",
                       "kafka_consumergroup_members", "kafka_topic_partition_current_offset"},
    # oliver006/redis_exporter README (metrics from INFO) and exporter/info.go.
    "redis_exporter": {"redis_up", "redis_connected_clients", "redis_memory_used_bytes", "redis_memory_max_bytes",
                       "redis_commands_processed_total", "redis_keyspace_hits_total",
                       "redis_keyspace_misses_total", "redis_db_keys"},
    # CloudNativePG v1.30.0: config/manager/default-monitoring.yaml (cnpg_<query>_<column>: backends.total,
    # pg_database.size_bytes, pg_replication.lag) and the instance collector's cnpg_collector_up
    # (docs/src/monitoring.md, "Predefined set of metrics").
    "cloudnative_pg": {"cnpg_collector_up", "cnpg_backends_total", "cnpg_pg_database_size_bytes",
                       "cnpg_pg_replication_lag"},
}
PROMETHEUS_SYNTHETIC = {"up"}  # written by Prometheus itself for every target


# ---------------------------------------------------------------- helpers

def used_metrics() -> dict[str, set[str]]:
    """metric name -> where it is used."""
    used: dict[str, set[str]] = {}
    for path in DASHBOARDS:
        for title, ref, expr in promql.dashboard_targets(path):
            for name in promql.metric_names(expr):
                used.setdefault(name, set()).add(f"{path.name}: {title} [{ref}]")
    for path in RULE_FILES:
        for alert, expr in promql.rule_exprs(path):
            for name in promql.metric_names(expr):
                used.setdefault(name, set()).add(f"{path.name}: {alert}")
    return used


def exposition_names(text: str) -> tuple[set[str], set[str]]:
    """(names with samples, names declared by HELP/TYPE) in a Prometheus text exposition."""
    sampled, declared = set(), set()
    suffixes = {"counter": ["_total"], "histogram": ["_bucket", "_count", "_sum"], "summary": ["_count", "_sum"]}
    for family in text_string_to_metric_families(text):
        declared.add(family.name)
        declared.update(family.name + s for s in suffixes.get(family.type, []))
        sampled.update(s.name for s in family.samples)
    return sampled, declared


def http_get(url: str, timeout: float = 5.0) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


async def wait_for(probe: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = await asyncio.get_running_loop().run_in_executor(None, probe)
        except OSError as exc:  # not listening yet (a dead process raises AssertionError at once)
            last = exc
        if last and not isinstance(last, Exception):
            return last
        await asyncio.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}; last: {last!r}")


class Procs:
    def __init__(self, logdir: Path) -> None:
        self.logdir = logdir
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, argv: list[str], env: dict[str, str]) -> None:
        log = (self.logdir / f"{name}.log").open("wb")
        self.procs[name] = subprocess.Popen(argv, env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT,
                                            cwd=self.logdir)

    def check_alive(self) -> None:
        for name, p in self.procs.items():
            if p.poll() is not None:
                raise AssertionError(f"{name} exited with {p.returncode}:\n{self.log(name)[-3000:]}")

    def log(self, name: str) -> str:
        return (self.logdir / f"{name}.log").read_text(errors="replace")

    def stop(self) -> None:
        for p in self.procs.values():
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs.values():
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def declare_kube(kmock: Any) -> None:
    """The kinds the operator reads and writes (shared with tests/operator), in namespace ``secustream``."""
    from tests.operator.kopf_env import declare

    declare(kmock, namespace="secustream")


def scrape_job(monitor: dict[str, Any], service: dict[str, Any], target: str, pod: str) -> dict[str, Any]:
    """The Prometheus scrape config prometheus-operator generates for one ServiceMonitor endpoint
    (job = Service name; namespace, service, endpoint, pod target labels), at a 1 s interval."""
    (endpoint,) = monitor["spec"]["endpoints"]
    port = next(p for p in service["spec"]["ports"] if p["name"] == endpoint["port"])
    ns = monitor["metadata"]["namespace"]
    name = service["metadata"]["name"]
    return {
        "job_name": f"serviceMonitor/{ns}/{monitor['metadata']['name']}/0",
        "honor_labels": bool(endpoint.get("honorLabels", False)),
        "metrics_path": endpoint.get("path", "/metrics"),
        "scrape_interval": "1s",
        "scrape_timeout": "1s",
        "static_configs": [{"targets": [target], "labels": {
            "job": name, "namespace": ns, "service": name, "endpoint": str(port["name"]), "pod": pod}}],
    }


def prom_query(base: str, expr: str) -> dict[str, Any]:
    url = f"{base}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    status, body = http_get(url)
    doc = json.loads(body)
    assert status == 200 and doc["status"] == "success", f"{expr}: {body[:300]}"
    return doc["data"]


# ---------------------------------------------------------------- the test

@pytest.mark.asyncio
@pytest.mark.timeout(240)
async def test_metrics_used_by_dashboards_and_alerts_are_exported(
        kmock: Any, kafka_bootstrap: str, pg_url: str, redis_url: str, prometheus_bin: str, helm: str,
        tmp_path: Path) -> None:
    from confluent_kafka import Producer

    from secustream.messaging.admin import ensure_topics
    from secustream_operator.builders import build_children
    from secustream_operator.spec import merge_defaults

    suffix = uuid.uuid4().hex[:8]
    topics = {"KAFKA_TOPIC": f"events-{suffix}", "KAFKA_RESULTS_TOPIC": f"results-{suffix}",
              "KAFKA_DLQ_TOPIC": f"dlq-{suffix}", "KAFKA_CONSUMER_GROUP": f"analyzer-{suffix}"}
    ensure_topics(kafka_bootstrap, [topics["KAFKA_TOPIC"], topics["KAFKA_RESULTS_TOPIC"],
                                    topics["KAFKA_DLQ_TOPIC"]], 2)
    ports = {k: free_port() for k in ("generator", "analyzer", "api", "operator", "operator_health", "prom")}
    base_env = {**topics, "KAFKA_SERVER": kafka_bootstrap, "KAFKA_PARTITIONS": "2", "DATABASE_URL": pg_url,
                "REDIS_URL": redis_url, "MODEL_DIR": str(tmp_path / "models"), "LLM_ENABLED": "false",
                "RULES_RELOAD_SECONDS": "1", "LOG_LEVEL": "WARNING", "PYTHONUNBUFFERED": "1"}
    procs = Procs(tmp_path)
    t0 = time.monotonic()

    def mark(what: str) -> None:
        print(f"  [{time.monotonic() - t0:5.1f}s] {what}")

    # The operator, against the Kubernetes API emulator, reconciling a pipeline whose secrets are missing
    # (so secustream_operator_reconcile_errors_total is observed) and reading the analyzer's real lag.
    declare_kube(kmock)
    pipeline_spec = {"kafka": {"bootstrapServers": kafka_bootstrap, "topic": topics["KAFKA_TOPIC"],
                               "consumerGroup": topics["KAFKA_CONSUMER_GROUP"], "partitions": 2},
                     "redis": {"url": redis_url}, "database": {"secretRef": {"name": "demo-db-app"}},
                     "api": {"jwtSecretRef": {"name": "secustream-jwt"}},
                     "analyzer": {"autoscaling": {"mode": "builtin", "pollingIntervalSeconds": 1}}}
    kmock.objects["secustream.io/v1alpha1/secustreampipelines", "secustream", "demo"] = {
        "apiVersion": "secustream.io/v1alpha1", "kind": "SecuStreamPipeline",
        "metadata": {"name": "demo", "namespace": "secustream", "uid": "uid-demo", "generation": 1,
                     "resourceVersion": "1"}, "spec": pipeline_spec}
    try:
        # the operator's real entry point (what its Deployment runs), watching all namespaces
        procs.start("operator", [str(BIN / "secustream-operator"), "--standalone",
                                 f"--liveness=http://127.0.0.1:{ports['operator_health']}/healthz",
                                 f"--metrics-port={ports['operator']}"],
                    {"SECUSTREAM_KUBE_API_URL": str(kmock.url), "SECUSTREAM_OPERATOR_RESYNC_SECONDS": "1",
                     "SECUSTREAM_OPERATOR_METRICS_PORT": str(ports["operator"]),
                     "SECUSTREAM_OPERATOR_AUTOSCALE_TICK_SECONDS": "1",
                     "SECUSTREAM_OPERATOR_KAFKA_TIMEOUT_SECONDS": "3"})
        procs.start("analyzer", [str(BIN / "secustream"), "analyze"],
                    {**base_env, "PROMETHEUS_PORT": str(ports["analyzer"]), "ANALYZER_BATCH_SIZE": "200"})
        procs.start("generator", [str(BIN / "secustream"), "generate", "--rate", "150", "--attack-ratio", "0.4",
                                  "--seed", "11"], {**base_env, "PROMETHEUS_PORT": str(ports["generator"])})
        procs.start("api", [str(BIN / "secustream"), "api", "--host", "127.0.0.1", "--port", str(ports["api"])],
                    {**base_env, "SECRET_KEY": secrets.token_hex(32), "PROMETHEUS_PORT": "0"})

        # Prometheus scrapes them with the scrape config our ServiceMonitors produce.
        children = build_children("demo", "secustream", merge_defaults(pipeline_spec))
        op_docs = helmutil.template(helm, CHARTS / "secustream-operator", "secustream-operator", "secustream-system")
        jobs = []
        for component in ("generator", "analyzer", "api"):
            monitor = next(c for c in children if c["kind"] == "ServiceMonitor"
                           and c["metadata"]["name"] == f"demo-{component}")
            service = next(c for c in children
                           if c["kind"] == "Service" and c["metadata"]["name"] == f"demo-{component}")
            jobs.append(scrape_job(monitor, service, f"127.0.0.1:{ports[component]}", f"demo-{component}-0"))
        (op_monitor,) = helmutil.find(op_docs, "ServiceMonitor")
        (op_service,) = helmutil.find(op_docs, "Service")
        jobs.append(scrape_job(op_monitor, op_service, f"127.0.0.1:{ports['operator']}", "secustream-operator-0"))
        config = tmp_path / "prometheus.yml"
        config.write_text(yaml.safe_dump({"global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                                          "rule_files": [str(p) for p in RULE_FILES], "scrape_configs": jobs}))
        procs.start("prometheus", [prometheus_bin, f"--config.file={config}",
                                   f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                                   f"--web.listen-address=127.0.0.1:{ports['prom']}"], {})
        prom = f"http://127.0.0.1:{ports['prom']}"

        # drive the labelled series into existence: events flow (generator), a poison message (DLQ),
        # API requests (2xx, 401, 404)
        await wait_for(lambda: http_get(f"http://127.0.0.1:{ports['analyzer']}/healthz")[0] == 200, 60, "analyzer")
        mark("analyzer up")
        producer = Producer({"bootstrap.servers": kafka_bootstrap})
        producer.produce(topics["KAFKA_TOPIC"], b"{not json", key=b"poison")
        producer.flush(10)
        await wait_for(lambda: http_get(f"http://127.0.0.1:{ports['api']}/healthz")[0] == 200, 60, "api")
        for path in ("/healthz", "/readyz", "/api/v1/events", "/does-not-exist", "/metrics"):
            http_get(f"http://127.0.0.1:{ports['api']}{path}")

        def pipeline_flowing() -> bool:
            procs.check_alive()
            _, text = http_get(f"http://127.0.0.1:{ports['analyzer']}/metrics")
            sampled, _ = exposition_names(text)
            # labelled series appear once observed; unlabelled histograms are exposed at 0 from the start
            return {"secustream_dlq_messages_total", "secustream_events_analyzed_total"} <= sampled
        await wait_for(pipeline_flowing, 90, "events stored and the poison message dead-lettered")
        mark("events stored, poison message dead-lettered")

        def operator_reported() -> bool:
            procs.check_alive()
            _, text = http_get(f"http://127.0.0.1:{ports['operator']}/metrics")
            sampled, _ = exposition_names(text)
            return {"secustream_operator_reconcile_errors_total",
                    "secustream_operator_analyzer_desired_replicas"} <= sampled
        await wait_for(operator_reported, 60, "operator reconcile errors and autoscaler metrics")
        mark("operator metrics observed")

        # 1. every metric used is exported by one of our processes (or is a listed exporter metric)
        sampled: set[str] = set()
        declared: set[str] = set()
        for component in ("generator", "analyzer", "api", "operator"):
            status, text = http_get(f"http://127.0.0.1:{ports[component]}/metrics")
            assert status == 200, component
            s, d = exposition_names(text)
            sampled |= s
            declared |= d
        exporters = set().union(*EXPORTER_METRICS.values())
        used = used_metrics()
        assert len(used) > 40, "the extractor found the dashboards' metrics"
        unknown = {m: sorted(w) for m, w in used.items()
                   if m not in declared | sampled | exporters | PROMETHEUS_SYNTHETIC}
        assert unknown == {}, f"used but exported by nothing we run or list: {json.dumps(unknown, indent=1)}"
        for name in used:
            assert name.startswith("secustream_") or name in exporters | PROMETHEUS_SYNTHETIC, name
        ours_used = {m for m in used if m.startswith("secustream_")}
        not_yet_observed = sorted(ours_used - sampled)
        print(f"\n{len(ours_used)} secustream_* metrics used; declared but without samples in this run: "
              f"{not_yet_observed}")
        # the pipeline's core series were really observed, not just declared
        assert {"secustream_events_analyzed_total", "secustream_events_produced_total",
                "secustream_events_stored_total", "secustream_dlq_messages_total",
                "secustream_produce_to_stored_seconds_bucket", "secustream_consumer_lag",
                "secustream_http_requests_total", "secustream_operator_reconcile_errors_total"} <= sampled

        # 2. a real Prometheus scraped them, loaded our rules, and every dashboard query is valid PromQL;
        #    the overview's main queries (all but exporter-only ones) return data
        def all_targets_up() -> bool:
            procs.check_alive()
            data = prom_query(prom, "up")
            return len(data["result"]) == 4 and all(r["value"][1] == "1" for r in data["result"])
        await wait_for(all_targets_up, 30, "all four targets up in Prometheus")
        mark("Prometheus: all targets up")
        overview = next(p for p in DASHBOARDS if p.name == "secustream-overview.json")
        main = [(t, r, e) for t, r, e in promql.dashboard_targets(overview)
                if not (promql.metric_names(e) & exporters) and r != "var"]
        assert len(main) >= 12

        def overview_has_data() -> list[str]:
            procs.check_alive()
            return [f"{t} [{r}]: {e}" for t, r, e in main
                    if not prom_query(prom, promql.grafana_to_promql(e))["result"]]
        deadline = time.monotonic() + 45
        empty = ["not run"]
        while time.monotonic() < deadline:
            empty = await asyncio.get_running_loop().run_in_executor(None, overview_has_data)
            if not empty:
                break
            await asyncio.sleep(1)
        assert empty == [], "overview queries without data:\n" + "\n".join(empty)
        mark("overview queries answered")
        for path in DASHBOARDS:
            for _title, ref, expr in promql.dashboard_targets(path):
                if ref == "var":
                    continue
                prom_query(prom, promql.grafana_to_promql(expr))  # asserts status success
        status, body = http_get(f"{prom}/api/v1/rules")
        groups = json.loads(body)["data"]["groups"]
        assert status == 200 and sum(len(g["rules"]) for g in groups) == sum(
            len(promql.rule_exprs(p)) for p in RULE_FILES)
        assert all(r["health"] == "ok" for g in groups for r in g["rules"]), groups
        # the namespace variable of the dashboards resolves
        values = json.loads(http_get(f"{prom}/api/v1/label/namespace/values?"
                                     + urllib.parse.urlencode({"match[]": "secustream_events_consumed_total"}))[1])
        assert values["data"] == ["secustream"]
    finally:
        procs.stop()


def test_metric_extractor_finds_names_and_can_fail() -> None:
    assert promql.metric_names(
        'histogram_quantile(0.99, sum by (le) (rate(secustream_batch_duration_seconds_bucket{namespace=~"$namespace"}'
        '[$__rate_interval]))) / on(namespace) group_left secustream_x offset 5m') == {
        "secustream_batch_duration_seconds_bucket", "secustream_x"}
    assert promql.metric_names('sum(up{job=~".+-analyzer"}) == 0 or absent(up{job=~".+-analyzer"})') == {"up"}
    assert promql.metric_names("label_values(secustream_events_consumed_total, namespace)") == {
        "secustream_events_consumed_total"}
    sampled, declared = exposition_names(
        "# HELP a_total x\n# TYPE a_total counter\n# HELP h y\n# TYPE h histogram\nh_bucket{le=\"1\"} 1\n"
        "h_bucket{le=\"+Inf\"} 1\nh_count 1\nh_sum 0.5\n")
    assert "a_total" in declared and "a_total" not in sampled and "h_bucket" in sampled
    assert "secustream_typo_total" not in declared | sampled
