"""Retention: drop the day partitions (events, verdicts) and the rows (alerts, incidents) older than their limit.

Why archive first, inside the drop's transaction: nothing may be deleted unarchived. Each expiring day is
locked against writers (SHARE), counted, handed row by row to the ``PartitionArchiver`` and dropped only
when the receipt names that table and day with exactly that many rows; an archive that raises, or a receipt
that disagrees, rolls the day back and stops that table (older days go first, so nothing newer goes before).
Alerts and incidents stay unpartitioned (a few rows per thousand events; analysts page and update them by
last activity, not by day) and expire by row deletion, per day of their last activity.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import Connection, Engine, text

from secustream.archival import ArchiveError, ArchiveReceipt, PartitionArchiver
from secustream.storage.day_rows import DAY_COLUMN, day_rows
from secustream.storage.partitions import PARTITION_KEYS, day_bounds, day_start, is_partitioned, partitions

ROW_TABLES = ("alerts", "incidents")  # unpartitioned: deleted by day of last activity (DAY_COLUMN)


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    """Days kept per table (RETENTION_*_DAYS); today counts as one of them."""

    events: int = 30
    verdicts: int = 90
    alerts: int = 365
    incidents: int = 365

    def days(self, table: str) -> int:
        return int(getattr(self, table))


def cutoff(today: date, keep_days: int) -> date:
    """The oldest day kept: ``keep_days`` days ending today."""
    return today - timedelta(days=keep_days - 1)


def expired(days: list[date], today: date, keep_days: int) -> list[date]:
    """Days older than the cutoff, oldest first."""
    first_kept = cutoff(today, keep_days)
    return sorted(d for d in days if d < first_kept)


@dataclass
class DayOutcome:
    table: str
    day: date
    rows: int
    dropped: bool = False
    location: str | None = None
    error: str | None = None


@dataclass
class RetentionReport:
    dry_run: bool
    outcomes: list[DayOutcome] = field(default_factory=list)

    @property
    def failed(self) -> list[DayOutcome]:
        return [o for o in self.outcomes if o.error is not None]

    def rows_dropped(self, table: str) -> int:
        return sum(o.rows for o in self.outcomes if o.table == table and o.dropped)

    def lines(self) -> list[str]:
        verb = "would drop" if self.dry_run else "dropped"
        out = []
        for o in self.outcomes:
            if o.error is not None:
                out.append(f"{o.table} {o.day}: KEPT, not dropped: {o.error}")
            else:
                where = f" (archived to {o.location})" if o.location else ""
                out.append(f"{o.table} {o.day}: {verb if (o.dropped or self.dry_run) else 'kept'} {o.rows} rows{where}")
        return out or ["nothing has expired"]


def _check(receipt: ArchiveReceipt, table: str, day: date, rows: int) -> None:
    if (receipt.table, receipt.day, receipt.rows) != (table, day, rows):
        raise ArchiveError(f"archive receipt says {receipt.table} {receipt.day} {receipt.rows} rows, "
                           f"expected {table} {day} {rows}: not dropping")


def _archive(conn: Connection, archiver: PartitionArchiver | None, table: str, day: date, rows: int) -> str | None:
    """The day's rows (day_rows: the shape archive write uses too) to the archiver; its receipt must agree."""
    if archiver is None:
        return None
    receipt = archiver.archive(table, day, day_rows(conn, table, day))
    _check(receipt, table, day, rows)
    return receipt.location


def _partition_day(engine: Engine, archiver: PartitionArchiver | None, table: str, day: date, name: str,
                   dry_run: bool) -> DayOutcome:
    with engine.begin() as conn:
        conn.execute(text("SET LOCAL lock_timeout = '30s'"))
        if not dry_run:
            conn.execute(text(f"LOCK TABLE {name} IN SHARE MODE"))  # no row arrives between count and drop
        rows = int(conn.execute(text(f"SELECT count(*) FROM {name}")).scalar() or 0)
        outcome = DayOutcome(table, day, rows)
        if dry_run:
            return outcome
        outcome.location = _archive(conn, archiver, table, day, rows)
        conn.execute(text(f"DROP TABLE {name}"))
        outcome.dropped = True
        return outcome


def _row_day(engine: Engine, archiver: PartitionArchiver | None, table: str, day: date, dry_run: bool) -> DayOutcome:
    column = DAY_COLUMN[table]
    where = f"{column} >= :lo AND {column} < :hi"
    params = day_bounds(day)
    with engine.begin() as conn:
        ids = list(conn.execute(text(f"SELECT id FROM {table} WHERE {where} FOR UPDATE"), params).scalars())
        outcome = DayOutcome(table, day, len(ids))
        if dry_run or not ids:
            return outcome
        outcome.location = _archive(conn, archiver, table, day, len(ids))
        conn.execute(text(f"DELETE FROM {table} WHERE {where}"), params)
        outcome.dropped = True
        return outcome


def _row_days(conn: Connection, table: str, before: date) -> list[date]:
    column = DAY_COLUMN[table]
    return list(conn.execute(text(f"SELECT DISTINCT (date_trunc('day', {column} AT TIME ZONE 'UTC'))::date AS d "
                                  f"FROM {table} WHERE {column} < :before ORDER BY d"),
                             {"before": day_start(before)}).scalars())


def run(engine: Engine, policy: RetentionPolicy, archiver: PartitionArchiver | None, today: date,
        dry_run: bool = False) -> RetentionReport:
    """Expire every table by ``policy``; ``archiver`` None means the operator accepted loss (``--no-archive``)."""
    report = RetentionReport(dry_run)
    for table in (*PARTITION_KEYS, *ROW_TABLES):
        keep = policy.days(table)
        with engine.connect() as conn:
            if table in PARTITION_KEYS:
                if not is_partitioned(conn, table):
                    continue
                names = partitions(conn, table)
                days = expired(list(names), today, keep)
            else:
                names, days = {}, _row_days(conn, table, cutoff(today, keep))
        for day in days:
            try:
                if table in PARTITION_KEYS:
                    outcome = _partition_day(engine, archiver, table, day, names[day], dry_run)
                else:
                    outcome = _row_day(engine, archiver, table, day, dry_run)
            except Exception as exc:  # archive failure, receipt mismatch, lock timeout: keep the day
                report.outcomes.append(DayOutcome(table, day, 0, error=f"{type(exc).__name__}: {exc}"))
                break
            report.outcomes.append(outcome)
    return report
