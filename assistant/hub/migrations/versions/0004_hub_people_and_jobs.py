"""people of the charity with one identity, assignments to devices, jobs kept on the hub

Revision ID: 0004_hub_people_and_jobs
Revises: records_hold_own_jobs
Create Date: 2026-12-03 16:40:00

``person_links``: which hub person a device's local person id means (device, local id -> hub
person), with the name that device last used. ``person_devices``: the devices staff assigned a
person to. ``hub_jobs`` and ``hub_job_events``: the jobs received in sessions, keyed by the job's
id, and their append-only status history. ``people.consent_json``: the latest consent decision
received. Every person already here is linked to the device that first named them.
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_hub_people_and_jobs"
down_revision = "records_hold_own_jobs"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("people", sa.Column("consent_json", sa.Text(), nullable=True))
    op.create_table(
        "person_links",
        sa.Column("device_id", sa.String(length=36), nullable=False),
        sa.Column("local_id", sa.String(length=36), nullable=False),
        sa.Column("person_id", sa.String(length=36), nullable=False),
        sa.Column("local_name", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("device_id", "local_id"),
    )
    op.create_index("ix_person_links_person_id", "person_links", ["person_id"])
    op.create_table(
        "person_devices",
        sa.Column("person_id", sa.String(length=36), nullable=False),
        sa.Column("device_id", sa.String(length=36), nullable=False),
        sa.Column("assigned_by", sa.String(length=200), nullable=False),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("person_id", "device_id"),
    )
    op.create_index("ix_person_devices_device_id", "person_devices", ["device_id"])
    op.create_table(
        "hub_jobs",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("person_id", sa.String(length=36), nullable=False),
        sa.Column("device_id", sa.String(length=36), nullable=False),
        sa.Column("session_id", sa.String(length=36), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_hub_jobs_person_id", "hub_jobs", ["person_id"])
    op.create_table(
        "hub_job_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("job_id", sa.String(length=36), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("at", sa.String(length=40), nullable=False),
        sa.Column("help_needed", sa.String(length=40), nullable=True),
        sa.Column("note_answer", sa.String(length=36), nullable=True),
        sa.Column("session_id", sa.String(length=36), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ux_hub_job_events", "hub_job_events", ["job_id", "at", "status"], unique=True)
    people = sa.table(
        "people",
        sa.column("id", sa.String),
        sa.column("name", sa.String),
        sa.column("device_id", sa.String),
    )
    links = sa.table(
        "person_links",
        sa.column("device_id", sa.String),
        sa.column("local_id", sa.String),
        sa.column("person_id", sa.String),
        sa.column("local_name", sa.String),
    )
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(people.c.id, people.c.name, people.c.device_id).where(
            people.c.device_id.is_not(None)
        )
    ).all()
    for pid, name, device in rows:
        bind.execute(
            links.insert().values(device_id=device, local_id=pid, person_id=pid, local_name=name)
        )


def downgrade() -> None:
    op.drop_index("ux_hub_job_events", table_name="hub_job_events")
    op.drop_table("hub_job_events")
    op.drop_index("ix_hub_jobs_person_id", table_name="hub_jobs")
    op.drop_table("hub_jobs")
    op.drop_index("ix_person_devices_device_id", table_name="person_devices")
    op.drop_table("person_devices")
    op.drop_index("ix_person_links_person_id", table_name="person_links")
    op.drop_table("person_links")
    op.drop_column("people", "consent_json")
