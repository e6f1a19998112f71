"""`secustream up` as a user runs it: one command, embedded broker, SQLite, events reach the API."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import httpx

from secustream.messaging.local_broker import free_port


def test_up_serves_dashboard_with_events_and_stops_cleanly(tmp_path) -> None:  # type: ignore[no-untyped-def]
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("KAFKA_SERVER", "DATABASE_URL", "REDIS_URL")}
    log = tmp_path / "up.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "secustream.cli", "up", "--port", str(port), "--rate", "200", "--attack-ratio", "0.1",
         "--data-dir", str(tmp_path / "data")],
        env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    started = time.monotonic()
    try:
        deadline = time.monotonic() + 90
        items: list[dict] = []  # type: ignore[type-arg]
        headers: dict[str, str] = {}
        while time.monotonic() < deadline and not items:
            assert proc.poll() is None, log.read_text()
            try:
                if not headers:  # `up` prints a generated dev admin: "login    : admin / <password>   (...)"
                    hint = re.search(r"^login    : (\S+) / (\S+)", log.read_text(), re.MULTILINE)
                    if hint is None:
                        time.sleep(0.5)
                        continue
                    token = httpx.post(f"{base}/api/v1/auth/token", timeout=10,
                                       data={"username": hint[1], "password": hint[2]}).json()["access_token"]
                    headers = {"Authorization": f"Bearer {token}"}
                assert httpx.get(f"{base}/api/v1/events", timeout=2).status_code == 401
                page = httpx.get(f"{base}/api/v1/events?limit=20", headers=headers, timeout=2).json()
                items = [i for i in page["items"] if i["verdict"]]
            except (httpx.HTTPError, KeyError):
                pass
            time.sleep(0.5)
        assert items, f"no analysed events reached the API; log:\n{log.read_text()[-3000:]}"
        assert httpx.get(f"{base}/healthz", timeout=2).status_code == 200
        ready = httpx.get(f"{base}/readyz", timeout=5)
        assert ready.status_code == 200, ready.text
        dashboard = httpx.get(f"{base}/", timeout=2)
        assert dashboard.status_code == 200 and "SecuStreamAI" in dashboard.text
        metrics = httpx.get(f"{base}/metrics", timeout=2).text
        assert "secustream_events_analyzed_total" in metrics and "secustream_events_produced_total" in metrics
        stamps = [i["timestamp"] for i in items]
        assert stamps == sorted(stamps, reverse=True), "events must be newest first"
        # the analyst's layer runs in `up` too (SQLite): campaigns become alerts, incidents with a story
        alerts: list[dict] = []  # type: ignore[type-arg]
        incidents: list[dict] = []  # type: ignore[type-arg]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not (alerts and incidents):
            alerts = httpx.get(f"{base}/api/v1/alerts?status=open", headers=headers, timeout=5).json()["items"]
            incidents = httpx.get(f"{base}/api/v1/incidents", headers=headers, timeout=5).json()["items"]
            time.sleep(0.5)
        assert alerts and incidents, f"no alerts/incidents in `up`; log:\n{log.read_text()[-3000:]}"
        assert all(a["count"] >= 1 and a["first_seen"] <= a["last_seen"] for a in alerts)
        # an incident listed a moment ago may since have been merged into another (a 404, as it should be): list
        # again; anything else but a 200 with its story is a failure
        deadline = time.monotonic() + 60
        while True:
            got = httpx.get(f"{base}/api/v1/incidents/{incidents[0]['id']}", headers=headers, timeout=5)
            assert got.status_code in (200, 404), f"{got.status_code} {got.text[:500]}; log:\n{log.read_text()[-3000:]}"
            if (got.status_code == 200 and got.json()["story"] is not None) or time.monotonic() > deadline:
                break
            incidents = httpx.get(f"{base}/api/v1/incidents", headers=headers, timeout=5).json()["items"]
            time.sleep(0.5)
        assert got.status_code == 200, f"no incident stayed long enough to be read; last: {got.text[:500]}"
        detail = got.json()
        assert detail["story"]["source"] == "template" and detail["timeline"]
        # on by default: from an empty data dir, a first model is trained in the background and the model tier
        # shows in the API's tier mix within 120 s of `up` starting (the whole budget, start-up included)
        tiers: dict[str, int] = {}
        while time.monotonic() < started + 120 and not tiers.get("model"):
            assert proc.poll() is None, log.read_text()[-3000:]
            stats = httpx.get(f"{base}/api/v1/stats?bucket=hour", headers=headers, timeout=5)
            if stats.status_code == 200:
                tiers = stats.json()["totals"]["tier"]
            time.sleep(1)
        out = log.read_text()
        assert tiers.get("model", 0) > 0, f"tier mix after {time.monotonic() - started:.0f} s: {tiers}\n{out[-3000:]}"
        assert "model    : no active model; training a first one in the background" in out
        assert re.search(r"model    : v1 active after \d+ s", out), out[-3000:]
        time.sleep(5.5)  # at least one live-rate line
    finally:
        proc.send_signal(signal.SIGINT)
        code = proc.wait(60)
    out = log.read_text()
    assert code == 0, out[-3000:]
    assert f"dashboard: http://127.0.0.1:{port}/" in out
    assert "produced" in out and "analyzed" in out and "/s" in out
    assert "stopped." in out
