"""Migration 0009: events.payload is lz4-compressed on the parent, every partition and the partitions made later;
stored payloads read back unchanged; downgrade returns the column to the server default."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, create_engine, text

from secustream.storage import migrate, partitions
from secustream.storage.repository import VerdictRepository
from tests.integration.partition_helpers import items_on

TODAY = datetime.now(UTC).date()


def _methods(engine: Engine) -> dict[str, str]:
    """Table -> compression method of its payload column ('' is the server default)."""
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT a.attrelid::regclass::text, a.attcompression FROM pg_attribute a "
            "WHERE a.attname = 'payload' AND (a.attrelid = 'events'::regclass OR a.attrelid IN "
            "(SELECT inhrelid FROM pg_inherits WHERE inhparent = 'events'::regclass))")).all()
    return {table: str(method or "") for table, method in rows}


def test_payload_lz4_up_down_and_on_new_partitions(empty_pg_url: str) -> None:
    migrate.upgrade(empty_pg_url, "0008")
    engine = create_engine(empty_pg_url)
    try:
        repo = VerdictRepository(engine)
        old = items_on(TODAY, 5, seed=1)
        assert repo.store(old) == 5  # pglz rows from before the migration stay readable
        migrate.upgrade(empty_pg_url, "0009")
        methods = _methods(engine)
        assert len(methods) > 2 and set(methods.values()) == {"l"}, methods
        late = TODAY - timedelta(days=30)
        partitions.ensure(engine, TODAY, days_ahead=9)
        assert repo.store(items_on(late, 3, seed=2)) == 3
        partitions.ensure(engine, TODAY, days_ahead=9)  # the late day gets a partition, built with LIKE
        assert _methods(engine)[partitions.partition_name("events", late)] == "l"
        fresh = items_on(TODAY, 5, seed=3)
        assert repo.store(fresh) == 5 and repo.store(old + fresh) == 0, "exactly-once across both methods"
        with engine.connect() as conn:
            stored = dict(conn.execute(text("SELECT id, payload FROM events")).all())
            used = set(conn.execute(text("SELECT DISTINCT pg_column_compression(payload) FROM events")).scalars())
        for item in old + fresh:
            assert stored[item.event.event_id] == item.event.model_dump(mode="json", exclude_none=True)
        assert used <= {"pglz", "lz4", None}
        migrate.downgrade(empty_pg_url, "0008")
        assert set(_methods(engine).values()) == {""}
        assert repo.count_events() == 13
    finally:
        engine.dispose()
