"""The operator's real entry point (what the Deployment runs), as a process against kmock.

Why: the KopfRunner tests load handlers.py directly; this one proves `secustream-operator`
itself starts cluster-wide, answers its liveness probe, serves metrics and reconciles.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from typing import Any

import httpx
import pytest

from secustream.messaging.local_broker import free_port
from tests.operator.kopf_env import Api, declare, eventually, pipeline, secret
from tests.operator.specs import spec

pytestmark = pytest.mark.asyncio


async def test_entry_point_watches_all_namespaces_and_serves_probes(kmock: Any, tmp_path) -> None:  # type: ignore[no-untyped-def]
    declare(kmock)
    for obj in (secret("demo-db-app", "uri"), secret("secustream-jwt", "secret")):
        kmock.objects["v1/secrets", "ns1", obj["metadata"]["name"]] = obj
    kmock.objects["secustream.io/v1alpha1/secustreampipelines", "ns1", "demo"] = pipeline(
        "demo", spec(**{"kafka.bootstrapServers": "127.0.0.1:1", "analyzer.autoscaling.mode": "none"}), "uid-main")
    health, metrics = free_port(), free_port()
    env = dict(os.environ, SECUSTREAM_KUBE_API_URL=str(kmock.url), SECUSTREAM_OPERATOR_RESYNC_SECONDS="2")
    log = tmp_path / "operator.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "secustream_operator.main", "--standalone",
         "--liveness", f"http://127.0.0.1:{health}/healthz", "--metrics-port", str(metrics)],
        env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    api = Api(str(kmock.url))
    try:
        async def alive() -> bool:
            assert proc.poll() is None, log.read_text()[-3000:]
            try:
                async with httpx.AsyncClient() as client:
                    return (await client.get(f"http://127.0.0.1:{health}/healthz", timeout=1)).status_code == 200
            except httpx.HTTPError:
                return False
        await eventually(alive, what="liveness endpoint")
        await eventually(lambda: api.get("apps/v1", "Deployment", "demo-analyzer"), what="analyzer Deployment")
        async with httpx.AsyncClient() as client:
            text = (await client.get(f"http://127.0.0.1:{metrics}/metrics", timeout=2)).text
        assert "secustream_operator_reconciles" in text
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(asyncio.to_thread(proc.wait), 30)
        except TimeoutError:
            proc.kill()
