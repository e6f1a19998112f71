"""The archive round trip on real services: analyse a day, archive and drop it (retention), replay it
(`secustream archive read`), and get the same events and the same verdicts back.

PostgreSQL (day partitions), a Tansu broker, Redis and the analyzer worker, as in production; the archive is
OCSF Parquet in a local directory. Redis is flushed before the replay: a replay comes long after the day,
when stateful windows have closed, and the same events must meet the same rules from the same state.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from sqlalchemy import create_engine, text

from secustream.archive import make_archiver
from secustream.archive.ocsf import row_of
from secustream.cli import main
from secustream.config import Settings
from secustream.generator import EventGenerator
from secustream.generator.runner import produce_generated
from secustream.messaging.client import TrackedProducer, producer_config
from secustream.storage import partitions, retention
from tests.conftest import flushed_redis_url
from tests.integration.pipeline_helpers import make_settings, running_worker, scalar, wait_for

pytestmark = pytest.mark.integration

TODAY = datetime.now(UTC).date()
DAY = TODAY - timedelta(days=40)
POLICY = retention.RetentionPolicy(events=30, verdicts=30, alerts=365, incidents=365)
DECISION = ("risk_level", "risk_score", "threat_type", "tier", "reason", "rule_ids", "mitre_ids")


def _day(pg_url: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The day's events (id → (time, payload)) and verdicts (event id → decision fields), wherever they live."""
    engine = create_engine(pg_url)
    lo, hi = partitions.day_start(DAY), partitions.day_start(DAY + timedelta(days=1))
    try:
        with engine.connect() as conn:
            events = {str(r.id): (r.timestamp, r.payload) for r in conn.execute(text(
                "SELECT id, timestamp, payload FROM events WHERE timestamp >= :lo AND timestamp < :hi"),
                {"lo": lo, "hi": hi})}
            verdicts = {str(r.event_id): tuple(getattr(r, c) for c in DECISION) for r in conn.execute(text(
                f"SELECT event_id, {', '.join(DECISION)} FROM verdicts "
                "WHERE event_timestamp >= :lo AND event_timestamp < :hi"), {"lo": lo, "hi": hi})}
        return events, verdicts
    finally:
        engine.dispose()


def test_archive_drop_replay_gives_the_same_events_and_verdicts(kafka_bootstrap: str, topics: dict[str, str],
                                                                pg_url: str, redis_url: str, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    settings = make_settings(kafka_bootstrap, topics, pg_url, redis_url)
    batch = EventGenerator(seed=17, attack_ratio=0.2, start=datetime.combine(DAY, time(1), tzinfo=UTC),
                           rate=0.05).next_batch(600)  # 600 events over ~3.3 hours of DAY
    assert {g.event.timestamp.date() for g in batch} == {DAY}
    producer = TrackedProducer(producer_config(kafka_bootstrap, "test"))
    produce_generated(batch, producer, topics["events"])
    producer.flush_or_raise()
    lake = tmp_path / "lake"

    with running_worker(settings):
        wait_for(lambda: scalar(pg_url, "select count(*) from verdicts") == len(batch), 180, "all verdicts")
        engine = create_engine(pg_url)
        try:
            partitions.ensure(engine, TODAY, days_ahead=1)  # the old day gets its partition on demand
            events_before, verdicts_before = _day(pg_url)
            assert len(events_before) == len(verdicts_before) == len(batch)
            assert any(v[0] in ("high", "critical") for v in verdicts_before.values()), "the day should hold attacks"

            archiver = make_archiver(str(lake), Settings(ARCHIVE_ROWS_PER_FILE=200))
            report = retention.run(engine, POLICY, archiver, TODAY)
            assert not report.failed, report.lines()
            assert {(o.table, o.day) for o in report.outcomes if o.dropped} >= {("events", DAY), ("verdicts", DAY)}
            assert _day(pg_url) == ({}, {}), "the day is gone from the database"
        finally:
            engine.dispose()

        # what the archive holds of the verdicts: the same decisions as the database had
        manifest = archiver.manifest("verdicts", DAY)
        archived = {row["event_id"]: tuple(row[c] for c in DECISION)
                    for row in (row_of(r)[1] for r in archiver.records(manifest))}
        assert archived == {k: tuple(v) for k, v in verdicts_before.items()}

        flushed_redis_url()
        monkeypatch.setenv("KAFKA_SERVER", kafka_bootstrap)
        monkeypatch.setenv("PROMETHEUS_PORT", "0")
        assert main(["archive", "read", "--day", DAY.isoformat(), "--url", str(lake),
                     "--topic", topics["events"]]) == 0
        assert f"replayed {len(batch)} events" in capsys.readouterr().out
        wait_for(lambda: len(_day(pg_url)[1]) == len(batch), 180, "the replayed day's verdicts")

    events_after, verdicts_after = _day(pg_url)
    assert events_after.keys() == events_before.keys()
    for event_id, (timestamp, payload) in events_before.items():
        assert events_after[event_id] == (timestamp, payload), event_id  # same time, same document
    assert verdicts_after == verdicts_before


def test_a_dry_run_needs_no_broker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("KAFKA_SERVER", "")
    make_archiver(str(tmp_path), Settings()).archive("events", date(2026, 1, 1), iter(()))
    assert main(["archive", "read", "--day", "2026-01-01", "--url", str(tmp_path), "--dry-run"]) == 0
    assert "would replay 0 events" in capsys.readouterr().out


def test_retention_run_archives_through_archive_url_and_keeps_a_day_it_cannot_archive(
        pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """The command line as the CronJob runs it: ARCHIVE_URL in the environment, no flag."""
    from secustream.storage.repository import VerdictRepository
    from tests.integration.partition_helpers import checksums, items_on

    engine = create_engine(pg_url)
    try:
        VerdictRepository(engine).store(items_on(DAY, 20, seed=3))
        partitions.ensure(engine, TODAY, days_ahead=1)
        before = checksums(engine)
        monkeypatch.setenv("DATABASE_URL", pg_url)
        monkeypatch.setenv("RETENTION_VERDICTS_DAYS", "30")
        blocked = tmp_path / "not-a-directory"
        blocked.write_text("")
        monkeypatch.setenv("ARCHIVE_URL", str(blocked / "lake"))
        assert main(["retention", "run"]) == 1, "a day that cannot be archived is kept, and the run says so"
        assert checksums(engine) == before, "nothing dropped unarchived"
        assert "KEPT" in capsys.readouterr().out

        lake = tmp_path / "lake"
        monkeypatch.setenv("ARCHIVE_URL", str(lake))
        assert main(["retention", "run"]) == 0
        out = capsys.readouterr().out
        assert f"events {DAY}: dropped 20 rows (archived to file://{lake}/ext/secustream-manifests/" in out, out
        assert _day(pg_url) == ({}, {})
        manifests = sorted(p.name for p in lake.rglob("*.json"))
        assert manifests == ["events.json", "verdicts.json"]
        assert main(["archive", "read", "--day", DAY.isoformat(), "--dry-run"]) == 0
        assert "would replay 20 events" in capsys.readouterr().out
    finally:
        engine.dispose()


@pytest.mark.parametrize("backend", ["postgresql", "sqlite"])
def test_archive_write_archives_a_stored_day_by_hand(backend: str, pg_url: str, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    from secustream.storage.repository import VerdictRepository
    from tests.integration.partition_helpers import items_on

    url = pg_url if backend == "postgresql" else f"sqlite:///{tmp_path / 'up.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    if backend == "sqlite":
        assert main(["migrate"]) == 0
    engine = create_engine(url)
    try:
        items = items_on(DAY, 25, seed=9) + items_on(DAY + timedelta(days=1), 5, seed=10)
        VerdictRepository(engine).store(items)
    finally:
        engine.dispose()
    lake = tmp_path / "lake"
    assert main(["archive", "write", "--day", DAY.isoformat(), "--url", str(lake)]) == 0
    out = capsys.readouterr().out
    assert f"events {DAY}: 25 rows archived" in out and f"verdicts {DAY}: 25 rows archived" in out
    assert f"alerts {DAY}: 0 rows archived" in out
    archiver = make_archiver(str(lake), Settings())
    rows = [row_of(r)[1] for r in archiver.records(archiver.manifest("events", DAY))]
    assert {UUID(r["id"]) for r in rows} == {i.event.event_id for i in items[:25]}  # SQLite keeps hex
    assert all(r["verdict_risk_level"] for r in rows), "events carry their verdict's columns"
    findings = list(archiver.records(archiver.manifest("verdicts", DAY)))
    assert len(findings) == 25 and {r["class_uid"] for r in findings} <= {2004, 0}
