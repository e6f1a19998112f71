"""Day partitions of ``events`` and ``verdicts`` on PostgreSQL: names, creation ahead of time, the default partition.

Why a maintenance command and not the writer: creating a partition takes locks and scans the default
partition; the pipeline's COPY must never wait on that. A row whose day has no partition yet (a late or
future-dated event) lands in ``<table>_default``; ``ensure`` reports it and moves the rows of days it
creates ("on demand") out of the default into their own partition, so retention can drop them by day.
SQLite (`secustream up`) keeps plain tables: every function here says so and does nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import Connection, Engine, text

# table -> its partition key (the event time; on verdicts the copy of it)
PARTITION_KEYS = {"events": "timestamp", "verdicts": "event_timestamp"}
SQLITE_MESSAGE = "SQLite keeps plain tables (secustream up): no partitions, nothing to do"
_NAME = re.compile(r"^(?P<table>\w+)_p(?P<day>\d{8})$")


def partition_name(table: str, day: date) -> str:
    return f"{table}_p{day:%Y%m%d}"


def default_name(table: str) -> str:
    return f"{table}_default"


def day_of(name: str, table: str) -> date | None:
    """The day a partition named by ``partition_name`` holds (None for any other name)."""
    m = _NAME.match(name)
    if m is None or m["table"] != table:
        return None
    return datetime.strptime(m["day"], "%Y%m%d").date()


def day_start(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def day_bounds(day: date) -> dict[str, datetime]:
    """``{"lo", "hi"}``: the half-open UTC range of one day, as query parameters (``col >= :lo AND col < :hi``)."""
    return {"lo": day_start(day), "hi": day_start(day + timedelta(days=1))}


def bounds_sql(day: date) -> str:
    """``FOR VALUES`` clause of one UTC day (literals: DDL takes no parameters)."""
    bounds = day_bounds(day)
    return f"FOR VALUES FROM ('{bounds['lo'].isoformat()}') TO ('{bounds['hi'].isoformat()}')"


def days_between(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def is_postgres(engine: Engine | Connection) -> bool:
    return engine.dialect.name == "postgresql"


def is_partitioned(conn: Connection, table: str) -> bool:
    kind = conn.execute(text("SELECT relkind FROM pg_class WHERE oid = to_regclass(:t)"), {"t": table}).scalar()
    return kind == "p"


def children(conn: Connection, table: str) -> list[str]:
    """Every partition of ``table`` by name, the default one included."""
    return sorted(conn.execute(text("SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                                    "WHERE i.inhparent = to_regclass(:t)"), {"t": table}).scalars())


def partitions(conn: Connection, table: str) -> dict[date, str]:
    """Day -> partition name, oldest first (the default partition is not listed)."""
    found = {day: name for name in children(conn, table) if (day := day_of(name, table)) is not None}
    return dict(sorted(found.items()))


def default_days(conn: Connection, table: str) -> dict[date, int]:
    """Rows waiting in the default partition, per UTC day of their event time."""
    key = PARTITION_KEYS[table]
    rows = conn.execute(text(f'SELECT (date_trunc(\'day\', "{key}" AT TIME ZONE \'UTC\'))::date AS d, count(*) '
                             f"FROM {default_name(table)} GROUP BY 1 ORDER BY 1"))
    return {d: int(n) for d, n in rows}


def create_day(conn: Connection, table: str, day: date) -> int:
    """Create the partition of ``day``, moving its rows out of the default partition first; returns rows moved.

    Built beside the table and attached (not ``CREATE … PARTITION OF``): attaching holds only a SHARE UPDATE
    EXCLUSIVE lock on the parent, so writers to other days carry on; the default partition is locked while
    its moved rows leave it and the attach checks it.
    """
    key, name, default = PARTITION_KEYS[table], partition_name(table, day), default_name(table)
    conn.execute(text("SET LOCAL lock_timeout = '10s'"))
    # the payload's lz4 (migration 0009) comes along: LIKE copies a column's compression only when asked
    conn.execute(text(f"CREATE TABLE {name} (LIKE {table} INCLUDING DEFAULTS INCLUDING CONSTRAINTS "
                      "INCLUDING COMPRESSION)"))
    moved = conn.execute(text(f'WITH m AS (DELETE FROM {default} WHERE "{key}" >= :lo AND "{key}" < :hi '
                              f"RETURNING *) INSERT INTO {name} SELECT * FROM m"), day_bounds(day)).rowcount
    conn.execute(text(f"ALTER TABLE {table} ATTACH PARTITION {name} {bounds_sql(day)}"))
    return int(moved or 0)


@dataclass
class TableState:
    """One partitioned table after maintenance: what was created, what waits in the default partition."""

    table: str
    partitions: int = 0
    oldest: date | None = None
    newest: date | None = None
    created: list[date] = field(default_factory=list)
    moved_rows: int = 0
    default_rows: int = 0
    default_days: dict[date, int] = field(default_factory=dict)


def wanted_days(today: date, days_ahead: int, days_back: int, in_default: Iterable[date]) -> list[date]:
    """Days that must have a partition: a window around today, and every day of a row in the default partition
    up to the window's end (later ones stay in the default, reported as future-dated)."""
    last = today + timedelta(days=days_ahead)
    window = days_between(today - timedelta(days=days_back), last)
    return sorted(set(window) | {d for d in in_default if d <= last})


def ensure(engine: Engine, today: date, days_ahead: int, days_back: int = 1) -> list[TableState]:
    """Create the partitions ``wanted_days`` names (one transaction per partition, so locks stay short)."""
    states = []
    for table in PARTITION_KEYS:
        with engine.begin() as conn:
            existing = partitions(conn, table)
            in_default = default_days(conn, table)
        state = TableState(table)
        for day in wanted_days(today, days_ahead, days_back, in_default):
            if day in existing:
                continue
            with engine.begin() as conn:
                state.moved_rows += create_day(conn, table, day)
            state.created.append(day)
        states.append(describe(engine, table, state))
    return states


def describe(engine: Engine, table: str, state: TableState | None = None) -> TableState:
    """Fill in the partition count, oldest/newest day and the default partition's rows."""
    state = state or TableState(table)
    with engine.connect() as conn:
        days = list(partitions(conn, table))
        state.default_days = default_days(conn, table)
    state.partitions = len(days)
    state.oldest, state.newest = (days[0], days[-1]) if days else (None, None)
    state.default_rows = sum(state.default_days.values())
    return state


def status(engine: Engine) -> list[TableState]:
    return [describe(engine, table) for table in PARTITION_KEYS]


def report_lines(states: Iterable[TableState]) -> list[str]:
    """Human lines for the command's output (one per table, plus the default partition when it holds rows)."""
    lines = []
    for s in states:
        created = f", created {len(s.created)} ({s.created[0]}..{s.created[-1]})" if s.created else ""
        moved = f", moved {s.moved_rows} rows out of the default partition" if s.moved_rows else ""
        lines.append(f"{s.table}: {s.partitions} day partitions {s.oldest}..{s.newest}{created}{moved}")
        if s.default_rows:
            days = ", ".join(f"{d}: {n}" for d, n in s.default_days.items())
            lines.append(f"{s.table}: {s.default_rows} rows in {default_name(s.table)} (no partition for "
                         f"their day: `partitions ensure` gives a past day one, and retention then expires it like "
                         f"any other; days beyond --days-ahead stay here): {days}")
    return lines
