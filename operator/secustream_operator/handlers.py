"""Kopf handlers: apply what the builders return, repair drift, autoscale, report status.

Why thin: every decision lives in ``builders``, ``scaling`` and ``status`` (pure, unit-tested);
this module only wires them to Kopf events and timers. Nothing here raises on bad user input:
problems become a Degraded condition and a Kubernetes Event.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import Any

import kopf

from secustream_operator import GROUP, PLURAL, VERSION, builders, naming, scaling
from secustream_operator import status as st
from secustream_operator.builders import autoscaling, services
from secustream_operator.kube import TRANSIENT, Applier, describe, make_api_client, ref
from secustream_operator.lag import LagUnavailable, read_lag
from secustream_operator.metrics import OperatorMetrics
from secustream_operator.settings import load_operator_settings
from secustream_operator.spec import SpecError, merge_defaults, normalise, validate

RESOURCE = (GROUP, VERSION, PLURAL)
SETTINGS = load_operator_settings()  # read once at import: the timers below are declared with its intervals
RESYNC_SECONDS = SETTINGS.RESYNC_SECONDS
AUTOSCALE_TICK_SECONDS = SETTINGS.AUTOSCALE_TICK_SECONDS
KAFKA_TIMEOUT_SECONDS = SETTINGS.KAFKA_TIMEOUT_SECONDS


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, memo: kopf.Memo, logger: logging.Logger, **_: Any) -> None:
    """Progress in annotations (the status belongs to us), warnings-only events, metrics server."""
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix="secustream.io")
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix="secustream.io", key="last-handled-configuration")
    settings.posting.level = logging.WARNING
    settings.watching.server_timeout = 300
    # Handlers are sync and block on the API and on Kafka (lag reads wait up to KAFKA_TIMEOUT_SECONDS): with
    # Python's default pool (cpu + 4 threads: 6 on 2 cores) a few pipelines' timers starve an update
    # handler for tens of seconds (the flaky lifecycle test). Size the pool for the timers we run.
    settings.execution.max_workers = SETTINGS.WORKERS
    memo.metrics = OperatorMetrics()
    memo.applier = Applier(make_api_client(SETTINGS.KUBE_API_URL))
    # `secustream-operator` passes its --metrics-port; under a bare `kopf run` only an explicit setting serves
    explicit = SETTINGS.METRICS_PORT if "METRICS_PORT" in SETTINGS.model_fields_set else 0
    port = int(memo.get("metrics_port") or explicit)
    if port:
        memo.metrics.serve(port)
        logger.info("operator metrics on :%d/metrics", port)


@kopf.on.login()
def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
    """Kubeconfig / service account as usual; an explicit insecure URL for dev and tests."""
    url = SETTINGS.KUBE_API_URL
    if url:
        return kopf.ConnectionInfo(server=url.rstrip("/"), insecure=True)
    return kopf.login_via_client(**kwargs)


def _missing_secrets(applier: Applier, namespace: str, spec: dict[str, Any]) -> tuple[list[str], list[str]]:
    """(Secrets the API says are absent, lookups that failed transiently)."""
    refs = [spec["database"]["secretRef"], spec["api"]["jwtSecretRef"], spec["redis"].get("secretRef") or {}]
    if spec["retention"]["enabled"]:
        refs.append(spec["retention"]["archive"].get("credentialsSecretRef") or {})
    missing, failed = [], []
    for name in sorted({r["name"] for r in refs if r.get("name")}):
        try:
            if not applier.secret_exists(namespace, name):
                missing.append(name)
        except TRANSIENT as exc:
            failed.append(f"Secret/{name}: {describe(exc)}")
    return missing, failed


def _event_if_new(body: kopf.Body, previous: list[dict[str, Any]], new: dict[str, Any]) -> None:
    """One Warning event per new Degraded reason/message, not one per resync."""
    degraded = next(c for c in new["conditions"] if c["type"] == "Degraded")
    old = next((c for c in previous if c.get("type") == "Degraded"), {})
    if degraded["status"] == "True" and (old.get("reason"), old.get("message")) != (
            degraded["reason"], degraded["message"]):
        kopf.warn(body, reason=degraded["reason"], message=degraded["message"])


def reconcile(body: kopf.Body, name: str, namespace: str, patch: kopf.Patch, memo: kopf.Memo,
              logger: logging.Logger, trigger: str) -> None:
    """Build, adopt, apply, prune, then write status. Never raises for user errors."""
    metrics: OperatorMetrics = memo.metrics
    applier: Applier = memo.applier
    metrics.reconciles.labels(namespace, name, trigger).inc()
    generation = int(body.metadata.get("generation") or 0)
    previous = list((body.status or {}).get("conditions") or [])
    spec = merge_defaults(dict(body.spec))
    errors = validate(spec)
    if errors:
        new = st.compute(st.Observation(generation=generation, spec_errors=errors), previous)
        _event_if_new(body, previous, new)
        patch.status.update(new)
        metrics.reconcile_errors.labels(namespace, name, "InvalidSpec").inc()
        logger.warning("invalid spec: %s", "; ".join(errors))
        return
    analyzer_status = dict((body.status or {}).get("analyzer") or {})
    children = builders.build_children(name, namespace, spec, analyzer_status.get("desiredReplicas"))
    kopf.adopt(children, owner=body)
    mode = spec["analyzer"]["autoscaling"]["mode"]
    keep = {f"Deployment/{naming.child_name(name, 'analyzer')}"} if mode in ("keda", "builtin") else set()
    missing, lookup_errors = _missing_secrets(applier, namespace, spec)
    result = applier.apply(children, keep_replicas=keep)
    result.errors[:0] = lookup_errors
    pruned = applier.prune(namespace, naming.owned_selector(name), str(body.metadata.uid),
                           {ref(c) for c in children})
    if pruned:
        metrics.children_applied.labels(namespace, name, "deleted").inc(len(pruned))
        logger.info("deleted %s", ", ".join(pruned))
    for action, refs in (("created", result.created), ("patched", result.patched)):
        if refs:
            metrics.children_applied.labels(namespace, name, action).inc(len(refs))
            logger.info("%s %s", action, ", ".join(refs))
    obs = st.Observation(
        generation=generation, apply_errors=result.errors, missing_apis=result.missing_apis,
        missing_secrets=missing, lag_error=analyzer_status.get("lagError") if mode == "builtin" else None,
        components=st.components(name, result.live, services.enabled_components(spec)))
    new = st.compute(obs, previous)
    _event_if_new(body, previous, new)
    degraded = st.degraded_reason(obs)
    if degraded:
        metrics.reconcile_errors.labels(namespace, name, degraded[0]).inc()
    patch.status.update(new)


@kopf.on.create(*RESOURCE)
@kopf.on.update(*RESOURCE)
@kopf.on.resume(*RESOURCE)
def on_change(body: kopf.Body, name: str, namespace: str, patch: kopf.Patch, memo: kopf.Memo,
              logger: logging.Logger, reason: str, **_: Any) -> None:
    reconcile(body, name, namespace, patch, memo, logger, trigger=str(reason))


@kopf.timer(*RESOURCE, interval=RESYNC_SECONDS, initial_delay=RESYNC_SECONDS)
def resync(body: kopf.Body, name: str, namespace: str, patch: kopf.Patch, memo: kopf.Memo,
           logger: logging.Logger, **_: Any) -> None:
    """Level-triggered repair: recreate deleted children, undo hand edits, refresh status."""
    reconcile(body, name, namespace, patch, memo, logger, trigger="resync")


def _epoch(iso: str | None) -> float | None:
    if not iso:
        return None
    return datetime.strptime(iso, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()


@kopf.timer(*RESOURCE, interval=AUTOSCALE_TICK_SECONDS)
def autoscale(body: kopf.Body, name: str, namespace: str, patch: kopf.Patch, memo: kopf.Memo,
              logger: logging.Logger, **_: Any) -> None:
    """Read lag every ``pollingIntervalSeconds``; in builtin mode patch the analyzer replicas."""
    try:
        spec = normalise(dict(body.spec))
    except SpecError:
        return  # the reconcile reports it
    scaling_spec = spec["analyzer"]["autoscaling"]
    now = time.time()
    if scaling_spec["mode"] == "none":
        return  # fixed at min by the reconcile
    if now - float(memo.get("last_lag_poll") or 0) < scaling_spec["pollingIntervalSeconds"]:
        return
    memo["last_lag_poll"] = now
    applier: Applier = memo.applier
    metrics: OperatorMetrics = memo.metrics
    try:
        deployment = applier.get("apps/v1", "Deployment", namespace, naming.child_name(name, "analyzer"))
    except TRANSIENT as exc:
        logger.warning("cannot read the analyzer deployment, next tick retries: %s", describe(exc))
        return
    if deployment is None:
        return  # not created yet; the reconcile will
    current = int((deployment.get("spec") or {}).get("replicas") or 0)
    kafka = spec["kafka"]
    lag: int | None = None
    partitions = int(kafka["partitions"])
    lag_error: str | None = None
    try:
        reading = read_lag(str(kafka["bootstrapServers"]), kafka["topic"], kafka["consumerGroup"],
                           timeout=KAFKA_TIMEOUT_SECONDS)
        lag, partitions = reading.lag, reading.partitions
        metrics.consumer_lag.labels(namespace, name).set(lag)
    except LagUnavailable as exc:
        lag_error = str(exc)[:300]
        metrics.lag_errors.labels(namespace, name).inc()
        logger.warning("cannot read lag: %s", lag_error)
    previous = dict((body.status or {}).get("analyzer") or {})
    # The body a timer sees may predate our own last status patch; the per-object memo does not.
    last_scale = max(filter(None, [previous.get("lastScaleTime"), memo.get("last_scale_time")]), default=None)
    desired = current
    if scaling_spec["mode"] == "builtin":
        lo, hi = spec["analyzer"]["replicas"]["min"], spec["analyzer"]["replicas"]["max"]
        decision = scaling.decide(current=current, lag=lag, lag_threshold=scaling_spec["lagThreshold"], lo=lo,
                                  hi=hi, partitions=partitions, now=now, last_scale_time=_epoch(last_scale),
                                  cooldown_seconds=scaling_spec["cooldownSeconds"])
        desired = decision.replicas
        if decision.changed:
            try:
                applier.patch("apps/v1", "Deployment", namespace, naming.child_name(name, "analyzer"),
                              {"spec": {"replicas": desired}})
            except TRANSIENT as exc:
                logger.warning("cannot scale the analyzer, next tick retries: %s", describe(exc))
                return
            last_scale = memo["last_scale_time"] = st.now_iso()
            metrics.scale_decisions.labels(namespace, name, "up" if desired > current else "down").inc()
            logger.info("analyzer %d -> %d: %s", current, desired, decision.reason)
    elif previous.get("desiredReplicas") not in (None, current):
        last_scale = memo["last_scale_time"] = st.now_iso()  # keda: when the observed replicas changed
    metrics.desired_replicas.labels(namespace, name).set(desired)
    analyzer_status: dict[str, Any] = {
        "desiredReplicas": desired, "lagError": lag_error,  # None clears a stale error (merge patch)
        "partitions": partitions, "maxReplicas": autoscaling.bounds(spec)[1],
    }
    if lag is not None:
        analyzer_status["consumerLag"] = lag
    if last_scale:
        analyzer_status["lastScaleTime"] = last_scale
    patch.status["analyzer"] = analyzer_status
    # Only the builtin mode depends on the operator reaching Kafka; keda scales on its own.
    conditions = st.with_lag_condition((body.status or {}).get("conditions"),
                                       lag_error if scaling_spec["mode"] == "builtin" else None,
                                       int(body.metadata.get("generation") or 0))
    if conditions is not None:
        patch.status["conditions"] = conditions
