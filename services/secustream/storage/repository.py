"""Batched, idempotent writes of events + verdicts, and the reads the API needs.

Insert-or-ignore on the unique event id gives exactly-once rows under at-least-once delivery. On PostgreSQL
the key is (id, event time), the day partitions' key (migration 0008): a redelivered event carries the same
time, so the same key refuses it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from psycopg import errors as pg_errors
from psycopg.types.json import set_json_dumps
from sqlalchemy import Engine, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from secustream.events import SecurityEvent, encode_event
from secustream.storage.tables import Event, EventLabel, utcnow
from secustream.storage.tables import Verdict as VerdictRow
from secustream.verdict import Verdict


@dataclass(frozen=True, slots=True)
class AnalyzedEvent:
    event: SecurityEvent
    verdict: Verdict
    produced_at: datetime | None = None
    document: dict[str, Any] | None = None  # the analyzer's ``model_dump(mode="json", exclude_none=True)``


def event_json(item: AnalyzedEvent) -> bytes:
    """The payload column's JSON, as the bytes COPY sends. From the document the analyzer already dumped, orjson writes
    it in ~5 µs against ~14 µs for pydantic's serialiser on a real Windows event (5.5 KB; the same bytes on all 16,200
    events of ``bench/sigma_corpus.py``); pydantic writes it (``encode_event``) where there is no document or orjson
    refuses one (an int beyond 64 bits). Bytes, not text: decoding ~6 KB to a str that the COPY then encodes again
    cost ~8 µs an event on real Windows events (``_copy_rows``)."""
    if item.document is not None:
        try:
            return orjson.dumps(item.document)
        except TypeError:  # orjson.JSONEncodeError
            pass
    return encode_event(item.event)


def _insert_ignore(engine: Engine, table):  # type: ignore[no-untyped-def]
    dialect = sqlite if engine.dialect.name == "sqlite" else postgresql
    return dialect.insert(table)


def event_row(item: AnalyzedEvent) -> dict[str, object]:
    e = item.event
    return {
        "id": e.event_id,
        "timestamp": e.timestamp,
        "event_type": e.event_type.value,
        "action": e.action,
        "outcome": e.outcome.value,
        "source_ip": e.source.ip,
        "source_user": e.source.user,
        "source_host": e.source.host,
        "destination_ip": e.destination.ip,
        "destination_port": e.destination.port,
        "destination_host": e.destination.host,
        "product": e.product,
        "payload": item.document if item.document is not None else e.model_dump(mode="json", exclude_none=True),
        "produced_at": item.produced_at,
    }


def verdict_row(verdict: Verdict) -> dict[str, object]:
    row = verdict.model_dump()
    row["risk_level"] = verdict.risk_level.value
    return row


_EVENT_COLS = ("id", "timestamp", "event_type", "action", "outcome", "source_ip", "source_user", "source_host",
               "destination_ip", "destination_port", "destination_host", "product", "payload", "produced_at",
               "stored_at")
_VERDICT_COLS = ("event_id", "risk_level", "risk_score", "threat_type", "confidence", "tier", "reason", "rule_ids",
                 "mitre_ids", "recommended_actions", "analysis", "analyzer_version", "latency_ms", "analyzed_at",
                 "event_timestamp")
_TEMP_TABLES = (
    "CREATE TEMP TABLE IF NOT EXISTS _in_events (LIKE events) ON COMMIT DELETE ROWS;"
    "CREATE TEMP TABLE IF NOT EXISTS _in_verdicts (LIKE verdicts INCLUDING DEFAULTS) ON COMMIT DELETE ROWS;"
)


def _event_copy_row(item: AnalyzedEvent) -> tuple[object, ...]:
    e = item.event
    return (e.event_id, e.timestamp, e.event_type.value, e.action, e.outcome.value, e.source.ip, e.source.user,
            e.source.host, e.destination.ip, e.destination.port, e.destination.host, e.product,
            event_json(item), item.produced_at, utcnow())


def _json_text(value: object) -> bytes:
    return orjson.dumps(value)


def _verdict_copy_row(item: AnalyzedEvent) -> tuple[object, ...]:
    """The event time is copied onto the verdict here, so the API's keyset indexes need no trigger lookup."""
    v = item.verdict
    return (v.event_id, v.risk_level.value, v.risk_score, v.threat_type, v.confidence, v.tier, v.reason,
            _json_text(v.rule_ids), _json_text(v.mitre_ids), _json_text(v.recommended_actions), v.analysis,
            v.analyzer_version, v.latency_ms, v.analyzed_at, item.event.timestamp)


_COLUMN_TYPES = "SELECT attname, atttypid FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0 " \
                "AND NOT attisdropped"


def column_types(cur, table: str, columns: Sequence[str]) -> tuple[int, ...]:  # type: ignore[no-untyped-def]
    """The type oids of ``columns`` as the database defines them (the migrations are the schema's one home)."""
    cur.execute(_COLUMN_TYPES, (table,))
    oids = dict(cur.fetchall())
    return tuple(oids[column] for column in columns)


def _as_is(text: bytes) -> bytes:
    return text


def _copy_rows(cur, table: str, columns: Sequence[str], types: Sequence[int], rows) -> None:  # type: ignore[no-untyped-def]
    """COPY in PostgreSQL's binary format. Why binary: a real Windows event's payload is ~5.5 KB of JSON full of
    backslashes (Windows paths), which the text format escapes on the client and unescapes on the server; binary
    sends the bytes as they are (``bench/pipeline.py --real``: client CPU per event row ~20 → ~8 µs, server wall
    ~115 → ~92 µs). JSON columns arrive as their bytes already written (``event_json``, ``_json_text``)."""
    set_json_dumps(_as_is, cur)
    with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN (FORMAT BINARY)") as copy:
        copy.set_types(types)
        for row in rows:
            copy.write_row(row)


def _merge_copy(cur, items: Sequence[AnalyzedEvent], types: dict[str, tuple[int, ...]]  # type: ignore[no-untyped-def]
                ) -> set[object]:
    """Insert-or-ignore through session temp tables (``LIKE`` the real ones: the same column types); returns the
    ids that were new."""
    cur.execute(_TEMP_TABLES)
    _copy_rows(cur, "_in_events", _EVENT_COLS, types["events"], (_event_copy_row(i) for i in items))
    cur.execute(f"INSERT INTO events ({', '.join(_EVENT_COLS)}) SELECT {', '.join(_EVENT_COLS)} "
                "FROM _in_events ON CONFLICT (id, \"timestamp\") DO NOTHING RETURNING id")
    new_ids = {row[0] for row in cur.fetchall()}
    if new_ids:
        _copy_rows(cur, "_in_verdicts", _VERDICT_COLS, types["verdicts"],
                   (_verdict_copy_row(i) for i in items if i.event.event_id in new_ids))
        cur.execute(f"INSERT INTO verdicts ({', '.join(_VERDICT_COLS)}) SELECT {', '.join(_VERDICT_COLS)} "
                    "FROM _in_verdicts ON CONFLICT (event_id, event_timestamp) DO NOTHING")
    return new_ids


class VerdictRepository:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._types: dict[str, tuple[int, ...]] = {}  # COPY column type oids by table, read once

    def _copy_types(self, cur) -> dict[str, tuple[int, ...]]:  # type: ignore[no-untyped-def]
        if not self._types:
            self._types = {"events": column_types(cur, "events", _EVENT_COLS),
                           "verdicts": column_types(cur, "verdicts", _VERDICT_COLS)}
        return self._types

    def store(self, items: Sequence[AnalyzedEvent]) -> int:
        """Insert events and verdicts in one transaction; returns how many events were new."""
        if not items:
            return 0
        if self.engine.dialect.name == "postgresql":
            return self._store_copy(items)
        events_stmt = _insert_ignore(self.engine, Event.__table__).on_conflict_do_nothing(index_elements=["id"])
        verdicts_stmt = _insert_ignore(self.engine, VerdictRow.__table__).on_conflict_do_nothing(
            index_elements=["event_id"]
        )
        with self.engine.begin() as conn:
            result = conn.execute(events_stmt.returning(Event.__table__.c.id), [event_row(i) for i in items])
            new_ids = {row[0] for row in result}
            rows = [verdict_row(i.verdict) | {"event_timestamp": i.event.timestamp}
                    for i in items if i.event.event_id in new_ids]
            if rows:
                conn.execute(verdicts_stmt, rows)
        return len(new_ids)

    def _store_copy(self, items: Sequence[AnalyzedEvent]) -> int:
        """PostgreSQL fast path: COPY straight into the tables, one transaction per batch.

        A replayed batch (redelivery after a crash or rebalance) hits the unique event id; the
        transaction is then rolled back and the batch merged through temp tables with
        INSERT … ON CONFLICT DO NOTHING, so replays add no rows. The common, all-new case pays
        for one COPY per table and nothing else.
        """
        raw = self.engine.raw_connection()
        try:
            try:
                with raw.cursor() as cur:
                    types = self._copy_types(cur)
                    _copy_rows(cur, "events", _EVENT_COLS, types["events"], (_event_copy_row(i) for i in items))
                    _copy_rows(cur, "verdicts", _VERDICT_COLS, types["verdicts"],
                               (_verdict_copy_row(i) for i in items))
                raw.commit()
                return len(items)
            except pg_errors.UniqueViolation:
                raw.rollback()
            with raw.cursor() as cur:
                new_ids = _merge_copy(cur, items, self._copy_types(cur))
            raw.commit()
            return len(new_ids)
        except BaseException:
            raw.rollback()
            self._types = {}  # read again next time: a migration may have changed a column's type under us
            raise
        finally:
            raw.close()

    def ping(self) -> bool:
        """Does the database answer? (Tells an outage from a record the database refuses.)"""
        try:
            with self.engine.connect() as conn:
                conn.exec_driver_sql("SELECT 1")
            return True
        except Exception:
            return False

    def store_labels(self, labels: Sequence[tuple[object, str, str | None]]) -> None:
        if not labels:
            return
        stmt = _insert_ignore(self.engine, EventLabel.__table__).on_conflict_do_nothing(index_elements=["event_id"])
        with self.engine.begin() as conn:
            conn.execute(stmt, [{"event_id": e, "label": lab, "campaign_id": c} for e, lab, c in labels])

    def count_events(self) -> int:
        with Session(self.engine) as session:
            return int(session.scalar(select(func.count()).select_from(Event)) or 0)

    def count_verdicts(self) -> int:
        with Session(self.engine) as session:
            return int(session.scalar(select(func.count()).select_from(VerdictRow)) or 0)
