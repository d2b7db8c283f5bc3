"""job sharers: the hub people a shared job is shared with

Revision ID: 0008_job_sharers
Revises: 0007_job_event_dates
Create Date: 2026-12-06 03:40:00

``hub_job_sharers`` (job id, hub person id): the people a job is shared with (``shared_with``),
in hub ids, so a device that holds a co-owner receives the job and asks them about it at their
check-in. Filled from the jobs already held: each device-local id is mapped through that
device's ``person_links``; an id with no link is left out (it was never a person the hub knew).
"""

import json

import sqlalchemy as sa
from alembic import op

revision = "0008_job_sharers"
down_revision = "0007_job_event_dates"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "hub_job_sharers",
        sa.Column("job_id", sa.String(length=36), primary_key=True),
        sa.Column("person_id", sa.String(length=36), primary_key=True),
    )
    op.create_index("ix_hub_job_sharers_person_id", "hub_job_sharers", ["person_id"])
    bind = op.get_bind()
    jobs = bind.execute(sa.text("SELECT id, device_id, data FROM hub_jobs")).fetchall()
    for job_id, device_id, data in jobs:
        try:
            shared = json.loads(data).get("shared_with") or []
        except (ValueError, AttributeError):
            continue
        people: set[str] = set()
        for local in shared:
            row = bind.execute(
                sa.text(
                    "SELECT person_id FROM person_links WHERE device_id = :d AND local_id = :l"
                ),
                {"d": device_id, "l": str(local)},
            ).fetchone()
            if row is not None:
                people.add(row[0])
        for person in sorted(people):
            bind.execute(
                sa.text("INSERT INTO hub_job_sharers (job_id, person_id) VALUES (:j, :p)"),
                {"j": job_id, "p": person},
            )


def downgrade() -> None:
    op.drop_index("ix_hub_job_sharers_person_id", table_name="hub_job_sharers")
    op.drop_table("hub_job_sharers")
