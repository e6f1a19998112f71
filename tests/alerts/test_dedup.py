"""Alerts from a real-format sshd log: one alert per brute-forcing source, detection and window, with the
right counts; a replayed batch changes nothing; two analyzer processes lose no increment."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, select

from secustream.alert_hit import AlertHit, stable_id
from secustream.alerts.hits import block_start
from secustream.storage import alerts as store
from secustream.storage.tables import Alert, AlertHitRow, Incident
from secustream.verdict import RISK_ORDER, RiskLevel

from .helpers import analyse, sshd_alerted, sshd_events, stage_for, store_and_alert

REPO = Path(__file__).parents[2]


def table(db, model):  # type: ignore[no-untyped-def]
    with db.connect() as conn:
        return [dict(r) for r in conn.execute(select(model.__table__)).mappings()]


def test_sshd_log_gives_one_alert_per_source_detection_and_window(pg_url: str) -> None:
    db = create_engine(pg_url)
    _stage, items = sshd_alerted(db)

    # Independent oracle from the verdicts: alert-level hits per (rule, source, 10-minute block).
    expected: Counter[tuple[str, str, datetime]] = Counter()
    failed_passwords = 0
    for item in items:
        failed_passwords += item.event.action == "login_failed" or "Failed password" in (item.event.message or "")
        if RISK_ORDER[item.verdict.risk_level] < RISK_ORDER[RiskLevel.MEDIUM]:
            continue
        source = item.event.source.ip or item.event.source.host or "-"
        for rule in item.verdict.rule_ids:
            if "BRUTE" in rule:
                expected[(rule, source, block_start(item.event.timestamp, 600))] += 1
    alerts = [a for a in table(db, Alert) if "BRUTE" in a["detection"]]
    got = Counter({(a["detection"], a["entity_value"], a["window_start"].astimezone(UTC)): a["count"]
                   for a in alerts})
    assert got == expected
    sources = {s for _r, s, _b in expected}
    assert len(sources) >= 2, "the sample holds several brute-forcing sources"
    assert len(alerts) == len(expected) < failed_passwords / 5  # not one per failed password
    assert all(a["first_seen"] <= a["last_seen"] for a in alerts)
    # Each source is its own incident: they share only their target (bastion01), never an actor.
    incidents = {a["incident_id"] for a in alerts}
    assert len(incidents) == len(sources)
    assert all(len({x["entity_value"] for x in alerts if x["incident_id"] == i}) == 1 for i in incidents)
    with db.connect() as conn:
        for a in alerts:  # sample events are the alert's own hits
            samples = store.sample_event_ids(conn, a["id"])
            assert 0 < len(samples) <= min(10, a["count"])
    db.dispose()


def test_replayed_batches_change_no_count(pg_url: str) -> None:
    db = create_engine(pg_url)
    stage, items = sshd_alerted(db)
    before = (table(db, Alert), table(db, Incident), len(table(db, AlertHitRow)))
    store_and_alert(db, stage, items, batch=17)  # redelivered, in other batch boundaries
    stage.process(items)
    after = (table(db, Alert), table(db, Incident), len(table(db, AlertHitRow)))
    key = lambda rows: sorted((r["id"], r.get("count"), r.get("alert_count"), r.get("severity")) for r in rows)  # noqa: E731
    assert key(before[0]) == key(after[0]) and key(before[1]) == key(after[1]) and before[2] == after[2]
    assert sum(a["count"] for a in after[0]) == after[2]
    db.dispose()


# ---- two analyzer processes on the same alerts ------------------------------------------------

T0 = datetime(2026, 3, 3, 8, 0, tzinfo=UTC)
ALERTS = 3
EVENTS_PER_PROCESS = 300
SHARED = 60  # events both processes count (a rebalance redelivering a batch to the other replica)


def hit(alert_no: int, event_no: int) -> AlertHit:
    import uuid

    return AlertHit(
        alert_id=stable_id("race", alert_no), detection=f"RACE-{alert_no}", title="race", level="high",
        threat_type="brute_force", mitre_ids=("T1110",), tactics=("credential-access",), entity_kind="ip",
        entity_value=f"198.51.100.{alert_no}", window_start=T0, window_seconds=600,
        event_id=uuid.UUID(int=event_no), event_time=T0 + timedelta(milliseconds=event_no),
        entities=(("ip", f"198.51.100.{alert_no}", "actor"), ("host", "bastion01", "target")))


def hammer(url: str, first: int) -> None:
    """One 'analyzer process': many small batches on the same alerts, each its own transaction."""
    db = create_engine(url)
    events = list(range(first, first + EVENTS_PER_PROCESS)) + list(range(10_000, 10_000 + SHARED))
    for i in range(0, len(events), 4):
        with db.begin() as conn:
            store.record(conn, [hit(e % ALERTS, e) for e in events[i:i + 4]], timedelta(hours=1))
    db.dispose()


def test_two_analyzer_processes_lose_no_increment(pg_url: str) -> None:
    code = "import sys; from tests.alerts.test_dedup import hammer; hammer(sys.argv[1], int(sys.argv[2]))"
    procs = [subprocess.Popen([sys.executable, "-c", code, pg_url, str(first)], cwd=REPO)
             for first in (0, 1000)]
    assert [p.wait(timeout=300) for p in procs] == [0, 0]
    db = create_engine(pg_url)
    expected: dict[int, set[int]] = defaultdict(set)
    for first in (0, 1000):
        for e in [*range(first, first + EVENTS_PER_PROCESS), *range(10_000, 10_000 + SHARED)]:
            expected[e % ALERTS].add(e)
    counts = {a["detection"]: a["count"] for a in table(db, Alert)}
    assert counts == {f"RACE-{n}": len(events) for n, events in expected.items()}
    incidents = table(db, Incident)
    assert len(incidents) == ALERTS  # one actor each (a shared target links nothing): never two for one actor
    assert sum(i["hit_count"] for i in incidents) == 2 * EVENTS_PER_PROCESS + SHARED
    db.dispose()


def test_sqlite_under_up_counts_the_same(tmp_path: Path, pg_url: str) -> None:
    """`secustream up` stores in SQLite: the same alerts and counts as PostgreSQL."""
    from secustream.storage.migrate import upgrade

    url = f"sqlite:///{tmp_path / 'up.db'}"
    upgrade(url)
    results = []
    for target in (url, pg_url):
        db = create_engine(target)
        items, engine = analyse(sshd_events())
        store_and_alert(db, stage_for(db, engine), items)
        store_and_alert(db, stage_for(db, engine), items)  # and a replay
        with db.connect() as conn:
            page = store.alert_page(store.alert_page_rows(conn, store.AlertFilters(statuses=["open"]), 100), 100)
            # the dashboard's default queue asks for two statuses (one UNION ALL branch each), paged by cursor
            queue = store.AlertFilters(statuses=["open", "acknowledged"])
            first = store.alert_page(store.alert_page_rows(conn, queue, 2), 2)
            rest = store.alert_page(store.alert_page_rows(conn, queue, 100, first["next_cursor"]), 100)
            # the Rule box's search: words of a title in any case; LIKE's ``_`` a plain character
            word = max(page["items"][0]["title"].split(), key=len).upper()
            for words in (word, "_"):
                found = store.alert_page_rows(conn, store.AlertFilters(statuses=["open"], search=words), 100)
                assert {a["id"] for a in store.alert_page(found, 100)["items"]} == {
                    a["id"] for a in page["items"] if words.lower() in f"{a['title']} {a['detection']}".lower()}
        assert [a["id"] for a in first["items"] + rest["items"]] == [a["id"] for a in page["items"]], target
        results.append(sorted((a["detection"], a["entity_value"], a["count"], a["first_seen"]) for a in page["items"]))
        db.dispose()
    assert results[0] == results[1] and results[0]
