"""job event dates: a status update can carry a new date for the job

Revision ID: 0007_job_event_dates
Revises: 0006_consent_withdrawals
Create Date: 2026-12-04 21:00:00

``hub_job_events.new_when`` and ``new_due``: the new when (words) and due date (ISO) agreed with
that update (a check-in's "not yet", then "When will you try again?"). NULL: no new date. The
latest event with a date gives the job its when and due, on the hub and on every device.
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_job_event_dates"
down_revision = "0006_consent_withdrawals"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("hub_job_events") as batch:
        batch.add_column(sa.Column("new_when", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("new_due", sa.String(length=10), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("hub_job_events") as batch:
        batch.drop_column("new_due")
        batch.drop_column("new_when")
