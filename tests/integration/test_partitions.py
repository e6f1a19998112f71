"""Day partitions on a real PostgreSQL: created ahead and on demand, late rows reported, replays add nothing,
and the in-place migration (0005 -> 0008 -> 0005) on a populated database loses no row."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import create_engine, text

from secustream.storage import migrate, partitions
from secustream.storage.repository import VerdictRepository
from tests.integration.partition_helpers import checksums, items_on

TODAY = datetime.now(UTC).date()


def test_partitions_created_ahead_and_on_demand(pg_url: str) -> None:
    engine = create_engine(pg_url)
    try:
        states = partitions.ensure(engine, TODAY, days_ahead=10)
        for s in states:
            assert TODAY + timedelta(days=10) in s.created, "the days ahead are created"
            assert s.newest == TODAY + timedelta(days=10)
        assert all(not s.created for s in partitions.ensure(engine, TODAY, days_ahead=10)), "idempotent"

        late, future = TODAY - timedelta(days=20), TODAY + timedelta(days=60)
        repo = VerdictRepository(engine)
        assert repo.store(items_on(late, 5, seed=1) + items_on(future, 3, seed=2)) == 8
        before = {s.table: s for s in partitions.status(engine)}
        assert before["events"].default_rows == 8 and before["verdicts"].default_rows == 8
        assert "8 rows in events_default" in "\n".join(partitions.report_lines(before.values()))

        states = {s.table: s for s in partitions.ensure(engine, TODAY, days_ahead=10)}
        for table in ("events", "verdicts"):
            assert states[table].created == [late], "the late day gets its partition on demand"
            assert states[table].moved_rows == 5
            assert states[table].default_rows == 3, "the far-future rows stay in the default, reported"
            assert states[table].default_days == {future: 3}
        with engine.connect() as conn:
            assert conn.execute(text(f"SELECT count(*) FROM {partitions.partition_name('events', late)}")).scalar() == 5
        assert repo.count_events() == 8 and repo.count_verdicts() == 8
    finally:
        engine.dispose()


def test_replaying_a_batch_across_partitions_adds_no_row(pg_url: str) -> None:
    engine = create_engine(pg_url)
    try:
        partitions.ensure(engine, TODAY, days_ahead=2)
        batch = (items_on(TODAY, 20, seed=3) + items_on(TODAY + timedelta(days=1), 20, seed=4)
                 + items_on(TODAY - timedelta(days=40), 5, seed=5))  # the last ones land in the default partition
        repo = VerdictRepository(engine)
        assert repo.store(batch) == 45
        assert repo.store(batch) == 0
        assert repo.store(batch[::-1][:30] + items_on(TODAY, 4, seed=6)) == 4
        assert repo.count_events() == 49 and repo.count_verdicts() == 49
        partitions.ensure(engine, TODAY, days_ahead=2)  # moves the late day out of the default
        assert repo.store(batch) == 0, "still refused once the late rows moved to their own partition"
        assert repo.count_events() == 49 and repo.count_verdicts() == 49
    finally:
        engine.dispose()


def test_in_place_migration_on_a_populated_database_loses_nothing(empty_pg_url: str, capsys) -> None:  # type: ignore[no-untyped-def]
    migrate.upgrade(empty_pg_url, "0005")
    engine = create_engine(empty_pg_url)
    try:
        repo = VerdictRepository(engine)
        for i in range(6):
            repo.store(items_on(TODAY - timedelta(days=3 * i), 40, seed=10 + i))
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO users (username, hashed_password, role, is_active, created_at, "
                              "token_version) VALUES ('a', 'x', 'analyst', true, now(), 0)"))
            conn.execute(text("INSERT INTO feedback (event_id, user_id, label, created_at, updated_at) "
                              "SELECT id, 1, 'true_positive', now(), now() FROM events LIMIT 7"))
        before = checksums(engine)
        indexes = _index_shapes(engine)
        assert before["events"][0] == 240 and before["verdicts"][0] == 240 and before["feedback"][0] == 7

        migrate.upgrade(empty_pg_url, "0008")
        out = capsys.readouterr().out
        assert "0008: events: " in out and "240/240 (100 %" in out, "batch-by-batch progress is printed"
        assert checksums(engine) == before
        assert _index_shapes(engine) == indexes, "every index comes back with its columns (INCLUDE too)"
        with engine.connect() as conn:
            assert partitions.is_partitioned(conn, "events") and partitions.is_partitioned(conn, "verdicts")
            days = partitions.partitions(conn, "events")
        assert {TODAY - timedelta(days=3 * i) for i in range(6)} <= set(days)
        assert VerdictRepository(engine).store(items_on(TODAY, 1, seed=10)) == 0, "exactly-once after the move"

        migrate.downgrade(empty_pg_url, "0005")
        assert checksums(engine) == before
        assert _index_shapes(engine) == indexes
        with engine.connect() as conn:
            assert not partitions.is_partitioned(conn, "events")
        migrate.upgrade(empty_pg_url)
        assert checksums(engine) == before
    finally:
        engine.dispose()


def _index_shapes(engine) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """Secondary index name -> its definition without the table name (keys are checked by the checksums)."""
    import re

    with engine.connect() as conn:
        rows = conn.execute(text("SELECT indexname, indexdef FROM pg_indexes WHERE tablename IN ('events', "
                                 "'verdicts') AND indexname LIKE 'ix_%'")).all()
    return {name: re.sub(r" ON (ONLY )?\S+", " ON", d) for name, d in rows}


def test_sqlite_keeps_plain_tables(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'x.db'}"
    migrate.upgrade(url)
    assert "SQLite keeps plain tables" in capsys.readouterr().out
    engine = create_engine(url)
    try:
        repo = VerdictRepository(engine)
        batch = items_on(TODAY, 10, seed=1)
        assert repo.store(batch) == 10 and repo.store(batch) == 0
    finally:
        engine.dispose()


def _cli(url: str, *args: str):  # type: ignore[no-untyped-def]
    import os
    import subprocess
    import sys

    env = dict(os.environ, DATABASE_URL=url)
    return subprocess.run([sys.executable, "-m", "secustream.cli", *args], env=env, capture_output=True, text=True,
                          timeout=120)


def test_cli_partitions_and_retention(pg_url: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    metrics = tmp_path / "storage.prom"
    ensure = _cli(pg_url, "partitions", "ensure", "--days-ahead", "12", "--metrics-file", str(metrics))
    assert ensure.returncode == 0, ensure.stderr
    assert "events: " in ensure.stdout and "day partitions" in ensure.stdout
    text_metrics = metrics.read_text()
    assert 'secustream_partitions{table="events"}' in text_metrics
    assert "secustream_partition_oldest_day_timestamp_seconds" in text_metrics
    refused = _cli(pg_url, "retention", "run")
    assert refused.returncode != 0 and "--no-archive" in refused.stderr, "dropping needs an explicit choice"
    dry = _cli(pg_url, "retention", "run", "--dry-run")
    assert dry.returncode == 0 and "nothing has expired" in dry.stdout, dry.stderr
    sqlite = _cli(f"sqlite:///{tmp_path / 'up.db'}", "migrate")
    assert sqlite.returncode == 0
    plain = _cli(f"sqlite:///{tmp_path / 'up.db'}", "partitions", "ensure")
    assert plain.returncode == 0 and "SQLite keeps plain tables" in plain.stdout
    expire = _cli(f"sqlite:///{tmp_path / 'up.db'}", "retention", "run")
    assert expire.returncode == 0 and "SQLite keeps plain tables" in expire.stdout, expire.stderr
