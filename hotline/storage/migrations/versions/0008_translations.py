"""translations: machine drafts, verified renderings, and how the other side understood us

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-09 10:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def _int() -> sa.types.TypeEngine[int]:
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "translations",
        sa.Column("id", _int(), autoincrement=True, nullable=False),
        sa.Column("message_id", sa.String(length=26), nullable=False),
        sa.Column("link_id", sa.String(length=26), nullable=False),
        sa.Column("side", sa.String(length=8), nullable=False),
        sa.Column("target", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("provenance", sa.JSON(), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("arrived_ms", _int(), nullable=False),
        sa.Column("created_ms", _int(), nullable=False),
        sa.Column("updated_ms", _int(), nullable=False),
        sa.Column("verified_ms", _int(), nullable=True),
        sa.Column("verified_by", sa.String(length=200), nullable=True),
        sa.Column("entry_id", sa.String(length=26), nullable=True),
        sa.Column("disputed_ms", _int(), nullable=True),
        sa.Column("disputed_by", sa.String(length=200), nullable=True),
        sa.Column("dispute_note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["link_id"], ["links.id"]),
        sa.ForeignKeyConstraint(["message_id"], ["messages.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("message_id", "side", "target", name="uq_translations_message"),
    )
    op.create_index("ix_translations_queue", "translations", ["side", "state", "arrived_ms"])
    op.create_index("ix_translations_entry", "translations", ["entry_id"])


def downgrade() -> None:
    op.drop_index("ix_translations_entry", table_name="translations")
    op.drop_index("ix_translations_queue", table_name="translations")
    op.drop_table("translations")
