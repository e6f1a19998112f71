"""alerts and incidents: deduplicated alerts, the hits they counted, their entities, incidents, the triage
audit trail, webhook dead letters, and the suppressions' hit counters (docs/alerts.md)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 19:17:33.834853
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alert_audit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("alert_id", sa.Uuid(), nullable=True),
        sa.Column("incident_id", sa.Uuid(), nullable=True),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column(
            "changes", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("alert_audit", schema=None) as batch_op:
        batch_op.create_index("ix_alert_audit_alert", ["alert_id", "at"], unique=False)
        batch_op.create_index("ix_alert_audit_incident", ["incident_id", "at"], unique=False)

    op.create_table(
        "incidents",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("title", sa.String(length=256), nullable=False),
        sa.Column(
            "tactics", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column(
            "entities", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column("alert_count", sa.Integer(), nullable=False),
        sa.Column("hit_count", sa.Integer(), nullable=False),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "story", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=True
        ),
        sa.Column("story_source", sa.String(length=16), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.create_index("ix_incidents_last_seen", ["last_seen", "id"], unique=False)
        batch_op.create_index("ix_incidents_status_last_seen", ["status", "last_seen", "id"], unique=False)

    op.create_table(
        "notification_dead_letters",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("target", sa.String(length=512), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("subject_id", sa.String(length=64), nullable=False),
        sa.Column(
            "payload", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "alerts",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("detection", sa.String(length=128), nullable=False),
        sa.Column("title", sa.String(length=256), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("threat_type", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("resolution", sa.String(length=32), nullable=True),
        sa.Column("assignee", sa.String(length=64), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("entity_kind", sa.String(length=16), nullable=False),
        sa.Column("entity_value", sa.String(length=512), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("window_seconds", sa.Integer(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "mitre_ids", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column(
            "tactics", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column("incident_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["incident_id"], ["incidents.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.create_index("ix_alerts_detection_last_seen", ["detection", "last_seen", "id"], unique=False)
        batch_op.create_index("ix_alerts_entity_last_seen", ["entity_value", "last_seen", "id"], unique=False)
        batch_op.create_index("ix_alerts_incident", ["incident_id"], unique=False)
        batch_op.create_index(
            "ix_alerts_last_seen",
            ["last_seen", "id"],
            unique=False,
            postgresql_include=["status", "level", "detection"],
        )
        batch_op.create_index(
            "ix_alerts_status_last_seen",
            ["status", "last_seen", "id"],
            unique=False,
            postgresql_include=["level", "detection"],
        )

    op.create_table(
        "alert_entities",
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("value", sa.String(length=512), nullable=False),
        sa.Column("alert_id", sa.Uuid(), nullable=False),
        sa.Column("role", sa.String(length=8), nullable=False),
        sa.ForeignKeyConstraint(["alert_id"], ["alerts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("kind", "value", "alert_id", "role"),
    )
    with op.batch_alter_table("alert_entities", schema=None) as batch_op:
        batch_op.create_index("ix_alert_entities_alert", ["alert_id"], unique=False)

    op.create_table(
        "alert_hits",
        sa.Column("alert_id", sa.Uuid(), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("event_time", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["alert_id"], ["alerts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("alert_id", "event_id"),
    )
    with op.batch_alter_table("rule_suppressions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("hit_count", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("last_hit_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("rule_suppressions", schema=None) as batch_op:
        batch_op.drop_column("last_hit_at")
        batch_op.drop_column("hit_count")

    op.drop_table("alert_hits")
    with op.batch_alter_table("alert_entities", schema=None) as batch_op:
        batch_op.drop_index("ix_alert_entities_alert")

    op.drop_table("alert_entities")
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_index("ix_alerts_status_last_seen", postgresql_include=["level", "detection"])
        batch_op.drop_index("ix_alerts_last_seen", postgresql_include=["status", "level", "detection"])
        batch_op.drop_index("ix_alerts_incident")
        batch_op.drop_index("ix_alerts_entity_last_seen")
        batch_op.drop_index("ix_alerts_detection_last_seen")

    op.drop_table("alerts")
    op.drop_table("notification_dead_letters")
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.drop_index("ix_incidents_status_last_seen")
        batch_op.drop_index("ix_incidents_last_seen")

    op.drop_table("incidents")
    with op.batch_alter_table("alert_audit", schema=None) as batch_op:
        batch_op.drop_index("ix_alert_audit_incident")
        batch_op.drop_index("ix_alert_audit_alert")

    op.drop_table("alert_audit")
