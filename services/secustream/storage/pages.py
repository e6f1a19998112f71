"""Read pages: the events list (keyset pages), one event, and stats over time buckets (SQLAlchemy Core).

Why Core and explicit shapes: the events list is the hot path (keyset pages over millions of rows); each
query is written so one composite index (migration 0003a) returns the page already ordered.
"""

from __future__ import annotations

import base64
import itertools
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    and_,
    cast,
    func,
    literal_column,
    or_,
    select,
    tuple_,
    union_all,
)
from sqlalchemy import Integer as SAInteger

from secustream.storage.tables import Event
from secustream.storage.tables import Verdict as VerdictRow

E = Event.__table__
V = VerdictRow.__table__

# More value combinations than this fall back to one IN query (still correct, maybe slower).
MAX_BRANCHES = 16


class CursorError(ValueError):
    """The pagination cursor is not one this API issued."""


def encode_cursor(ts: datetime, event_id: uuid.UUID) -> str:
    raw = f"{ts.isoformat()}|{event_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        ts_text, id_text = raw.split("|", 1)
        ts = datetime.fromisoformat(ts_text)
        if ts.tzinfo is None:
            ts = ts.replace(tzinfo=UTC)
        return ts, uuid.UUID(id_text)
    except (ValueError, UnicodeDecodeError):
        raise CursorError("invalid cursor: pass the next_cursor value of a previous page unchanged") from None


@dataclass(frozen=True)
class EventFilters:
    risk_levels: Sequence[str] = ()
    tiers: Sequence[str] = ()
    threat_types: Sequence[str] = ()
    since: datetime | None = None
    until: datetime | None = None
    source_ip: str | None = None
    user: str | None = None
    host: str | None = None
    q: str | None = None

    @property
    def on_verdict(self) -> bool:
        return bool(self.risk_levels or self.tiers or self.threat_types or self.q)

    @property
    def empty(self) -> bool:
        """No filter at all (whatever the sequences' types): the page is the newest events."""
        return not (self.on_verdict or self.source_ip or self.user or self.host or self.since is not None
                    or self.until is not None)


@dataclass
class EventPageRows:
    rows: list[dict[str, Any]]
    next_cursor: str | None


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _key_query(f: EventFilters, limit: int, cursor: tuple[datetime, uuid.UUID] | None,
               risk: str | None, tier: str | None, threat: str | None) -> Select[Any]:
    """(ts, id) of the page's events, newest first, for one combination of verdict filter values."""
    if f.on_verdict:
        ts, key = V.c.event_timestamp, V.c.event_id
        needs_event = bool(f.source_ip or f.user or f.host)
        source = V.join(E, and_(E.c.id == V.c.event_id, E.c.timestamp == V.c.event_timestamp)) if needs_event else V
    else:
        ts, key = E.c.timestamp, E.c.id
        source = E
    conds: list[ColumnElement[bool]] = []
    for column, one, many in ((V.c.risk_level, risk, f.risk_levels), (V.c.tier, tier, f.tiers),
                              (V.c.threat_type, threat, f.threat_types)):
        if one is not None:
            conds.append(column == one)
        elif many:
            conds.append(column.in_(list(many)))
    if f.q:
        conds.append(V.c.analysis.ilike(f"%{_like_escape(f.q)}%", escape="\\"))
    if f.source_ip:
        conds.append(E.c.source_ip == f.source_ip)
    if f.user:  # any case, like the entities (alerts keep them lower-cased): indexed on lower() (migration 0010)
        conds.append(func.lower(E.c.source_user) == f.user.lower())
    if f.host:
        host = f.host.lower()
        conds.append(or_(func.lower(E.c.source_host) == host, func.lower(E.c.destination_host) == host))
    if f.since is not None:
        conds.append(ts >= f.since)
    if f.until is not None:
        conds.append(ts < f.until)
    if cursor is not None:
        conds.append(tuple_(ts, key) < tuple_(*cursor))
    return (select(ts.label("ts"), key.label("id")).select_from(source).where(and_(True, *conds))
            .order_by(ts.desc(), key.desc()).limit(limit))


# A page lists events, not their documents: skipping the JSONB payload halves the rows' decode time.
LIST_EVENT_COLUMNS = tuple(c for c in E.c if c.name != "payload")


def _verdict_of_event() -> ColumnElement[bool]:
    """The verdict of an event: same id and same event time (the day partition of both)."""
    return and_(V.c.event_id == E.c.id, V.c.event_timestamp == E.c.timestamp)


def list_events(conn: Connection, f: EventFilters, limit: int, cursor: str | None = None) -> EventPageRows:
    """One keyset page, newest first (event time, then id); ``next_cursor`` is None on the last page."""
    position = decode_cursor(cursor) if cursor else None
    combos = list(itertools.product(f.risk_levels or [None], f.tiers or [None], f.threat_types or [None]))
    if f.on_verdict and 1 < len(combos) <= MAX_BRANCHES:
        # One ordered index range per value combination, merged: avoids sorting every match of an IN list.
        branches = [select(sq.c.ts, sq.c.id).select_from(sq) for sq in
                    (_key_query(f, limit + 1, position, r, t, x).subquery() for r, t, x in combos)]
        merged = union_all(*branches).subquery("k")
        keys = select(merged.c.ts, merged.c.id).order_by(merged.c.ts.desc(), merged.c.id.desc()).limit(limit + 1)
    else:
        keys = _key_query(f, limit + 1, position, None, None, None)
    k = keys.subquery("page")
    stmt = (
        select(k.c.ts.label("cursor_ts"), *LIST_EVENT_COLUMNS,
               *[c.label(f"v_{c.name}") for c in V.c if c.name not in ("event_id",)])
        .select_from(k.join(E, and_(E.c.id == k.c.id, E.c.timestamp == k.c.ts)).outerjoin(V, _verdict_of_event()))
        .order_by(k.c.ts.desc(), k.c.id.desc())
    )
    rows = [dict(r._mapping) for r in conn.execute(stmt)]
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        next_cursor = encode_cursor(_aware(last["cursor_ts"]), last["id"])
    return EventPageRows(rows, next_cursor)


# --------------------------------------------------------------------------- events list, raw PostgreSQL
# The same page as ``list_events``, as one hand-written statement for the raw driver (psycopg placeholders).
# Why: building and compiling the Core statement plus SQLAlchemy's row processing cost more Python CPU per
# page than PostgreSQL spends executing it; the API's hot path runs this and reads plain tuples.

PAGE_EVENT_FIELDS = ("event_id", "timestamp", "event_type", "action", "outcome", "source_ip", "source_user",
                     "source_host", "destination_ip", "destination_port", "destination_host", "product", "stored_at")
PAGE_VERDICT_FIELDS = ("risk_level", "risk_score", "threat_type", "confidence", "tier", "reason", "rule_ids",
                       "mitre_ids", "recommended_actions", "analysis", "analyzer_version", "latency_ms", "analyzed_at")
# Row layout: cursor ts, the event fields (id as text), the verdict id (NULL: not analysed yet), the verdict fields.
# Output names are unique (``users.with_account`` wraps the page and selects ``p.*``).
_PAGE_SELECT = ", ".join(["k.ts AS cursor_ts", "e.id::text AS event_key", *(f"e.{c}" for c in PAGE_EVENT_FIELDS[1:]),
                          "v.id AS verdict_id", *(f"v.{c}" for c in PAGE_VERDICT_FIELDS)])
# The page's keyset order by output names (the text of a uuid sorts as the uuid under the "C" collation).
PAGE_ORDER = 'cursor_ts DESC, event_key COLLATE "C" DESC'

_VERDICT_FILTERS = (("risk_level", "risk_levels"), ("tier", "tiers"), ("threat_type", "threat_types"))


def _pg_keys(f: EventFilters, branch: dict[str, str], has_cursor: bool, params: dict[str, Any]) -> str:
    """(ts, id) of one ordered index range, newest first; ``branch`` names the parameter of each pinned value."""
    if f.on_verdict:
        ts, key = "v.event_timestamp", "v.event_id"
        source = ("verdicts v JOIN events e ON e.id = v.event_id AND e.timestamp = v.event_timestamp"
                  if (f.source_ip or f.user or f.host) else "verdicts v")
    else:
        ts, key, source = "e.timestamp", "e.id", "events e"
    conds: list[str] = []
    for column, attr in _VERDICT_FILTERS:
        values = list(getattr(f, attr))
        if column in branch:
            conds.append(f"v.{column} = %({branch[column]})s")
        elif len(values) == 1:  # '=' keeps the index order; '= ANY' would not (PostgreSQL < 17)
            params[column] = values[0]
            conds.append(f"v.{column} = %({column})s")
        elif values:
            params[attr] = values
            conds.append(f"v.{column} = ANY(%({attr})s)")
    if f.q:
        params["q"] = f"%{_like_escape(f.q)}%"
        conds.append("v.analysis ILIKE %(q)s ESCAPE '\\'")
    if f.source_ip:
        params["source_ip"] = f.source_ip
        conds.append("e.source_ip = %(source_ip)s")
    if f.user:  # any case, as in ``_key_query``
        params["source_user"] = f.user.lower()
        conds.append("lower(e.source_user) = %(source_user)s")
    if f.host:
        params["host"] = f.host.lower()
        conds.append("(lower(e.source_host) = %(host)s OR lower(e.destination_host) = %(host)s)")
    for op, name in _TIME_BOUNDS:
        if name in params:
            conds.append(f"{ts} {op} %({name})s")
    if has_cursor:
        conds.append(f"({ts}, {key}) < (%(cursor_ts)s, %(cursor_id)s)")
    return (f"SELECT {ts} AS ts, {key} AS id FROM {source} WHERE {' AND '.join(conds) or 'TRUE'} "
            f"ORDER BY {ts} DESC, {key} DESC LIMIT {int(params['limit'])}")


# Session setting of the connections that serve pages. The page statements are written for generic plans (time
# bounds as parameters that prune day partitions before execution, LIMIT as a literal, probes that stay
# nested loops), and a generic plan skips planning across every partition on each call: at 20 M rows over 45
# day partitions, 1.0-1.3 ms per page against 2.2-3.6 ms when PostgreSQL's "auto" mode keeps re-planning
# (docs/storage.md). The page connections prepare a statement on its first run (api/pages.py, PAGE_CONNECTION).
PAGE_SESSION_SQL = "SET plan_cache_mode = force_generic_plan"

# Time bounds of a page: (operator, parameter), each applied to the key scan and, redundantly, to both joins.
_TIME_BOUNDS = ((">=", "since"), ("<", "until"), ("<=", "cursor_ts"))

# How far back from its anchor a page looks first (``window_start``).
PAGE_WINDOW = timedelta(days=1)


def window_start(f: EventFilters, cursor: str | None, newest: datetime | None,
                 now: datetime | None = None) -> datetime | None:
    """Where a page's first look starts: one ``PAGE_WINDOW`` before its anchor, or None (the whole range).

    Why: with a lower time bound as a parameter, PostgreSQL prunes the day partitions a page cannot reach
    before it starts executing (initial pruning), on the key scan and on both joins, so a page touches one or
    two days instead of every partition kept (docs/storage.md, "Newest days first"). The anchor is the
    cursor's time, else ``until``, else ``newest`` (the newest event time the caller saw; never later than
    ``now``). A filter with ``since`` is bounded already. A windowed page that comes back short is not
    complete: the caller asks again with no window (``page_sql(..., lower=None)``).
    """
    if f.since is not None:
        return None
    if cursor:
        anchor: datetime | None = decode_cursor(cursor)[0]
    elif f.until is not None:
        anchor = f.until
    elif newest is not None:
        anchor = min(newest, now or datetime.now(UTC))
    else:
        return None
    return anchor - PAGE_WINDOW


def page_sql(f: EventFilters, limit: int, cursor: str | None = None,
             lower: datetime | None = None) -> tuple[str, dict[str, Any]]:
    """Statement and parameters of one keyset page (``limit`` + 1 rows: the extra one says a next page exists).

    ``lower`` (from ``window_start``) bounds the page to events at or after it; with it, fewer than ``limit`` + 1
    rows do not mean the last page.
    """
    # The limit is written into the text, not bound: the page runs as a prepared statement with a generic plan,
    # which skips planning across every day partition (about 10 ms at 40 partitions); with a bound LIMIT that
    # generic plan would sort every match instead (docs/storage.md).
    params: dict[str, Any] = {"limit": limit + 1}
    if cursor:
        params["cursor_ts"], params["cursor_id"] = decode_cursor(cursor)
    since = f.since if f.since is not None else lower
    if since is not None:
        params["since"] = since
    if f.until is not None:
        params["until"] = f.until
    combos = list(itertools.product(f.risk_levels or [None], f.tiers or [None], f.threat_types or [None]))
    if f.on_verdict and 1 < len(combos) <= MAX_BRANCHES:
        # One ordered index range per value combination, merged: avoids sorting every match of an IN list.
        branches = []
        for i, combo in enumerate(combos):
            branch = {}
            for (column, _attr), value in zip(_VERDICT_FILTERS, combo, strict=True):
                if value is not None:
                    branch[column] = f"{column}_{i}"
                    params[branch[column]] = value
            branches.append(f"({_pg_keys(f, branch, bool(cursor), params)})")
        keys = f"SELECT ts, id FROM ({' UNION ALL '.join(branches)}) AS m ORDER BY ts DESC, id DESC LIMIT {limit + 1}"
    else:
        keys = _pg_keys(f, {}, bool(cursor), params)
    del params["limit"]
    # Each lookup is a nested-loop probe (LATERAL … LIMIT 1: a generic plan cannot turn it into a scan of every
    # event in the page's time range) keyed on the event time too, so it touches one day partition; the page's
    # time bounds, repeated in both probes, let PostgreSQL drop the other days before it starts.
    e_bounds = "".join(f" AND e.timestamp {op} %({name})s" for op, name in _TIME_BOUNDS if name in params)
    v_bounds = e_bounds.replace("e.timestamp", "v.event_timestamp")
    return (f"SELECT {_PAGE_SELECT} FROM ({keys}) AS k "
            f"CROSS JOIN LATERAL (SELECT * FROM events e WHERE e.id = k.id AND e.timestamp = k.ts{e_bounds} LIMIT 1) e "
            "LEFT JOIN LATERAL (SELECT * FROM verdicts v WHERE v.event_id = e.id AND v.event_timestamp = e.timestamp"
            f"{v_bounds} LIMIT 1) v ON TRUE ORDER BY k.ts DESC, k.id DESC"), params


def _aware(ts: datetime) -> datetime:
    return ts if ts.tzinfo is not None else ts.replace(tzinfo=UTC)


def split_verdict(row: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Separate a joined row into the event part and the verdict part (None when not analysed yet)."""
    verdict = {k[2:]: v for k, v in row.items() if k.startswith("v_")}
    event = {k: v for k, v in row.items() if not k.startswith("v_") and k != "cursor_ts"}
    return event, (verdict if verdict.get("id") is not None else None)


def get_event(conn: Connection, event_id: uuid.UUID) -> dict[str, Any] | None:
    stmt = (select(E, *[c.label(f"v_{c.name}") for c in V.c if c.name != "event_id"])
            .select_from(E.outerjoin(V, _verdict_of_event())).where(E.c.id == event_id))
    row = conn.execute(stmt).first()
    return dict(row._mapping) if row is not None else None


def event_exists(conn: Connection, event_id: uuid.UUID) -> bool:
    return conn.execute(select(E.c.id).where(E.c.id == event_id)).first() is not None


BUCKET_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}


def stats(conn: Connection, since: datetime, until: datetime, bucket: str) -> dict[str, Any]:
    """Counts by risk level, tier and threat type per time bucket (event time), plus totals."""
    width = BUCKET_SECONDS[bucket]
    ts = V.c.event_timestamp
    if conn.dialect.name == "postgresql":
        epoch = func.floor(func.extract("epoch", ts) / width) * width
    else:
        epoch = cast(func.strftime("%s", ts), SAInteger) / width * width
    epoch = cast(epoch, SAInteger).label("bucket")
    window = and_(ts >= since, ts < until)
    out: dict[str, Any] = {"buckets": {}, "totals": {}}
    for dim in ("risk_level", "tier", "threat_type"):
        col = V.c[dim]
        rows = conn.execute(select(epoch, col, func.count().label("n")).where(window)
                            .group_by(literal_column("bucket"), col)).all()
        totals: dict[str, int] = {}
        for b, value, n in rows:
            out["buckets"].setdefault(int(b), {"risk_level": {}, "tier": {}, "threat_type": {}})[dim][value] = n
            totals[value] = totals.get(value, 0) + n
        out["totals"][dim] = totals
    return out
