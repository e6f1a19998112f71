"""One UTC day of a table, shaped as retention hands it to the archive, for `secustream archive write`.

Events carry their verdict's columns prefixed ``verdict_`` (archival.py's contract). Works on partitioned
PostgreSQL (the time range prunes to the day's partition, or the default's rows of that day) and on SQLite.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Connection, text

from secustream.storage.tables import Verdict as VerdictRow

DAY_COLUMN = {"events": "timestamp", "verdicts": "event_timestamp", "alerts": "last_seen", "incidents": "last_seen"}
_VERDICT_AS = ", ".join(f"v.{c.name} AS verdict_{c.name}" for c in VerdictRow.__table__.columns)


def day_rows(conn: Connection, table: str, day: date, batch: int = 5_000) -> Iterator[dict[str, Any]]:
    """Every row of ``table`` whose day column falls on ``day`` (UTC), streamed ``batch`` at a time."""
    column = DAY_COLUMN[table]
    lo = datetime.combine(day, time(), tzinfo=UTC)
    params = {"lo": lo, "hi": lo + timedelta(days=1)}
    if table == "events":
        sql = (f"SELECT e.*, {_VERDICT_AS} FROM events e LEFT JOIN verdicts v "
               "ON v.event_id = e.id AND v.event_timestamp = e.timestamp "
               'WHERE e."timestamp" >= :lo AND e."timestamp" < :hi')
    else:
        sql = f"SELECT * FROM {table} WHERE {column} >= :lo AND {column} < :hi"
    result = conn.execute(text(sql), params, execution_options={"stream_results": True, "yield_per": batch})
    for row in result.mappings():
        yield dict(row)
