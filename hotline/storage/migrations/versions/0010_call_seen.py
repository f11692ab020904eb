"""calls.seen_ms, calls.seen_by: a missed call stays in view until a person saw it

The console keeps an incoming call that nobody answered (missed, or rung out
without the caller's word) on the board and in the attention bar until an
operator marks it seen; these record who and when.

Revision ID: 0010
Revises: 0009
Create Date: 2027-01-10 03:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("calls") as batch:
        batch.add_column(
            sa.Column(
                "seen_ms", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
            )
        )
        batch.add_column(sa.Column("seen_by", sa.String(128), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("calls") as batch:
        batch.drop_column("seen_by")
        batch.drop_column("seen_ms")
