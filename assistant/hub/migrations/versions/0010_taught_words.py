"""taught words: a person's examples of yes, no, next, help and repeat travel with them

Revision ID: 0010_taught_words
Revises: 0009_person_settings
Create Date: 2026-12-06 20:00:00

``hub_word_consent`` (every device's word-consent decisions, by their one id: a union, the
latest by time in force), ``hub_word_sets`` (when the person's words last changed, and where:
the latest change wins) and ``hub_word_examples`` (the examples of that change still covered
by consent; their audio in ``<home>/words/``). Sent to every device that holds the person.
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_taught_words"
down_revision = "0009_person_settings"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "hub_word_consent",
        sa.Column("uid", sa.String(length=32), primary_key=True),
        sa.Column("person_id", sa.String(length=36), nullable=False),
        sa.Column("allowed", sa.Boolean(), nullable=False),
        sa.Column("withdrawal", sa.Boolean(), nullable=False),
        sa.Column("at", sa.String(length=40), nullable=False),
        sa.Column("method", sa.String(length=40), nullable=False),
        sa.Column("witnessed_by", sa.String(length=200), nullable=True),
        sa.Column("device_id", sa.String(length=36), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_hub_word_consent_person_id", "hub_word_consent", ["person_id"])
    op.create_table(
        "hub_word_sets",
        sa.Column("person_id", sa.String(length=36), primary_key=True),
        sa.Column("changed_at", sa.String(length=40), nullable=False),
        sa.Column("device_id", sa.String(length=36), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "hub_word_examples",
        sa.Column("person_id", sa.String(length=36), primary_key=True),
        sa.Column("sha256", sa.String(length=64), primary_key=True),
        sa.Column("word", sa.String(length=10), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("kept_at", sa.String(length=40), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("hub_word_examples")
    op.drop_table("hub_word_sets")
    op.drop_index("ix_hub_word_consent_person_id", table_name="hub_word_consent")
    op.drop_table("hub_word_consent")
