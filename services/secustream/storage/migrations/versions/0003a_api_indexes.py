"""API read path: keyset indexes, verdicts.event_timestamp, trigram search over the analysis

Why: the events list is ordered newest first by event time and filtered mostly on verdict columns
(risk level, tier, threat type). Copying the event time onto the verdict row (filled by a trigger, so
the pipeline's writes need no change) lets one composite index per filter return the first page in
order without joining and sorting every match.

Revision ID: 0003a
Revises: 0002
Create Date: 2026-11-25 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003a"
down_revision = "0002"
branch_labels = None
depends_on = None

_EVENT_INDEXES = {
    "ix_events_timestamp_id": ["timestamp", "id"],
    "ix_events_source_ip_ts": ["source_ip", "timestamp", "id"],
    "ix_events_source_user_ts": ["source_user", "timestamp", "id"],
    "ix_events_source_host_ts": ["source_host", "timestamp", "id"],
    "ix_events_destination_host_ts": ["destination_host", "timestamp", "id"],
}
_VERDICT_INDEXES = {
    "ix_verdicts_event_ts": ["event_timestamp", "event_id"],
    "ix_verdicts_risk_ts": ["risk_level", "event_timestamp", "event_id"],
    "ix_verdicts_tier_ts": ["tier", "event_timestamp", "event_id"],
    "ix_verdicts_threat_ts": ["threat_type", "event_timestamp", "event_id"],
}

_PG_FUNCTION = """
CREATE OR REPLACE FUNCTION secustream_verdict_event_ts() RETURNS trigger AS $$
BEGIN
    IF NEW.event_timestamp IS NULL THEN
        SELECT e.timestamp INTO NEW.event_timestamp FROM events e WHERE e.id = NEW.event_id;
    END IF;
    RETURN NEW;
END
$$ LANGUAGE plpgsql
"""
_PG_TRIGGER = """
CREATE TRIGGER trg_verdicts_event_ts BEFORE INSERT ON verdicts
FOR EACH ROW EXECUTE FUNCTION secustream_verdict_event_ts()
"""
_SQLITE_TRIGGER = """
CREATE TRIGGER trg_verdicts_event_ts AFTER INSERT ON verdicts
WHEN NEW.event_timestamp IS NULL
BEGIN
    UPDATE verdicts SET event_timestamp = (SELECT timestamp FROM events WHERE id = NEW.event_id)
    WHERE id = NEW.id;
END
"""


def upgrade() -> None:
    pg = op.get_bind().dialect.name == "postgresql"
    with op.batch_alter_table("verdicts") as batch_op:
        batch_op.add_column(sa.Column("event_timestamp", sa.DateTime(timezone=True), nullable=True))
    op.execute(
        "UPDATE verdicts SET event_timestamp = (SELECT e.timestamp FROM events e WHERE e.id = verdicts.event_id)"
    )
    if pg:
        op.execute(_PG_FUNCTION)
        op.execute(_PG_TRIGGER)
        # Trusted extension since PostgreSQL 13: the database owner may create it.
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.create_index("ix_verdicts_analysis_trgm", "verdicts", ["analysis"], postgresql_using="gin",
                        postgresql_ops={"analysis": "gin_trgm_ops"})
    else:
        op.execute(_SQLITE_TRIGGER)
    for name, cols in _EVENT_INDEXES.items():
        op.create_index(name, "events", cols)
    for name, cols in _VERDICT_INDEXES.items():
        op.create_index(name, "verdicts", cols)


def downgrade() -> None:
    pg = op.get_bind().dialect.name == "postgresql"
    for name in _VERDICT_INDEXES:
        op.drop_index(name, table_name="verdicts")
    for name in _EVENT_INDEXES:
        op.drop_index(name, table_name="events")
    op.execute("DROP TRIGGER IF EXISTS trg_verdicts_event_ts" + (" ON verdicts" if pg else ""))
    if pg:
        op.drop_index("ix_verdicts_analysis_trgm", table_name="verdicts")
        op.execute("DROP FUNCTION IF EXISTS secustream_verdict_event_ts()")
    with op.batch_alter_table("verdicts") as batch_op:
        batch_op.drop_column("event_timestamp")
