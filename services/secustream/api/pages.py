"""The events list's hot path: the caller's account check and one keyset page, returned as ready JSON bytes.

Why a separate reader: the list is the API's busiest call. On PostgreSQL it runs on a small psycopg pool of
autocommit connections (no BEGIN/ROLLBACK or pre-ping round trips), reads plain tuples with only the columns
the page shows, and serialises them with orjson in one go; the pydantic models stay the documented contract
(OpenAPI, tests). Other databases (SQLite under `secustream up`) keep the SQLAlchemy path.
"""

from __future__ import annotations

import uuid
from typing import Any, Protocol

import orjson
from psycopg import Connection
from psycopg.types.json import set_json_loads
from psycopg_pool import ConnectionPool
from sqlalchemy import Engine

from secustream.api.deps import active, check_role
from secustream.api.schemas import EventOut, EventPage, Role, VerdictOut
from secustream.storage import queries

USER_SQL = "SELECT role, is_active FROM users WHERE username = %s"


class PageReader(Protocol):
    def page(self, username: str, role: Role, f: queries.EventFilters, limit: int, cursor: str | None) -> bytes:
        """The page as JSON (an ``EventPage``) after checking that ``username`` is active and ranks ``role``.

        Blocking: call it from a worker thread. Raises HTTPException (401/403) or queries.CursorError.
        """
        ...

    def close(self) -> None: ...


def page_json(rows: list[tuple[Any, ...]], limit: int) -> bytes:
    """An ``EventPage`` document from ``queries.page_sql`` rows (``limit`` + 1 rows mean a next page exists)."""
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = queries.encode_cursor(rows[-1][0], uuid.UUID(rows[-1][1]))
    events, verdicts = queries.PAGE_EVENT_FIELDS, queries.PAGE_VERDICT_FIELDS
    n = len(events)
    items = []
    for row in rows:
        item = dict(zip(events, row[1:n + 1], strict=True))
        item["verdict"] = dict(zip(verdicts, row[n + 2:], strict=True)) if row[n + 1] is not None else None
        items.append(item)
    return orjson.dumps({"items": items, "next_cursor": next_cursor}, option=orjson.OPT_UTC_Z)


def _configure(conn: Connection[Any]) -> None:
    """UTC timestamps (serialised with 'Z', as pydantic does) and orjson for the JSONB lists."""
    conn.execute("SET TIME ZONE 'UTC'")
    set_json_loads(orjson.loads, conn)


class PostgresPages:
    """Pages through the raw driver on a pool of its own (opened on first use, so idle apps hold nothing)."""

    def __init__(self, conninfo: str, max_size: int) -> None:
        self._pool = ConnectionPool(conninfo, min_size=0, max_size=max_size, open=False, configure=_configure,
                                    kwargs={"autocommit": True}, name="secustream-api-pages")

    def page(self, username: str, role: Role, f: queries.EventFilters, limit: int, cursor: str | None) -> bytes:
        self._pool.open()  # idempotent
        with self._pool.connection() as conn:
            found = conn.execute(USER_SQL, (username,)).fetchone()
            check_role(active({"role": found[0], "is_active": found[1]} if found else None), role)
            sql, params = queries.page_sql(f, limit, cursor)
            rows = conn.execute(sql, params).fetchall()  # type: ignore[arg-type]  # built from literals only
        return page_json(rows, limit)

    def close(self) -> None:
        self._pool.close()


def event_out(row: dict[str, Any]) -> EventOut:
    event, verdict = queries.split_verdict(row)
    return EventOut(**event, event_id=event["id"],
                    verdict=VerdictOut.model_validate(verdict) if verdict is not None else None)


class SqlAlchemyPages:
    """Any SQLAlchemy database (SQLite under `secustream up`): the portable Core query and the pydantic models."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def page(self, username: str, role: Role, f: queries.EventFilters, limit: int, cursor: str | None) -> bytes:
        with self._engine.begin() as conn:
            check_role(active(queries.get_user_by_name(conn, username)), role)
            page = queries.list_events(conn, f, limit, cursor)
        body = EventPage(items=[event_out(r) for r in page.rows], next_cursor=page.next_cursor)
        return body.model_dump_json().encode()

    def close(self) -> None:
        """Nothing of its own: the engine belongs to the caller."""


def page_reader(engine: Engine) -> PageReader:
    """The raw-driver reader for PostgreSQL (pool as large as the engine's), the SQLAlchemy one otherwise."""
    if engine.dialect.name != "postgresql":
        return SqlAlchemyPages(engine)
    size = engine.pool.size() if hasattr(engine.pool, "size") else 10
    return PostgresPages(engine.url.set(drivername="postgresql").render_as_string(hide_password=False), size)
