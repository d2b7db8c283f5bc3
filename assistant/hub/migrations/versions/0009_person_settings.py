"""person settings: a person's own settings follow them to every device

Revision ID: 0009_person_settings
Revises: 0008_job_sharers
Create Date: 2026-12-06 04:00:00

``people.settings_json`` (their own speaking rate, waits, end pause, buttons only, scale,
supporter, as JSON) and ``people.settings_at`` (ISO 8601, when they were last changed on a
device): the hub keeps the latest change it has received in any session, and sends it with the
person to every device that holds them. NULL: never changed.
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_person_settings"
down_revision = "0008_job_sharers"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("people") as batch:
        batch.add_column(sa.Column("settings_json", sa.Text(), nullable=True))
        batch.add_column(sa.Column("settings_at", sa.String(length=40), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("people") as batch:
        batch.drop_column("settings_at")
        batch.drop_column("settings_json")
