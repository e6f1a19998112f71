"""Run the real operator (KopfRunner) against kmock's Kubernetes emulator.

Why a helper: both the lifecycle and the autoscaler tests need the same resource declarations
(TESTING-NOTES: Kopf waits silently without v1/namespaces) and the same runner setup.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import kmock as km
import kopf
import kubernetes
from kopf.testing import KopfRunner
from kubernetes.dynamic import DynamicClient
from kubernetes.dynamic.exceptions import NotFoundError

import secustream_operator

HANDLERS = Path(secustream_operator.__file__).parent / "handlers.py"
VERBS = {"list", "watch", "get", "patch", "create", "delete"}
RESOURCES = [
    ("v1/namespaces", "Namespace", False), ("v1/events", "Event", True),
    ("apiextensions.k8s.io/v1/customresourcedefinitions", "CustomResourceDefinition", False),
    ("v1/secrets", "Secret", True), ("v1/configmaps", "ConfigMap", True), ("v1/services", "Service", True),
    ("v1/persistentvolumeclaims", "PersistentVolumeClaim", True), ("apps/v1/deployments", "Deployment", True),
    ("batch/v1/cronjobs", "CronJob", True), ("policy/v1/poddisruptionbudgets", "PodDisruptionBudget", True),
    ("monitoring.coreos.com/v1/servicemonitors", "ServiceMonitor", True),
    ("keda.sh/v1alpha1/scaledobjects", "ScaledObject", True),
    ("kafka.strimzi.io/v1/kafkatopics", "KafkaTopic", True),
    ("secustream.io/v1alpha1/secustreampipelines", "SecuStreamPipeline", True),
]


def declare(kmock: Any, namespace: str = "ns1") -> None:
    for key, kind, namespaced in RESOURCES:
        kmock.resources[key] = km.ResourceInfo(kind=kind, namespaced=namespaced, verbs=VERBS,
                                               subresources={"status"} if key.startswith("secustream") else set())
    kmock.objects["v1/namespaces", None, namespace] = {"apiVersion": "v1", "kind": "Namespace",
                                                       "metadata": {"name": namespace}}


def env(monkeypatch: Any, kmock: Any, **extra: str) -> None:
    monkeypatch.setenv("SECUSTREAM_KUBE_API_URL", str(kmock.url))
    monkeypatch.setenv("SECUSTREAM_OPERATOR_RESYNC_SECONDS", extra.pop("resync", "1"))
    monkeypatch.setenv("SECUSTREAM_OPERATOR_AUTOSCALE_TICK_SECONDS", extra.pop("tick", "1"))
    monkeypatch.setenv("SECUSTREAM_OPERATOR_KAFKA_TIMEOUT_SECONDS", extra.pop("kafka_timeout", "1"))
    for k, v in extra.items():
        monkeypatch.setenv(k, v)


@contextlib.asynccontextmanager
async def running_operator() -> AsyncIterator[KopfRunner]:
    """The operator in a thread, with a fresh registry (the handlers file runs anew with the env).

    Why not ``with KopfRunner(...)``: its exit joins the thread, blocking the event loop that
    serves the kmock emulator, so Kopf's last API calls would hang and it could never stop.
    """
    kopf_runner = KopfRunner(["run", "-A", "--standalone", "--verbose", str(HANDLERS)],
                             registry=kopf.OperatorRegistry(), timeout=30)
    kopf_runner.__enter__()
    try:
        yield kopf_runner
    finally:
        await asyncio.to_thread(kopf_runner.__exit__, None, None, None)


class Api:
    """Blocking Kubernetes calls against the emulator, awaited from async tests via a thread."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")
        self._dyn: DynamicClient | None = None

    def res(self, api_version: str, kind: str) -> Any:
        # Built lazily, in a worker thread: discovery is blocking I/O to the emulator, which
        # is served by the test's own event loop.
        if self._dyn is None:
            cfg = kubernetes.client.Configuration()
            cfg.host = self.url
            self._dyn = DynamicClient(kubernetes.client.ApiClient(cfg))
        return self._dyn.resources.get(api_version=api_version, kind=kind)

    async def call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(None, lambda: fn(*args, **kwargs))

    async def get(self, api_version: str, kind: str, name: str, ns: str = "ns1") -> dict[str, Any] | None:
        def _get() -> dict[str, Any] | None:
            try:
                return self.res(api_version, kind).get(name=name, namespace=ns).to_dict()
            except NotFoundError:
                return None
        return await self.call(_get)

    async def create(self, obj: dict[str, Any], ns: str = "ns1") -> None:
        await self.call(lambda: self.res(obj["apiVersion"], obj["kind"]).create(body=obj, namespace=ns))

    async def patch(self, api_version: str, kind: str, name: str, body: dict[str, Any], ns: str = "ns1") -> None:
        await self.call(lambda: self.res(api_version, kind).patch(
            body=body, name=name, namespace=ns, content_type="application/merge-patch+json"))

    async def delete(self, api_version: str, kind: str, name: str, ns: str = "ns1") -> None:
        await self.call(lambda: self.res(api_version, kind).delete(name=name, namespace=ns))

    async def items(self, api_version: str, kind: str, ns: str = "ns1") -> list[dict[str, Any]]:
        return await self.call(lambda: self.res(api_version, kind).get(
            namespace=ns, serializer=lambda _, data: data)["items"])


async def eventually(probe: Callable[[], Any], timeout: float = 90.0, what: str = "condition") -> Any:
    """Await ``probe()`` (sync or async) until it returns a truthy value. 90 s: on a slow CI host the operator took
    over 40 s to act on a spec change while its resync timers kept the emulator busy (a pass returns at once)."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = probe()
        if asyncio.iscoroutine(last):
            last = await last
        if last:
            return last
        await asyncio.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}; last value: {last!r}")


def pipeline(name: str, spec: dict[str, Any], uid: str) -> dict[str, Any]:
    return {"apiVersion": "secustream.io/v1alpha1", "kind": "SecuStreamPipeline",
            "metadata": {"name": name, "namespace": "ns1", "uid": uid, "generation": 1,
                         "resourceVersion": "1"}, "spec": spec}


def secret(name: str, key: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": "ns1"},
            "data": {key: "eA=="}}
