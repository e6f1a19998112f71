"""events.payload is compressed with lz4 instead of pglz (PostgreSQL built with lz4; SQLite: nothing to do)

Why: a real Windows event's payload is ~5 KB of JSON, above the TOAST threshold, so every stored event is
compressed. On the OTRF events pglz costs ~60 µs per event of the database's CPU, the largest single cost of
the store after JSONB parsing; lz4 writes the same rows at the same size in a fraction of it
(docs/storage.md, "Write path"). Only new values use lz4: existing rows keep pglz and stay readable (each
value records its method), so the migration rewrites nothing and is instant on a populated database.

The column's method is set on the parent and on every existing partition (ALTER on a partitioned table does
not reach the partitions that already exist); partitions made later by ``secustream partitions ensure`` copy
it (storage/partitions.py, ``LIKE … INCLUDING COMPRESSION``). A server built without lz4 keeps pglz.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 23:30:00
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import Connection, text

from secustream.storage.partitions import children

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

TABLE, COLUMN = "events", "payload"


def lz4_available(conn: Connection) -> bool:
    methods = conn.execute(text("SELECT enumvals FROM pg_settings WHERE name = 'default_toast_compression'")).scalar()
    return "lz4" in (methods or [])


def _set(conn: Connection, method: str) -> None:
    for table in (TABLE, *children(conn, TABLE)):
        op.execute(f"ALTER TABLE ONLY {table} ALTER COLUMN {COLUMN} SET COMPRESSION {method}")


def upgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name == "postgresql" and lz4_available(conn):
        _set(conn, "lz4")


def downgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name == "postgresql":
        _set(conn, "default")
