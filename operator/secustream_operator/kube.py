"""Create-or-patch of child manifests through the Kubernetes dynamic client.

Why: handlers must be idempotent and repair drift; comparing the desired manifest as a subset
of the live object means an unchanged child costs one GET and no write, while a deleted or
hand-edited child is recreated or patched back.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import kubernetes
import urllib3
from kubernetes.dynamic import DynamicClient
from kubernetes.dynamic.exceptions import (
    ConflictError,
    DynamicApiError,
    NotFoundError,
    ResourceNotFoundError,
)

API_URL_ENV = "SECUSTREAM_KUBE_API_URL"  # dev/test: an insecure API URL instead of kubeconfig
REQUEST_TIMEOUT = 10.0  # seconds; a hung API call must not pin a handler thread forever

# Every kind the operator may own; the pruner lists these.
OWNED_KINDS: tuple[tuple[str, str], ...] = (
    ("v1", "ConfigMap"), ("v1", "Service"), ("v1", "PersistentVolumeClaim"),
    ("apps/v1", "Deployment"), ("batch/v1", "CronJob"), ("policy/v1", "PodDisruptionBudget"),
    ("monitoring.coreos.com/v1", "ServiceMonitor"), ("keda.sh/v1alpha1", "ScaledObject"),
    ("kafka.strimzi.io/v1", "KafkaTopic"),
)


def make_api_client(url: str = "") -> kubernetes.client.ApiClient:
    """The URL in ``SECUSTREAM_KUBE_API_URL`` when given, else in-cluster config, else kubeconfig."""
    if url:
        cfg = kubernetes.client.Configuration()
        cfg.host = url.rstrip("/")
        cfg.verify_ssl = False
        return kubernetes.client.ApiClient(cfg)
    try:
        kubernetes.config.load_incluster_config()
    except kubernetes.config.ConfigException:
        kubernetes.config.load_kube_config()
    return kubernetes.client.ApiClient()


def is_subset(desired: Any, actual: Any) -> bool:
    """True when every field of ``desired`` has the same value in ``actual`` (lists compared whole)."""
    if isinstance(desired, Mapping):
        return isinstance(actual, Mapping) and all(is_subset(v, actual.get(k)) for k, v in desired.items())
    if isinstance(desired, list):
        return (isinstance(actual, list) and len(desired) == len(actual)
                and all(is_subset(d, a) for d, a in zip(desired, actual, strict=True)))
    if isinstance(desired, bool) or isinstance(actual, bool):
        return desired is actual
    if isinstance(desired, int | float) and isinstance(actual, int | float):
        return desired == actual
    return desired == actual or (desired is not None and str(desired) == str(actual))


@dataclass
class ApplyResult:
    created: list[str] = field(default_factory=list)
    patched: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    missing_apis: list[str] = field(default_factory=list)
    live: dict[str, dict[str, Any]] = field(default_factory=dict)


def ref(obj: Mapping[str, Any]) -> str:
    return f"{obj['kind']}/{obj['metadata']['name']}"


class Applier:
    """Applies manifests in one namespace; thin wrapper to keep handler code readable."""

    def __init__(self, api_client: kubernetes.client.ApiClient) -> None:
        self.dyn = DynamicClient(api_client)

    def resource(self, api_version: str, kind: str) -> Any:
        return self.dyn.resources.get(api_version=api_version, kind=kind)

    def apply(self, manifests: list[dict[str, Any]], keep_replicas: set[str] | None = None) -> ApplyResult:
        """Create missing objects, merge-patch drifted ones; errors are collected, never raised.

        ``keep_replicas``: refs whose live ``spec.replicas`` another controller owns (HPA).
        """
        result = ApplyResult()
        for obj in manifests:
            key = ref(obj)
            meta = obj["metadata"]
            try:
                try:
                    api = self.resource(obj["apiVersion"], obj["kind"])
                except ResourceNotFoundError:
                    result.missing_apis.append(f"{obj['apiVersion']} {obj['kind']}")
                    continue
                try:
                    live = api.get(name=meta["name"], namespace=meta["namespace"],
                                   _request_timeout=REQUEST_TIMEOUT).to_dict()
                except NotFoundError:
                    try:
                        result.live[key] = api.create(body=obj, namespace=meta["namespace"],
                                                      _request_timeout=REQUEST_TIMEOUT).to_dict()
                        result.created.append(key)
                        continue
                    except ConflictError:  # created concurrently (handler vs timer): patch instead
                        live = api.get(name=meta["name"], namespace=meta["namespace"],
                                       _request_timeout=REQUEST_TIMEOUT).to_dict()
                desired = obj
                if keep_replicas and key in keep_replicas and "replicas" in obj.get("spec", {}):
                    desired = {**obj, "spec": {k: v for k, v in obj["spec"].items() if k != "replicas"}}
                if is_subset(desired, live):
                    result.unchanged.append(key)
                    result.live[key] = live
                    continue
                result.live[key] = api.patch(body=desired, name=meta["name"], namespace=meta["namespace"],
                                             content_type="application/merge-patch+json",
                                             _request_timeout=REQUEST_TIMEOUT).to_dict()
                result.patched.append(key)
            except TRANSIENT as exc:
                result.errors.append(f"{key}: {describe(exc)}")
        return result

    def prune(self, namespace: str, selector: str, owner_uid: str, keep: set[str]) -> list[str]:
        """Delete children of ``owner_uid`` that the current spec no longer wants."""
        deleted = []
        for api_version, kind in OWNED_KINDS:
            try:
                api = self.resource(api_version, kind)
                # Raw JSON: some servers (the kmock emulator) omit the list's ``kind``.
                items = api.get(namespace=namespace, label_selector=selector,
                                serializer=lambda _, data: data, _request_timeout=REQUEST_TIMEOUT).get("items") or []
            except (ResourceNotFoundError, *TRANSIENT):
                continue
            for item in items:
                meta = item.get("metadata") or {}
                owners = {o.get("uid") for o in meta.get("ownerReferences") or []}
                key = f"{kind}/{meta.get('name')}"
                if owner_uid in owners and key not in keep:
                    try:
                        api.delete(name=meta["name"], namespace=namespace, _request_timeout=REQUEST_TIMEOUT)
                        deleted.append(key)
                    except TRANSIENT:
                        continue  # retried by the next resync
        return deleted

    def secret_exists(self, namespace: str, name: str) -> bool:
        """False only when the API says the Secret is not there; a failed lookup raises (TRANSIENT)."""
        try:
            self.resource("v1", "Secret").get(name=name, namespace=namespace, _request_timeout=REQUEST_TIMEOUT)
        except NotFoundError:
            return False
        return True

    def get(self, api_version: str, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        """The object, or None when it does not exist; a failed lookup raises (TRANSIENT)."""
        try:
            return self.resource(api_version, kind).get(name=name, namespace=namespace,
                                                        _request_timeout=REQUEST_TIMEOUT).to_dict()
        except (NotFoundError, ResourceNotFoundError):
            return None

    def patch(self, api_version: str, kind: str, namespace: str, name: str, body: dict[str, Any]) -> None:
        self.resource(api_version, kind).patch(body=body, name=name, namespace=namespace,
                                               content_type="application/merge-patch+json",
                                               _request_timeout=REQUEST_TIMEOUT)


# What a busy or restarting API server answers now and not on the next try: the handlers report these
# (a condition, a log line) and let the next resync repair, instead of raising into Kopf's slow retry.
TRANSIENT: tuple[type[Exception], ...] = (DynamicApiError, urllib3.exceptions.HTTPError, OSError)


def describe(exc: Exception) -> str:
    if isinstance(exc, DynamicApiError):
        return f"{exc.status} {exc.reason}: {_message(exc)}"
    return f"API request failed: {type(exc).__name__}: {exc}"


def _message(exc: DynamicApiError) -> str:
    summary = getattr(exc, "summary", None)
    try:
        return str(summary()) if callable(summary) else str(exc.body)[:300]
    except Exception:  # a malformed error body must not hide the original failure
        return str(exc.body)[:300]
