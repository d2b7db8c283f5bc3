"""goals: a group's goal, and a person's own, follow their people to every device

Revision ID: 0011_goals
Revises: 0010_taught_words
Create Date: 2026-12-06 20:30:00

``hub_goals`` (each goal's latest copy by the start of its session, person ids in hub ids, and
the answer its idea was made from, so a staff correction reaches it) and ``hub_goal_people``
(whom it concerns). Filled as sessions arrive; sessions already held are read once here.
"""

import sqlalchemy as sa
from alembic import op

revision = "0011_goals"
down_revision = "0010_taught_words"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "hub_goals",
        sa.Column("id", sa.String(length=36), primary_key=True),
        sa.Column("person_id", sa.String(length=36), nullable=True),
        sa.Column("at", sa.String(length=40), nullable=False),
        sa.Column("session_id", sa.String(length=36), nullable=False),
        sa.Column("device_id", sa.String(length=36), nullable=False),
        sa.Column("answer_id", sa.String(length=36), nullable=True),
        sa.Column("data", sa.Text(), nullable=False),
    )
    op.create_table(
        "hub_goal_people",
        sa.Column("goal_id", sa.String(length=36), primary_key=True),
        sa.Column("person_id", sa.String(length=36), primary_key=True),
    )
    op.create_index("ix_hub_goal_people_person_id", "hub_goal_people", ["person_id"])
    bind = op.get_bind()
    from sqlalchemy.orm import Session

    from assistant.hub.goals import store_goals
    from assistant.records.model import SessionRecord

    s = Session(bind=bind)
    rows = bind.execute(
        sa.text("SELECT device_id, record_json FROM sessions ORDER BY started_at")
    ).fetchall()
    for device_id, record_json in rows:
        try:
            record = SessionRecord.model_validate_json(record_json)
        except ValueError:
            continue
        if record.goals:
            store_goals(s, record, device_id)
    s.flush()


def downgrade() -> None:
    op.drop_index("ix_hub_goal_people_person_id", table_name="hub_goal_people")
    op.drop_table("hub_goal_people")
    op.drop_table("hub_goals")
