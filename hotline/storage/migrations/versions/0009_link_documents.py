"""link_documents: the phrasebook and glossary versions proposed and agreed per link

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 07:30:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def _int() -> sa.types.TypeEngine[int]:
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "link_documents",
        sa.Column("id", _int(), autoincrement=True, nullable=False),
        sa.Column("link_id", sa.String(length=26), nullable=False),
        sa.Column("document", sa.String(length=16), nullable=False),
        sa.Column("version", _int(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("proposed_by", sa.String(length=64), nullable=False),
        sa.Column("proposal_entry", sa.String(length=26), nullable=False),
        sa.Column("proposer_signature", sa.LargeBinary(), nullable=False),
        sa.Column("proposed_ms", _int(), nullable=False),
        sa.Column("accepted_by", sa.String(length=64), nullable=True),
        sa.Column("acceptance_entry", sa.String(length=26), nullable=True),
        sa.Column("acceptor_signature", sa.LargeBinary(), nullable=True),
        sa.Column("in_force_ms", _int(), nullable=True),
        sa.Column("refusal", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["link_id"], ["links.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("link_id", "proposal_entry", name="uq_link_documents_entry"),
    )
    op.create_index(
        "ix_link_documents_link_document", "link_documents", ["link_id", "document", "version"]
    )


def downgrade() -> None:
    op.drop_index("ix_link_documents_link_document", "link_documents")
    op.drop_table("link_documents")
