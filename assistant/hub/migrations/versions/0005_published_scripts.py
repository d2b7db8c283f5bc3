"""published scripts: versioned, signed publications of session scripts to devices

Revision ID: 0005_published_scripts
Revises: 0004_hub_people_and_jobs
Create Date: 2026-12-03 16:00:00

``script_publications``: one row per version of a script published to some devices or all
(name, version, sha256 of the YAML, the YAML, targets, who and when, the hub's signature over
the canonical document, and when it was withdrawn). Rows are never changed except to mark a
withdrawal.
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_published_scripts"
down_revision = "0004_hub_people_and_jobs"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "script_publications",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("yaml_text", sa.Text(), nullable=False),
        sa.Column("targets", sa.Text(), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_by", sa.String(length=200), nullable=False),
        sa.Column("signature", sa.String(length=128), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("withdrawn_by", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_script_publications_name", "script_publications", ["name"])
    op.create_index(
        "ux_script_publications", "script_publications", ["name", "version"], unique=True
    )


def downgrade() -> None:
    op.drop_index("ux_script_publications", table_name="script_publications")
    op.drop_index("ix_script_publications_name", table_name="script_publications")
    op.drop_table("script_publications")
