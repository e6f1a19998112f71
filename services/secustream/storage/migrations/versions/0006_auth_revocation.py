"""Auth revocation, proposed suppressions and the security audit log

Why: tokens named only a username, so a password reset left them valid and a re-created account accepted
the old one's tokens. Tokens now carry the user id and ``users.token_version``; bumping the version refuses
every older token. An analyst's false positive becomes a *proposed* suppression (``status``) that is in
force only once an admin approves it. ``audit_log`` records lockouts, unlocks, revocations and approvals.

Revision ID: 0006
Revises: 0004
Create Date: 2026-12-04 19:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0006"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("token_version", sa.Integer(), nullable=False, server_default="0"))
    with op.batch_alter_table("rule_suppressions") as batch:
        batch.add_column(sa.Column("status", sa.String(length=16), nullable=False, server_default="approved"))
        batch.add_column(sa.Column("approved_by", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True))
        batch.create_foreign_key("fk_rule_suppressions_approved_by", "users", ["approved_by"], ["id"],
                                 ondelete="SET NULL")
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=True),
        sa.Column("action", sa.String(length=48), nullable=False),
        sa.Column("target", sa.String(length=128), nullable=True),
        sa.Column("detail", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
                  nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"])


def downgrade() -> None:
    op.drop_index("ix_audit_log_at", table_name="audit_log")
    op.drop_table("audit_log")
    with op.batch_alter_table("rule_suppressions") as batch:
        batch.drop_constraint("fk_rule_suppressions_approved_by", type_="foreignkey")
        batch.drop_column("approved_at")
        batch.drop_column("approved_by")
        batch.drop_column("status")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("token_version")
