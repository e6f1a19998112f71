"""The events list's user and host filters match in any case: indexes on lower(column)

Why: alerts and incidents keep their entities lower-cased (``workstation5.theshire.local``, ``system``) while
events keep the source's spelling (Windows logs ``WORKSTATION5.theshire.local`` and ``SYSTEM``), so an entity's
page found none of its events. The filters compare ``lower(column)`` (storage/pages.py); these indexes serve them
as the exact-case ones they replace did (newest first per entity). On the day-partitioned PostgreSQL table an
index made on the parent is made on every partition, and on each partition attached later. The builds hold
writes to ``events`` while they run (as migration 0008's do; the time grows with the table): on a large
database apply it with the analyzers scaled down or in a quiet hour.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 11:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_COLUMNS = {"source_user": "ix_events_source_user", "source_host": "ix_events_source_host",
            "destination_host": "ix_events_destination_host"}


def upgrade() -> None:
    for column, prefix in _COLUMNS.items():
        op.create_index(f"{prefix}_lower_ts", "events", [sa.text(f"lower({column})"), "timestamp", "id"])
        op.drop_index(f"{prefix}_ts", table_name="events")


def downgrade() -> None:
    for column, prefix in _COLUMNS.items():
        op.create_index(f"{prefix}_ts", "events", [column, "timestamp", "id"])
        op.drop_index(f"{prefix}_lower_ts", table_name="events")
