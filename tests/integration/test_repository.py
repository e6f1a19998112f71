"""The PostgreSQL write path: COPY fast path for new rows, merge fallback for replays, on a real database."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import create_engine, text

from secustream.analyzer.detection import verdict_from_hits
from secustream.generator import EventGenerator
from secustream.storage.repository import AnalyzedEvent, VerdictRepository


def _items(n: int, seed: int) -> list[AnalyzedEvent]:
    generator = EventGenerator(seed=seed, attack_ratio=0.1, start=datetime(2026, 11, 25, tzinfo=UTC), rate=100)
    return [AnalyzedEvent(g.event, verdict_from_hits(g.event, [], "test"), datetime.now(UTC))
            for g in generator.next_batch(n)]


def test_new_batch_then_replays_store_each_event_once(pg_url: str) -> None:
    engine = create_engine(pg_url)
    repo = VerdictRepository(engine)
    first, second = _items(50, seed=1), _items(30, seed=2)
    try:
        assert repo.store(first) == 50  # fast path: straight COPY
        assert repo.store(first) == 0  # exact replay: conflict -> merge, nothing new
        assert repo.store(first[:10] + second) == 30  # partial replay: only the new ones
        assert repo.count_events() == 80
        assert repo.count_verdicts() == 80
        with engine.connect() as conn:
            mismatched = conn.execute(text(
                "select count(*) from verdicts v join events e on e.id = v.event_id "
                "where v.event_timestamp is distinct from e.timestamp")).scalar()
        assert mismatched == 0, "verdicts.event_timestamp must equal the event time on both paths"
    finally:
        engine.dispose()


def test_binary_copy_keeps_every_value_exactly(pg_url: str) -> None:
    """The COPY is binary: JSON text, backslashes, control characters, non-BMP text and NULL columns arrive as sent,
    on the fast path and on the merge path."""
    engine = create_engine(pg_url)
    repo = VerdictRepository(engine)
    tricky = 'C:\\Windows\\System32\\cmd.exe /c "echo \\\\x"\t\r\n 🐍 é \\N \\.'
    items = []
    unmapped = {"CommandLine": tricky, "n": 2**63 - 1, "list": [1, None, "\\"]}
    for g in EventGenerator(seed=3, attack_ratio=0.0, start=datetime(2026, 11, 25, tzinfo=UTC), rate=10).next_batch(4):
        event = g.event.model_copy(update={"message": tricky, "action": tricky[:100], "unmapped": unmapped})
        verdict = verdict_from_hits(event, [], "test").model_copy(update={"reason": tricky, "rule_ids": [tricky]})
        items.append(AnalyzedEvent(event, verdict, None, event.model_dump(mode="json", exclude_none=True)))
    try:
        assert repo.store(items[:2]) == 2  # COPY
        assert repo.store(items) == 2  # replay of two: the merge path's COPY into the temp tables
        with engine.connect() as conn:
            rows = conn.execute(text(
                "select e.id, e.action, e.payload, e.produced_at, v.reason, v.rule_ids from events e "
                "join verdicts v on v.event_id = e.id")).all()
        assert len(rows) == 4
        by_id = {i.event.event_id: i for i in items}
        for event_id, action, payload, produced_at, reason, rule_ids in rows:
            item = by_id[event_id]
            assert payload == item.document
            assert (action, reason, rule_ids, produced_at) == (tricky[:100], tricky, [tricky], None)
    finally:
        engine.dispose()


def test_a_column_type_changed_under_a_running_writer_costs_one_failed_batch(pg_url: str) -> None:
    """The COPY's column types are read once; a failed store reads them again, so a migration that changes a
    type (here the payload to json, whose binary form has no version byte) fails one attempt, not every one."""
    engine = create_engine(pg_url)
    repo = VerdictRepository(engine)
    first, second = _items(3, seed=5), _items(3, seed=6)
    try:
        assert repo.store(first) == 3
        with engine.begin() as conn:
            conn.execute(text("ALTER TABLE events ALTER COLUMN payload TYPE json USING payload::json"))
        with pytest.raises(Exception):  # noqa: B017 - whatever the driver raises for the stale type
            repo.store(second)
        assert repo.store(second) == 3
        with engine.connect() as conn:
            stored = conn.execute(text("select count(*) from events where payload->>'event_type' is not null"))
            assert stored.scalar() == 6
    finally:
        engine.dispose()
