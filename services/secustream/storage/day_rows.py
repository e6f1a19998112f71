"""One UTC day of a table, shaped as retention hands it to the archive, for `secustream archive write`.

Events carry their verdict's columns prefixed ``verdict_`` (archival.py's contract). Works on partitioned
PostgreSQL (the time range prunes to the day's partition, or the default's rows of that day) and on SQLite.

``stream_rows`` is the fetch both this module and retention use. On PostgreSQL it reads a server-side cursor
straight from psycopg (row tuples, 10,000 a round trip) and leaves an event's ``payload`` as its JSON text:
parsing it with the standard library's ``json`` was half the fetch, and the archive parses it anyway (once,
in a worker process). Other JSON columns are parsed by ``archival.load_json`` (``json.loads``'s result).
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterator, Mapping
from datetime import date
from typing import Any

from psycopg.types.json import set_json_loads
from sqlalchemy import Connection, text

from secustream.archival import load_json
from secustream.storage.partitions import day_bounds
from secustream.storage.tables import Verdict as VerdictRow

DAY_COLUMN = {"events": "timestamp", "verdicts": "event_timestamp", "alerts": "last_seen", "incidents": "last_seen"}
STREAM_ROWS = 10_000  # rows per round trip: bounded memory, few round trips
TEXT_JSON = frozenset({"payload"})  # JSON columns handed over as their text (the archive accepts either)
_VERDICT_AS = ", ".join(f"v.{c.name} AS verdict_{c.name}" for c in VerdictRow.__table__.columns)
_JSON_OIDS = (114, 3802)  # json, jsonb


def _text(data: bytes | bytearray | memoryview | str) -> str:
    return data if isinstance(data, str) else bytes(data).decode()


def stream_rows(conn: Connection, sql: str, params: Mapping[str, Any], batch: int = STREAM_ROWS,
                text_json: Collection[str] = TEXT_JSON) -> Iterator[dict[str, Any]]:
    """The rows of ``sql`` as dicts, ``batch`` in memory at a time (a server-side cursor on PostgreSQL)."""
    if conn.dialect.name != "postgresql":
        result = conn.execute(text(sql), dict(params), execution_options={"stream_results": True, "yield_per": batch})
        for row in result.mappings():
            yield dict(row)
        return
    compiled = text(sql).compile(dialect=conn.dialect)
    driver = conn.connection.driver_connection
    assert driver is not None
    with driver.cursor(name=f"day_rows_{uuid.uuid4().hex[:12]}") as cur:
        set_json_loads(_text, cur)  # every JSON column as text; those not in text_json are parsed below
        cur.itersize = batch
        cur.execute(str(compiled), compiled.construct_params(dict(params)))
        columns = cur.description or []
        names = [column.name for column in columns]
        parse = [i for i, c in enumerate(columns) if c.type_code in _JSON_OIDS and c.name not in text_json]
        while chunk := cur.fetchmany(batch):
            for values in chunk:
                if parse:
                    values = list(values)
                    for i in parse:
                        if values[i] is not None:
                            values[i] = load_json(values[i])
                yield dict(zip(names, values, strict=True))


def day_rows(conn: Connection, table: str, day: date, batch: int = STREAM_ROWS) -> Iterator[dict[str, Any]]:
    """Every row of ``table`` whose day column falls on ``day`` (UTC), streamed ``batch`` at a time."""
    column = DAY_COLUMN[table]
    params = day_bounds(day)
    if table == "events":
        sql = (f"SELECT e.*, {_VERDICT_AS} FROM events e LEFT JOIN verdicts v "
               "ON v.event_id = e.id AND v.event_timestamp = e.timestamp "
               'WHERE e."timestamp" >= :lo AND e."timestamp" < :hi')
    else:
        sql = f"SELECT * FROM {table} WHERE {column} >= :lo AND {column} < :hi"
    return stream_rows(conn, sql, params, batch)
