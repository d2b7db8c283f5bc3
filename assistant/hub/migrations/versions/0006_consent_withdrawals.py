"""consent withdrawals: a withdrawal made anywhere reaches the hub and every device

Revision ID: 0006_consent_withdrawals
Revises: 0005_published_scripts
Create Date: 2026-12-04 09:30:00

``consent_withdrawals``: one row per withdrawal (its id is the same on every device), the hub
person, the device it came from (none: recorded on the hub), when, how, who witnessed it, and
how many clips the hub deleted. ``deleted_blobs``: clips deleted because of one, so a device
that offers such a clip again is told it is here and nothing is stored.
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_consent_withdrawals"
down_revision = "0005_published_scripts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "consent_withdrawals",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("person_id", sa.String(length=36), nullable=False),
        sa.Column("device_id", sa.String(length=36), nullable=True),
        sa.Column("at", sa.String(length=40), nullable=False),
        sa.Column("method", sa.String(length=40), nullable=False),
        sa.Column("witnessed_by", sa.String(length=200), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("clips_deleted", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_consent_withdrawals_person_id", "consent_withdrawals", ["person_id"])
    op.create_table(
        "deleted_blobs",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("person_id", sa.String(length=36), nullable=False),
        sa.Column("withdrawal_id", sa.String(length=36), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("sha256"),
    )


def downgrade() -> None:
    op.drop_table("deleted_blobs")
    op.drop_index("ix_consent_withdrawals_person_id", table_name="consent_withdrawals")
    op.drop_table("consent_withdrawals")
