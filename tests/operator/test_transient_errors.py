"""A busy API server must not make a handler raise: Kopf would retry it only after its backoff (60 s),
and a pipeline would sit unreconciled that long (the cause of the flaky lifecycle test). Transient
errors become apply errors (a Degraded condition) and the next resync repairs."""

from __future__ import annotations

import logging
from typing import Any

import pytest
import urllib3

from secustream_operator import handlers
from secustream_operator.kube import TRANSIENT, Applier, describe
from secustream_operator.settings import OperatorSettings

from .specs import spec


class FlakyResource:
    def __init__(self, fail: bool) -> None:
        self.fail = fail

    def get(self, **_: Any) -> Any:
        if self.fail:
            raise urllib3.exceptions.ReadTimeoutError(None, "/api", "read timed out")  # type: ignore[arg-type]
        raise AssertionError("not reached")


class FlakyApplier(Applier):
    """An Applier whose API calls time out (discovery included)."""

    def __init__(self) -> None:  # no client: every call fails before the network
        pass

    def resource(self, api_version: str, kind: str) -> Any:
        if kind == "ConfigMap":
            raise urllib3.exceptions.MaxRetryError(None, "/apis", "connection refused")  # type: ignore[arg-type]
        return FlakyResource(fail=True)


def test_apply_collects_transient_errors_instead_of_raising() -> None:
    manifests = [{"apiVersion": "v1", "kind": kind, "metadata": {"name": "x", "namespace": "ns"}}
                 for kind in ("ConfigMap", "Service")]
    result = FlakyApplier().apply(manifests)
    assert [e.split(":")[0] for e in result.errors] == ["ConfigMap/x", "Service/x"]
    assert all("API request failed" in e for e in result.errors)
    assert FlakyApplier().prune("ns", "app=x", "uid", set()) == []


def test_a_failed_secret_lookup_is_reported_not_raised() -> None:
    missing, failed = handlers._missing_secrets(FlakyApplier(), "ns", handlers.merge_defaults(spec()))
    assert missing == [] and failed and all(f.startswith("Secret/") for f in failed)


def test_autoscale_tick_survives_a_timeout(caplog: pytest.LogCaptureFixture) -> None:
    class Body(dict):  # type: ignore[type-arg]
        spec = handlers.merge_defaults(spec(**{"analyzer.autoscaling.mode": "builtin"}))
        status: dict[str, Any] = {}
        metadata: dict[str, Any] = {"generation": 1}

    memo: dict[str, Any] = {"applier": FlakyApplier(), "metrics": None}

    class Memo(dict):  # type: ignore[type-arg]
        def __getattr__(self, key: str) -> Any:
            return self[key]

    patch: dict[str, Any] = {}
    with caplog.at_level(logging.WARNING):
        handlers.autoscale(body=Body(), name="demo", namespace="ns", patch=patch, memo=Memo(memo),  # type: ignore[arg-type]
                           logger=logging.getLogger("test"))
    assert "cannot read the analyzer deployment" in caplog.text and patch == {}


def test_transient_covers_what_the_client_raises() -> None:
    assert isinstance(urllib3.exceptions.ReadTimeoutError(None, "/", "x"), TRANSIENT)  # type: ignore[arg-type]
    assert "API request failed" in describe(OSError("connection reset"))


def test_operator_settings_come_from_the_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECUSTREAM_OPERATOR_RESYNC_SECONDS", "7")
    monkeypatch.setenv("SECUSTREAM_KUBE_API_URL", "http://127.0.0.1:1")
    monkeypatch.setenv("POD_NAME", "op-0")
    s = OperatorSettings()
    assert (s.RESYNC_SECONDS, s.KUBE_API_URL, s.POD_NAME, s.METRICS_PORT) == (7.0, "http://127.0.0.1:1", "op-0", 9090)
    monkeypatch.setenv("SECUSTREAM_OPERATOR_METRICS_PORT", "not-a-port")
    with pytest.raises(ValueError, match="METRICS_PORT"):
        OperatorSettings()
