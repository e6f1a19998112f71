"""Events with verdicts on chosen days, and row counts/checksums that tell whether a table lost anything."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

from sqlalchemy import Engine, text

from secustream.analyzer.detection import verdict_from_hits
from secustream.generator import EventGenerator
from secustream.storage.repository import AnalyzedEvent


def items_on(day: date, n: int, seed: int) -> list[AnalyzedEvent]:
    """``n`` analysed events spread over one UTC day."""
    start = datetime.combine(day, time(0, 30), tzinfo=UTC)
    generator = EventGenerator(seed=seed, attack_ratio=0.1, start=start, rate=n / 80_000)
    return [AnalyzedEvent(g.event, verdict_from_hits(g.event, [], "test"), datetime.now(UTC))
            for g in generator.next_batch(n)]


CHECKSUMS = {
    "events": "SELECT count(*), md5(string_agg(concat_ws('|', id, timestamp, event_type, action, outcome, source_ip, "
              "source_user, source_host, destination_ip, destination_port, destination_host, product, payload::text, "
              "produced_at, stored_at), ',' ORDER BY id))",
    "verdicts": "SELECT count(*), md5(string_agg(concat_ws('|', id, event_id, risk_level, risk_score, threat_type, "
                "confidence, tier, reason, rule_ids::text, mitre_ids::text, recommended_actions::text, analysis, "
                "analyzer_version, latency_ms, analyzed_at, event_timestamp), ',' ORDER BY id))",
    "feedback": "SELECT count(*), md5(string_agg(concat_ws('|', id, event_id, user_id, label), ',' ORDER BY id))",
}


def checksums(engine: Engine) -> dict[str, tuple[int, str | None]]:
    with engine.connect() as conn:
        out = {}
        for table, head in CHECKSUMS.items():
            n, digest = conn.execute(text(f"{head} FROM {table}")).one()
            out[table] = (int(n), digest)
        return out
