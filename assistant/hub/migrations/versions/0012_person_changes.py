"""person changes: a lost concurrent change of settings or taught words is shown to staff

Revision ID: 0012_person_changes
Revises: 0011_goals
Create Date: 2026-12-06 21:00:00

``hub_person_changes``: each change of a person's own settings or taught words a device sent,
whether it was put in force or lost to a later change made elsewhere (a conflict, the loser
kept). The changes in force now are noted as seen, so they are never taken for conflicts.
"""

import sqlalchemy as sa
from alembic import op

revision = "0012_person_changes"
down_revision = "0011_goals"
branch_labels = None
depends_on = None


def upgrade() -> None:
    table = op.create_table(
        "hub_person_changes",
        sa.Column("person_id", sa.String(length=36), primary_key=True),
        sa.Column("what", sa.String(length=20), primary_key=True),
        sa.Column("changed_at", sa.String(length=40), primary_key=True),
        sa.Column("device_id", sa.String(length=36), nullable=True),
        sa.Column("in_force", sa.Boolean(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    )
    bind = op.get_bind()
    from datetime import UTC, datetime

    now = datetime.now(UTC)
    rows = [
        {"person_id": p, "what": "settings", "changed_at": at}
        for p, at in bind.execute(
            sa.text("SELECT id, settings_at FROM people WHERE settings_at IS NOT NULL")
        )
    ] + [
        {"person_id": p, "what": "words", "changed_at": at}
        for p, at in bind.execute(sa.text("SELECT person_id, changed_at FROM hub_word_sets"))
    ]
    if rows:
        op.bulk_insert(
            table,
            [
                r | {"device_id": None, "in_force": True, "detail": "", "received_at": now}
                for r in rows
            ],
        )


def downgrade() -> None:
    op.drop_table("hub_person_changes")
