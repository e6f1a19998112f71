"""Retention on a real PostgreSQL: only expired days go, each archived first; a dry run changes nothing;
an archive that fails (or miscounts) keeps the day; alerts keep their sample event ids and say "expired"."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import create_engine, text

from secustream.archival import ArchiveError, ArchiveReceipt
from secustream.storage import partitions, retention
from secustream.storage.alerts import get_alert, get_incident
from secustream.storage.repository import VerdictRepository
from tests.integration.partition_helpers import checksums, items_on

TODAY = datetime.now(UTC).date()
POLICY = retention.RetentionPolicy(events=30, verdicts=90, alerts=365, incidents=365)


class RecordingArchiver:
    def __init__(self, miscount: int = 0) -> None:
        self.days: dict[tuple[str, date], list[dict[str, Any]]] = {}
        self.miscount = miscount

    def archive(self, table: str, day: date, rows: Iterable[Mapping[str, Any]]) -> ArchiveReceipt:
        kept = [dict(r) for r in rows]
        self.days[(table, day)] = kept
        digest = hashlib.sha256(repr(kept).encode()).hexdigest()
        return ArchiveReceipt(table, day, len(kept) + self.miscount, f"mem://{table}/{day}", digest)


class FailingArchiver:
    def __init__(self) -> None:
        self.calls = 0

    def archive(self, table: str, day: date, rows: Iterable[Mapping[str, Any]]) -> ArchiveReceipt:
        self.calls += 1
        next(iter(rows), None)
        raise ArchiveError("bucket unreachable")


def _populate(engine) -> dict[str, date]:  # type: ignore[no-untyped-def]
    days = {"kept": TODAY - timedelta(days=29), "old": TODAY - timedelta(days=30),
            "older": TODAY - timedelta(days=45), "ancient": TODAY - timedelta(days=100)}
    repo = VerdictRepository(engine)
    for i, day in enumerate(days.values()):
        repo.store(items_on(day, 6, seed=20 + i))
    partitions.ensure(engine, TODAY, days_ahead=2)  # the old days had no partition: created on demand
    return days


def _day_counts(engine, table: str) -> dict[date, int]:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return {d: conn.execute(text(f"SELECT count(*) FROM {name}")).scalar() or 0
                for d, name in partitions.partitions(conn, table).items()}


def test_retention_drops_only_expired_days_after_archiving(pg_url: str) -> None:
    engine = create_engine(pg_url)
    try:
        days = _populate(engine)
        before = checksums(engine)
        dry = retention.run(engine, POLICY, RecordingArchiver(), TODAY, dry_run=True)
        assert checksums(engine) == before, "a dry run changes nothing"
        assert {(o.table, o.day) for o in dry.outcomes} == {
            ("events", days["old"]), ("events", days["older"]), ("events", days["ancient"]),
            ("verdicts", days["ancient"])}
        assert all("would drop 6 rows" in line for line in dry.lines())

        archiver = RecordingArchiver()
        report = retention.run(engine, POLICY, archiver, TODAY)
        assert not report.failed
        assert set(archiver.days) == {(o.table, o.day) for o in dry.outcomes}, "every dropped day was archived first"
        events_left, verdicts_left = _day_counts(engine, "events"), _day_counts(engine, "verdicts")
        assert days["kept"] in events_left and events_left[days["kept"]] == 6
        assert not {days["old"], days["older"], days["ancient"]} & set(events_left)
        assert verdicts_left[days["old"]] == 6 and days["ancient"] not in verdicts_left
        archived_event = archiver.days[("events", days["old"])][0]
        assert archived_event["verdict_risk_level"] is not None, "events carry their verdict's columns"
        assert report.rows_dropped("events") == 18 and report.rows_dropped("verdicts") == 6
    finally:
        engine.dispose()


def test_failed_or_miscounted_archive_blocks_the_drop(pg_url: str) -> None:
    engine = create_engine(pg_url)
    try:
        _populate(engine)
        before = checksums(engine)
        failing = FailingArchiver()
        report = retention.run(engine, POLICY, failing, TODAY)
        assert failing.calls >= 1 and report.failed
        assert "KEPT" in "\n".join(report.lines()) and "bucket unreachable" in "\n".join(report.lines())
        assert checksums(engine) == before, "nothing dropped unarchived"
        report = retention.run(engine, POLICY, RecordingArchiver(miscount=1), TODAY)
        assert report.failed and checksums(engine) == before, "a receipt for another row count drops nothing"
    finally:
        engine.dispose()


def test_alerts_keep_sample_ids_of_expired_events(pg_url: str) -> None:
    """An alert counted events that retention later dropped: its page keeps their ids, marked expired."""
    import uuid

    from secustream.storage.tables import Alert, AlertHitRow

    engine = create_engine(pg_url)
    try:
        days = _populate(engine)
        with engine.begin() as conn:
            old_part = partitions.partition_name("events", days["old"])
            kept_part = partitions.partition_name("events", days["kept"])
            old_ids = list(conn.execute(text(f"SELECT id, timestamp FROM {old_part} ORDER BY timestamp LIMIT 2")))
            kept_id = conn.execute(text(f"SELECT id, timestamp FROM {kept_part} LIMIT 1")).one()
            alert_id = uuid.uuid4()
            start = datetime.combine(days["old"], datetime.min.time(), tzinfo=UTC)
            conn.execute(Alert.__table__.insert(), [{
                "id": alert_id, "detection": "d", "title": "t", "level": "high", "threat_type": "brute_force",
                "status": "open", "entity_kind": "ip", "entity_value": "10.0.0.1", "window_start": start,
                "window_seconds": 600, "count": 3, "first_seen": start, "last_seen": datetime.now(UTC),
                "mitre_ids": [], "tactics": [], "created_at": start, "updated_at": start}])
            conn.execute(AlertHitRow.__table__.insert(), [{"alert_id": alert_id, "event_id": i, "event_time": t}
                                                          for i, t in [*old_ids, kept_id]])
        assert not retention.run(engine, POLICY, RecordingArchiver(), TODAY).failed
        with engine.connect() as conn:
            alert = get_alert(conn, alert_id)
            assert alert is not None
            assert [s["expired"] for s in alert["sample_events"]] == [True, True, False]
            assert [s["title"] is None for s in alert["sample_events"]] == [True, True, False]  # gone with the row
            assert alert["sample_event_ids"] == [old_ids[0][0], old_ids[1][0], kept_id[0]]
            from secustream.storage.alerts import hit_event_known

            assert hit_event_known(conn, old_ids[0][0])
            incident = get_incident(conn, uuid.uuid4())
            assert incident is None
    finally:
        engine.dispose()


def test_alerts_and_incidents_expire_by_row_after_archiving(pg_url: str) -> None:
    import uuid

    from secustream.storage.tables import Alert

    engine = create_engine(pg_url)
    try:
        rows = []
        for age in (10, 364, 365, 400):
            # noon of a day counted from TODAY, not now minus days: a run across midnight moves now, not TODAY
            seen = datetime.combine(TODAY - timedelta(days=age), time(12), tzinfo=UTC)
            rows.append({"id": uuid.uuid4(), "detection": "d", "title": "t", "level": "high", "threat_type": "x",
                         "status": "closed", "entity_kind": "ip", "entity_value": f"10.0.0.{age % 250}",
                         "window_start": seen, "window_seconds": 600, "count": 1, "first_seen": seen,
                         "last_seen": seen, "mitre_ids": [], "tactics": [], "created_at": seen, "updated_at": seen})
        with engine.begin() as conn:
            conn.execute(Alert.__table__.insert(), rows)
        archiver = RecordingArchiver()
        report = retention.run(engine, POLICY, archiver, TODAY)
        assert not report.failed and report.rows_dropped("alerts") == 2
        assert {t for t, _d in archiver.days} == {"alerts"}
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM alerts")).scalar() == 2
    finally:
        engine.dispose()
