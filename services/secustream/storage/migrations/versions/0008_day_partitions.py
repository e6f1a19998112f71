"""events and verdicts become day partitions (PostgreSQL); SQLite keeps plain tables

Why: the two tables grow forever; dropping a day partition is how retention stays cheap (no DELETE, no
vacuum debt), and a day's pages and indexes stay small. A partitioned table's unique indexes must hold
the partition key, so the keys become (events.id, timestamp) and (verdicts.event_id, event_timestamp):
a redelivered event carries the same time, so it still adds no row (docs/storage.md). No foreign key can
point at a partitioned table's id alone, and retention must be free to drop a day, so the keys from
verdicts, feedback and rule_suppressions to events are dropped (they keep the id); the trigger that filled
verdicts.event_timestamp goes too (a BEFORE trigger may not set the partition key; the writer sets it).

In place, batch by batch: each table is renamed aside, the partitioned one created with a partition per day
that holds rows plus the days ahead, the rows copied one day per statement with a progress line, then the
old table dropped and the indexes built on the partitions. Downgrade copies back the same way (foreign keys
come back NOT VALID: rows whose event retention dropped stay).

Revision ID: 0008
Revises: 0005
Create Date: 2026-12-04 22:40:00
"""

from __future__ import annotations

import sys
import time
from datetime import UTC, date, datetime, timedelta

from alembic import op
from sqlalchemy import Connection, text

from secustream.storage.partitions import (
    PARTITION_KEYS,
    bounds_sql,
    children,
    day_bounds,
    default_name,
    partition_name,
)

revision = "0008"
down_revision = "0005"
branch_labels = None
depends_on = None

DAYS_AHEAD = 7  # `secustream partitions ensure` keeps this up afterwards
MAINTENANCE_WORK_MEM = "256MB"  # this transaction only

_EVENT_INDEXES = {
    "ix_events_timestamp": '("timestamp")',
    "ix_events_source_ip": "(source_ip)",
    "ix_events_timestamp_id": '("timestamp", id)',
    "ix_events_source_ip_ts": '(source_ip, "timestamp", id)',
    "ix_events_source_user_ts": '(source_user, "timestamp", id)',
    "ix_events_source_host_ts": '(source_host, "timestamp", id)',
    "ix_events_destination_host_ts": '(destination_host, "timestamp", id)',
}
_VERDICT_INDEXES = {
    "ix_verdicts_risk_level": "(risk_level)",
    "ix_verdicts_analyzed_at": "(analyzed_at)",
    "ix_verdicts_event_ts": "(event_timestamp, event_id)",
    # the other verdict filter columns ride in the leaf (migration 0004): two-filter pages stay index-only
    "ix_verdicts_risk_ts": "(risk_level, event_timestamp, event_id) INCLUDE (tier, threat_type)",
    "ix_verdicts_tier_ts": "(tier, event_timestamp, event_id) INCLUDE (risk_level, threat_type)",
    "ix_verdicts_threat_ts": "(threat_type, event_timestamp, event_id) INCLUDE (risk_level, tier)",
    "ix_verdicts_analysis_trgm": "USING gin (analysis gin_trgm_ops)",
}
_KEYS = {  # partitioned: primary key, unique; plain (downgrade): the same of migrations 0001-0007
    "events": ('PRIMARY KEY (id, "timestamp")', None),
    "verdicts": ("PRIMARY KEY (id, event_timestamp)", "CONSTRAINT uq_verdicts_event_id_ts UNIQUE "
                                                      "(event_id, event_timestamp)"),
}
_PLAIN_KEYS = {"events": ("PRIMARY KEY (id)", None),
               "verdicts": ("PRIMARY KEY (id)", "CONSTRAINT verdicts_event_id_key UNIQUE (event_id)")}
_FOREIGN_KEYS = (  # (table, constraint, definition) restored by downgrade
    ("verdicts", "verdicts_event_id_fkey", "FOREIGN KEY (event_id) REFERENCES events(id) ON DELETE CASCADE"),
    ("feedback", "feedback_event_id_fkey", "FOREIGN KEY (event_id) REFERENCES events(id) ON DELETE CASCADE"),
    ("rule_suppressions", "rule_suppressions_source_event_id_fkey",
     "FOREIGN KEY (source_event_id) REFERENCES events(id) ON DELETE SET NULL"),
)
def say(line: str) -> None:
    """Progress on stdout (alembic's own log lines go to stderr): a long migration shows it is moving."""
    print(f"0008: {line}", flush=True)
    sys.stdout.flush()


def _days_with_rows(conn: Connection, table: str, key: str) -> dict[date, int]:
    rows = conn.execute(text(f"SELECT (date_trunc('day', \"{key}\" AT TIME ZONE 'UTC'))::date, count(*) "
                             f"FROM {table} GROUP BY 1 ORDER BY 1"))
    return {d: int(n) for d, n in rows}


def _copy_by_day(conn: Connection, source: str, target: str, key: str, days: dict[date, int]) -> None:
    total, done, started = sum(days.values()), 0, time.monotonic()
    for day, n in days.items():
        conn.execute(text(f'INSERT INTO {target} SELECT * FROM {source} WHERE "{key}" >= :lo AND "{key}" < :hi'),
                     day_bounds(day))
        done += n
        rate = done / max(time.monotonic() - started, 1e-6)
        say(f"{target}: {day} {n} rows, {done}/{total} ({100 * done / max(total, 1):.0f} %, {rate:,.0f} rows/s)")


def _partition(conn: Connection, table: str) -> None:
    key = PARTITION_KEYS[table]
    legacy = f"{table}_unpartitioned"
    op.execute(f"ALTER TABLE {table} RENAME TO {legacy}")
    op.execute(f"CREATE TABLE {table} (LIKE {legacy} INCLUDING DEFAULTS) PARTITION BY RANGE (\"{key}\")")
    op.execute(f'ALTER TABLE {table} ALTER COLUMN "{key}" SET NOT NULL')
    days = _days_with_rows(conn, legacy, key)
    today = datetime.now(UTC).date()
    wanted = sorted(set(days) | {today + timedelta(days=i) for i in range(-1, DAYS_AHEAD + 1)})
    for day in wanted:
        op.execute(f"CREATE TABLE {partition_name(table, day)} PARTITION OF {table} {bounds_sql(day)}")
    op.execute(f"CREATE TABLE {default_name(table)} PARTITION OF {table} DEFAULT")
    say(f"{table}: {len(wanted)} day partitions, copying {sum(days.values())} rows day by day")
    _copy_by_day(conn, legacy, table, key, days)
    if table == "verdicts":
        op.execute("ALTER SEQUENCE verdicts_id_seq OWNED BY NONE")
    op.execute(f"DROP TABLE {legacy}")
    if table == "verdicts":
        op.execute("ALTER SEQUENCE verdicts_id_seq OWNED BY verdicts.id")
    _add_keys(table, _KEYS[table])


def _add_keys(table: str, keys: tuple[str, str | None]) -> None:
    started = time.monotonic()
    for constraint in keys:
        if constraint:
            op.execute(f"ALTER TABLE {table} ADD {constraint}")
    for name, columns in (_EVENT_INDEXES if table == "events" else _VERDICT_INDEXES).items():
        op.execute(f"CREATE INDEX {name} ON {table} {columns}")
    say(f"{table}: keys and indexes built in {time.monotonic() - started:.1f} s")


def upgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name != "postgresql":
        say("SQLite keeps plain tables (secustream up): nothing to partition")
        return
    op.execute(f"SET LOCAL maintenance_work_mem = '{MAINTENANCE_WORK_MEM}'")  # the index builds at the end
    for table, name, _definition in _FOREIGN_KEYS:
        op.execute(f"ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {name}")
    # the trigger goes; its function (migration 0003a) stays for the downgrade and 0003a's own downgrade
    op.execute("DROP TRIGGER IF EXISTS trg_verdicts_event_ts ON verdicts")
    # the partition key may not be NULL: fill any gap from the event (the trigger's job until now)
    op.execute("UPDATE verdicts v SET event_timestamp = e.timestamp FROM events e "
               "WHERE e.id = v.event_id AND v.event_timestamp IS NULL")
    op.execute("UPDATE verdicts SET event_timestamp = analyzed_at WHERE event_timestamp IS NULL")
    for table in PARTITION_KEYS:
        _partition(conn, table)


def _unpartition(conn: Connection, table: str) -> None:
    parted = f"{table}_partitioned"
    op.execute(f"ALTER TABLE {table} RENAME TO {parted}")
    op.execute(f"CREATE TABLE {table} (LIKE {parted} INCLUDING DEFAULTS)")
    if table == "verdicts":
        op.execute("ALTER TABLE verdicts ALTER COLUMN event_timestamp DROP NOT NULL")
    names = children(conn, parted)
    total, started = 0, time.monotonic()
    for name in names:
        n = conn.execute(text(f"INSERT INTO {table} SELECT * FROM {name}")).rowcount
        total += n
        say(f"{table}: {name} {n} rows, {total} copied ({total / max(time.monotonic() - started, 1e-6):,.0f} "
            "rows/s)")
    if table == "verdicts":
        op.execute("ALTER SEQUENCE verdicts_id_seq OWNED BY NONE")
    op.execute(f"DROP TABLE {parted}")  # drops its partitions
    if table == "verdicts":
        op.execute("ALTER SEQUENCE verdicts_id_seq OWNED BY verdicts.id")
    _add_keys(table, _PLAIN_KEYS[table])


def downgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name != "postgresql":
        say("SQLite keeps plain tables (secustream up): nothing to undo")
        return
    op.execute(f"SET LOCAL maintenance_work_mem = '{MAINTENANCE_WORK_MEM}'")
    for table in PARTITION_KEYS:
        _unpartition(conn, table)
    op.execute("CREATE TRIGGER trg_verdicts_event_ts BEFORE INSERT ON verdicts "
               "FOR EACH ROW EXECUTE FUNCTION secustream_verdict_event_ts()")
    for table, name, definition in _FOREIGN_KEYS:
        op.execute(f"ALTER TABLE {table} ADD CONSTRAINT {name} {definition} NOT VALID")
