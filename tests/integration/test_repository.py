"""The PostgreSQL write path: COPY fast path for new rows, merge fallback for replays, on a real database."""

from __future__ import annotations

from datetime import UTC, datetime

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
