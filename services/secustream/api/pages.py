"""The events list's hot path: the caller's account check and one keyset page, returned as ready JSON bytes.

Why a separate reader: the list is the API's busiest call. On PostgreSQL it runs on a small psycopg pool of
autocommit connections (no BEGIN/ROLLBACK or pre-ping round trips), reads plain tuples with only the columns
the page shows, and serialises them with orjson in one go; the pydantic models stay the documented contract
(OpenAPI, tests). Other databases (SQLite under `secustream up`) keep the SQLAlchemy path.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime
from typing import Any, Protocol

import orjson
from fastapi.concurrency import run_in_threadpool
from psycopg import AsyncConnection, Connection
from psycopg.types.json import set_json_loads
from psycopg_pool import AsyncConnectionPool, ConnectionPool
from sqlalchemy import Engine

from secustream.api.access import active, check_role
from secustream.api.schemas import EventOut, EventPage, Role, VerdictOut
from secustream.api.security import TokenClaims
from secustream.storage import alerts
from secustream.storage import pages as page_store
from secustream.storage import users as user_store


class PageReader(Protocol):
    async def page(self, claims: TokenClaims, role: Role, f: page_store.EventFilters, limit: int,
                   cursor: str | None) -> bytes:
        """The page as JSON (an ``EventPage``) after checking that the token's account is active, still
        honours the token's version and ranks ``role``.

        Raises HTTPException (401/403) or page_store.CursorError.
        """
        ...

    async def alert_page(self, claims: TokenClaims, role: Role, f: alerts.AlertFilters, limit: int,
                         cursor: str | None) -> bytes:
        """An ``AlertPage`` (the alert queue), the same way; raises page_store.CursorError on a bad cursor."""
        ...

    async def start(self) -> None:
        """Called by the app's lifespan on the serving event loop."""

    async def stop(self) -> None:
        """Called by the app's lifespan before that loop ends."""

    def close(self) -> None:
        """Release what ``start`` did not (the owner's teardown when no lifespan ran)."""


def page_json(rows: list[tuple[Any, ...]], limit: int) -> bytes:
    """An ``EventPage`` document from ``page_store.page_sql`` rows (``limit`` + 1 rows mean a next page exists)."""
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = page_store.encode_cursor(rows[-1][0], uuid.UUID(rows[-1][1]))
    events, verdicts = page_store.PAGE_EVENT_FIELDS, page_store.PAGE_VERDICT_FIELDS
    n = len(events)
    items = []
    for row in rows:
        item = dict(zip(events, row[1:n + 1], strict=True))
        item["verdict"] = dict(zip(verdicts, row[n + 2:], strict=True)) if row[n + 1] is not None else None
        items.append(item)
    return orjson.dumps({"items": items, "next_cursor": next_cursor}, option=orjson.OPT_UTC_Z)


def _account_rows(rows: list[tuple[Any, ...]], claims: TokenClaims, role: Role) -> list[tuple[Any, ...]]:
    """The page rows of a ``users.with_account`` statement, once its account passes the checks (401/403)."""
    n = user_store.ACCOUNT_COLUMNS
    first = rows[0]
    # is_active is NOT NULL for a real account row; all NULL means no such account
    found = {"role": first[0], "is_active": first[1], "token_version": first[2]} if first[1] is not None else None
    check_role(active(found, claims), role)
    return [row[n:] for row in rows] if first[n] is not None else []


# Autocommit (no BEGIN/ROLLBACK round trips) and prepared from the first run: the page statements are meant for
# generic plans (page_store.PAGE_SESSION_SQL), so the 5 custom plans psycopg's default threshold costs a new
# connection per statement buy nothing.
PAGE_CONNECTION: dict[str, Any] = {"autocommit": True, "prepare_threshold": 0}


def _configure(conn: Connection[Any]) -> None:
    """UTC timestamps (serialised with 'Z', as pydantic does), generic plans for the page statements
    (``page_store.PAGE_SESSION_SQL``) and orjson for the JSONB lists."""
    conn.execute("SET TIME ZONE 'UTC'")
    conn.execute(page_store.PAGE_SESSION_SQL)
    set_json_loads(orjson.loads, conn)


async def _configure_async(conn: AsyncConnection[Any]) -> None:
    await conn.execute("SET TIME ZONE 'UTC'")
    await conn.execute(page_store.PAGE_SESSION_SQL)
    set_json_loads(orjson.loads, conn)


class PostgresPages:
    """Pages through the raw driver: an async pool on the loop the lifespan started it on (no thread hop, no
    GIL hand-offs), and a blocking pool used from a worker thread on any other loop (apps served without a
    lifespan, e.g. `secustream up` or test clients). Both open on first use, so idle apps hold nothing."""

    def __init__(self, conninfo: str, max_size: int) -> None:
        self._conninfo, self._max_size = conninfo, max_size
        self._pool = ConnectionPool(conninfo, min_size=0, max_size=max_size, open=False, configure=_configure,
                                    kwargs=PAGE_CONNECTION, name="secustream-api-pages")
        self._async: tuple[asyncio.AbstractEventLoop, AsyncConnectionPool[Any]] | None = None
        # The newest event time seen on an unfiltered first page: the anchor of the newest-days-first window
        # (``page_store.window_start``). Only a hint: stale or missing costs a second statement, never a wrong page.
        self.newest: datetime | None = None

    async def start(self) -> None:
        pool = AsyncConnectionPool(self._conninfo, min_size=0, max_size=self._max_size, open=False,
                                   configure=_configure_async, kwargs=PAGE_CONNECTION,
                                   name="secustream-api-pages-async")
        await pool.open()
        self._async = (asyncio.get_running_loop(), pool)

    async def stop(self) -> None:
        if self._async is not None:
            _loop, pool = self._async
            self._async = None
            await pool.close()

    async def page(self, claims: TokenClaims, role: Role, f: page_store.EventFilters, limit: int,
                   cursor: str | None) -> bytes:
        lower = page_store.window_start(f, cursor, self.newest)
        rows = await self._page_rows(claims, role, *page_store.page_sql(f, limit, cursor, lower))
        if lower is not None and len(rows) <= limit:  # the window was short: the page may go on before it
            rows = await self._page_rows(claims, role, *page_store.page_sql(f, limit, cursor))
        if rows and not cursor and f.empty:
            self.newest = rows[0][0]
        return page_json(rows, limit)

    async def alert_page(self, claims: TokenClaims, role: Role, f: alerts.AlertFilters, limit: int,
                         cursor: str | None) -> bytes:
        sql, params = user_store.with_account(*alerts.alert_page_sql(f, limit, cursor), claims.user_id,
                                              alerts.PAGE_ORDER)
        rows = _account_rows(await self._fetch(sql, params), claims, role)
        return orjson.dumps(alerts.alert_page(rows, limit), option=orjson.OPT_UTC_Z)

    async def _page_rows(self, claims: TokenClaims, role: Role, sql: str,
                         params: dict[str, Any]) -> list[tuple[Any, ...]]:
        """An events page with the caller's account check in the same statement (``users.with_account``)."""
        sql, params = user_store.with_account(sql, params, claims.user_id, page_store.PAGE_ORDER)
        return _account_rows(await self._fetch(sql, params), claims, role)

    async def _fetch(self, sql: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        """One statement (SQL built from literals only) on a pooled connection: the async pool on the loop that
        started it, else the blocking pool from a worker thread."""
        if self._async is None or self._async[0] is not asyncio.get_running_loop():
            return await run_in_threadpool(self._fetch_blocking, sql, params)
        async with self._async[1].connection() as conn:
            return await (await conn.execute(sql, params)).fetchall()  # type: ignore[arg-type]

    def _fetch_blocking(self, sql: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        self._pool.open()  # idempotent
        with self._pool.connection() as conn:
            return conn.execute(sql, params).fetchall()  # type: ignore[arg-type]

    def close(self) -> None:
        self._pool.close()


def event_out(row: dict[str, Any]) -> EventOut:
    event, verdict = page_store.split_verdict(row)
    return EventOut(**event, event_id=event["id"],
                    verdict=VerdictOut.model_validate(verdict) if verdict is not None else None)


class SqlAlchemyPages:
    """Any SQLAlchemy database (SQLite under `secustream up`): the portable Core query and the pydantic models."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    async def page(self, claims: TokenClaims, role: Role, f: page_store.EventFilters, limit: int,
                   cursor: str | None) -> bytes:
        return await run_in_threadpool(self._page_blocking, claims, role, f, limit, cursor)

    async def start(self) -> None:
        """Nothing to start: the engine's pool is used from worker threads."""

    async def stop(self) -> None:
        """Nothing to stop."""

    async def alert_page(self, claims: TokenClaims, role: Role, f: alerts.AlertFilters, limit: int,
                         cursor: str | None) -> bytes:
        return await run_in_threadpool(self._alert_page_blocking, claims, role, f, limit, cursor)

    def _alert_page_blocking(self, claims: TokenClaims, role: Role, f: alerts.AlertFilters, limit: int,
                             cursor: str | None) -> bytes:
        with self._engine.begin() as conn:
            check_role(active(user_store.get_user(conn, claims.user_id), claims), role)
            rows = alerts.alert_page_rows(conn, f, limit, cursor)
        return orjson.dumps(alerts.alert_page(rows, limit), option=orjson.OPT_UTC_Z)

    def _page_blocking(self, claims: TokenClaims, role: Role, f: page_store.EventFilters, limit: int,
                       cursor: str | None) -> bytes:
        with self._engine.begin() as conn:
            check_role(active(user_store.get_user(conn, claims.user_id), claims), role)
            page = page_store.list_events(conn, f, limit, cursor)
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
