"""people: link settings for human receipts and approvals; drafts; calls

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 11:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _int() -> sa.types.TypeEngine[int]:
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("links") as batch:
        batch.add_column(
            sa.Column("share_displayed", sa.Boolean(), nullable=False, server_default=sa.true())
        )
        batch.add_column(
            sa.Column(
                "replies_need_approval", sa.Boolean(), nullable=False, server_default=sa.true()
            )
        )
    op.create_table(
        "drafts",
        sa.Column("id", _int(), autoincrement=True, nullable=False),
        sa.Column("link_id", sa.String(length=26), nullable=False),
        sa.Column("author", sa.String(length=64), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("lang", sa.String(length=16), nullable=False),
        sa.Column("ref", sa.String(length=26), nullable=True),
        sa.Column("state", sa.String(length=24), nullable=False),
        sa.Column("created_ms", _int(), nullable=False),
        sa.Column("updated_ms", _int(), nullable=False),
        sa.Column("submitted_ms", _int(), nullable=True),
        sa.Column("decided_by", sa.String(length=64), nullable=True),
        sa.Column("decided_ms", _int(), nullable=True),
        sa.Column("decision_note", sa.Text(), nullable=True),
        sa.Column("sent_message_id", sa.String(length=26), nullable=True),
        sa.ForeignKeyConstraint(["link_id"], ["links.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_drafts_link_id", "drafts", ["link_id"])
    op.create_table(
        "calls",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("link_id", sa.String(length=26), nullable=False),
        sa.Column("direction", sa.String(length=3), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("topic", sa.Text(), nullable=True),
        sa.Column("requested_by", sa.String(length=128), nullable=False),
        sa.Column("requested_ms", _int(), nullable=False),
        sa.Column("ring_timeout_ms", _int(), nullable=False),
        sa.Column("answered_by", sa.String(length=128), nullable=True),
        sa.Column("answered_ms", _int(), nullable=True),
        sa.Column("decline_reason", sa.String(length=64), nullable=True),
        sa.Column("ended_by", sa.String(length=128), nullable=True),
        sa.Column("ended_ms", _int(), nullable=True),
        sa.ForeignKeyConstraint(["link_id"], ["links.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_calls_link_id", "calls", ["link_id"])
    op.create_index("ix_messages_link_created", "messages", ["link_id", "created_ms", "seq"])


def downgrade() -> None:
    op.drop_index("ix_messages_link_created", "messages")
    op.drop_index("ix_calls_link_id", "calls")
    op.drop_table("calls")
    op.drop_index("ix_drafts_link_id", "drafts")
    op.drop_table("drafts")
    with op.batch_alter_table("links") as batch:
        batch.drop_column("replies_need_approval")
        batch.drop_column("share_displayed")
