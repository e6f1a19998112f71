"""Newest days first: a page looks one day back from its anchor, and asks again over the whole range when that
window comes back short. Whatever the anchor hint (missing, right, stale, in the future, too old), every page
is byte for byte the page of the portable reader, over events spread across weeks with gaps and bursts."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import orjson
import pytest

from secustream.api.pages import PostgresPages, SqlAlchemyPages
from secustream.api.schemas import Role
from secustream.storage import pages as page_store
from secustream.storage.repository import AnalyzedEvent, VerdictRepository
from tests.api.conftest import T0, Api, seed_item


def spread() -> list[AnalyzedEvent]:
    """Sparse days (one event every 7 h over 3 weeks), a burst of 40 in one minute, a gap of 5 days, a late day."""
    items = [seed_item(i, ts=T0 + timedelta(hours=7 * i)) for i in range(72)]
    items += [seed_item(100 + i, ts=T0 + timedelta(days=10, seconds=i)) for i in range(40)]
    items += [seed_item(200 + i, ts=T0 + timedelta(days=26, minutes=i)) for i in range(6)]
    return items


@pytest.fixture(scope="module")
def data(api: Api) -> list[AnalyzedEvent]:
    items = spread()
    VerdictRepository(api.engine).store(items)
    return items


@pytest.fixture(scope="module")
def readers(api: Api, data: list[AnalyzedEvent]) -> Iterator[tuple[SqlAlchemyPages, PostgresPages]]:
    raw = PostgresPages(api.engine.url.set(drivername="postgresql").render_as_string(hide_password=False), 2)
    try:
        yield SqlAlchemyPages(api.engine), raw
    finally:
        raw.close()


NEWEST = T0 + timedelta(days=26, minutes=5)
HINTS = {"none": None, "right": NEWEST, "stale": NEWEST - timedelta(days=5), "future": datetime(2099, 1, 1, tzinfo=UTC),
         "too old": T0 - timedelta(days=30)}
QUERIES = {
    "no filter": page_store.EventFilters(),
    "high": page_store.EventFilters(risk_levels=["high"]),
    "high+critical, llm+model": page_store.EventFilters(risk_levels=["high", "critical"], tiers=["llm", "model"]),
    "until day 11": page_store.EventFilters(until=T0 + timedelta(days=11)),
    "since day 9": page_store.EventFilters(since=T0 + timedelta(days=9)),
    "one source IP": page_store.EventFilters(source_ip="10.0.1.3"),
    "text": page_store.EventFilters(q="spraying"),
}


@pytest.mark.parametrize("hint", list(HINTS), ids=list(HINTS))
@pytest.mark.parametrize("query", list(QUERIES), ids=list(QUERIES))
@pytest.mark.parametrize("limit", [3, 17])
def test_windowed_pages_equal_the_whole_range(api: Api, readers: tuple[SqlAlchemyPages, PostgresPages],
                                              hint: str, query: str, limit: int) -> None:
    portable, raw = readers
    claims = api.app.state.ctx.verified.claims(api.token("viewer"))
    f = QUERIES[query]
    cursor, pages = None, 0
    while True:
        raw.newest = HINTS[hint]
        want = asyncio.run(portable.page(claims, Role.VIEWER, f, limit, cursor))
        got = asyncio.run(raw.page(claims, Role.VIEWER, f, limit, cursor))
        assert got == want, f"page {pages} differs"
        pages += 1
        cursor = orjson.loads(want)["next_cursor"]
        if cursor is None:
            break
        assert pages < 200


def test_an_unfiltered_first_page_teaches_the_newest_event(api: Api, readers: tuple[SqlAlchemyPages, PostgresPages],
                                                           data: list[AnalyzedEvent]) -> None:
    _portable, raw = readers
    raw.newest = None
    claims = api.app.state.ctx.verified.claims(api.token("viewer"))
    asyncio.run(raw.page(claims, Role.VIEWER, page_store.EventFilters(risk_levels=["low"]), 5, None))
    assert raw.newest is None, "a filtered page's first row is not the newest event"
    asyncio.run(raw.page(claims, Role.VIEWER, page_store.EventFilters(), 5, None))
    assert raw.newest == max(i.event.timestamp for i in data)


def test_a_full_window_is_one_statement_and_a_short_one_two(
        api: Api, readers: tuple[SqlAlchemyPages, PostgresPages], monkeypatch: pytest.MonkeyPatch) -> None:
    _portable, raw = readers
    claims = api.app.state.ctx.verified.claims(api.token("viewer"))
    statements: list[str] = []
    fetch = raw._fetch_blocking
    monkeypatch.setattr(raw, "_fetch_blocking", lambda *a: statements.append(a[0]) or fetch(*a))
    raw.newest = NEWEST
    asyncio.run(raw.page(claims, Role.VIEWER, page_store.EventFilters(), 5, None))  # 6 events on the last day
    assert len(statements) == 1 and "e.timestamp >= %(since)s" in statements[0]
    statements.clear()
    asyncio.run(raw.page(claims, Role.VIEWER, page_store.EventFilters(), 10, None))  # more than the last day
    assert len(statements) == 2 and "%(since)s" not in statements[1]


def test_window_start() -> None:
    now = datetime(2026, 12, 5, tzinfo=UTC)
    day = page_store.PAGE_WINDOW
    f = page_store.EventFilters()
    assert page_store.window_start(f, None, None, now) is None, "nothing to anchor on: the whole range"
    assert page_store.window_start(f, None, now - timedelta(days=3), now) == now - timedelta(days=3) - day
    assert page_store.window_start(f, None, now + timedelta(days=300), now) == now - day, "never past now"
    cursor = page_store.encode_cursor(now - timedelta(days=9), __import__("uuid").uuid4())
    assert page_store.window_start(f, cursor, now, now) == now - timedelta(days=9) - day
    until = page_store.EventFilters(until=now - timedelta(days=2))
    assert page_store.window_start(until, None, now, now) == now - timedelta(days=2) - day
    assert page_store.window_start(page_store.EventFilters(since=now - timedelta(days=40)), None, now, now) is None


def test_the_served_newest_page_teaches_the_newest_event(api: Api, data: list[AnalyzedEvent]) -> None:
    """Through the route (lists from the query string, not the dataclass defaults) as well."""
    pages = api.app.state.ctx.pages
    assert isinstance(pages, PostgresPages)
    pages.newest = None
    assert api.client.get("/api/v1/events?limit=3", headers=api.headers("viewer")).status_code == 200
    assert pages.newest == max(i.event.timestamp for i in data)
