"""Rule overrides carry a level, and rule ids are wide enough for Sigma rules

Why: an admin can now change a rule's level (not only switch it off) through ``PUT /rules/{id}``, and
running analyzers apply it; Sigma rule ids (``sigma:<name|uuid|title-slug>``) are longer than the 64
characters native ids get. Downgrade drops the level and narrows the ids again (overrides and
suppressions of ids longer than 64 characters are deleted first: they cannot be represented).

Revision ID: 0005
Revises: 0007
Create Date: 2026-12-04 19:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0007"
branch_labels = None
depends_on = None

WIDE, NARROW = 255, 64


def upgrade() -> None:
    with op.batch_alter_table("rule_overrides") as batch:
        batch.alter_column("rule_id", type_=sa.String(WIDE), existing_type=sa.String(NARROW), existing_nullable=False)
        batch.add_column(sa.Column("level", sa.String(16), nullable=True))
    with op.batch_alter_table("rule_suppressions") as batch:
        batch.alter_column("rule_id", type_=sa.String(WIDE), existing_type=sa.String(NARROW), existing_nullable=False)


def downgrade() -> None:
    for table in ("rule_overrides", "rule_suppressions"):
        op.execute(sa.text(f"DELETE FROM {table} WHERE length(rule_id) > {NARROW}"))
    with op.batch_alter_table("rule_suppressions") as batch:
        batch.alter_column("rule_id", type_=sa.String(NARROW), existing_type=sa.String(WIDE), existing_nullable=False)
    with op.batch_alter_table("rule_overrides") as batch:
        batch.drop_column("level")
        batch.alter_column("rule_id", type_=sa.String(NARROW), existing_type=sa.String(WIDE), existing_nullable=False)
