"""security: staff roles and server-side sessions, failed tries, device ownership

Revision ID: 0002_security
Revises: 0001
Create Date: 2026-12-03 12:00:00

* ``staff.role`` (admin, staff, read-only; admins keep ``is_admin`` too);
* ``staff_sessions``: a log-in is a row, so log-out and disabling end it at once;
* ``failed_tries``: the log-in and enrolment limits, kept across restarts;
* ``enrol_codes.replaces``: a code that re-keys one lost device id (and nothing else);
* ``people.device_id`` and ``blob_devices``: which device may write about a person or name a
  clip (filled in from what is already there).
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_security"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("staff") as batch:
        batch.add_column(
            sa.Column("role", sa.String(length=20), nullable=False, server_default="staff")
        )
    op.execute("UPDATE staff SET role = 'admin' WHERE is_admin")
    op.create_table(
        "staff_sessions",
        sa.Column("id_hash", sa.String(length=64), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("csrf", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["staff_id"], ["staff.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id_hash"),
    )
    op.create_index("ix_staff_sessions_staff_id", "staff_sessions", ["staff_id"])
    op.create_table(
        "failed_tries",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("account", sa.String(length=200), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_failed_tries_at", "failed_tries", ["at"])
    op.create_index("ix_failed_tries_kind_account", "failed_tries", ["kind", "account", "at"])
    op.create_index("ix_failed_tries_kind_address", "failed_tries", ["kind", "address", "at"])
    with op.batch_alter_table("enrol_codes") as batch:
        batch.add_column(sa.Column("replaces", sa.String(length=36), nullable=True))
    with op.batch_alter_table("people") as batch:
        batch.add_column(sa.Column("device_id", sa.String(length=36), nullable=True))
        batch.create_index("ix_people_device_id", ["device_id"])
    op.execute(
        "UPDATE people SET device_id = (SELECT s.device_id FROM sessions s "
        "JOIN session_people sp ON sp.session_id = s.id WHERE sp.person_id = people.id "
        "ORDER BY s.received_at LIMIT 1)"
    )
    op.create_table(
        "blob_devices",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("device_id", sa.String(length=36), nullable=False),
        sa.PrimaryKeyConstraint("sha256", "device_id"),
    )
    op.execute("INSERT INTO blob_devices (sha256, device_id) SELECT sha256, device_id FROM blobs")


def downgrade() -> None:
    op.drop_table("blob_devices")
    with op.batch_alter_table("people") as batch:
        batch.drop_index("ix_people_device_id")
        batch.drop_column("device_id")
    with op.batch_alter_table("enrol_codes") as batch:
        batch.drop_column("replaces")
    op.drop_table("failed_tries")
    op.drop_table("staff_sessions")
    with op.batch_alter_table("staff") as batch:
        batch.drop_column("role")
