"""paths.avoid_until_ms: an escalation's "switch path" keeps traffic off a path

A path can answer heartbeats and still not take pushes; the escalation step
"switch_path" marks the active path to be avoided until this time.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 08:10:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("paths") as batch:
        batch.add_column(
            sa.Column(
                "avoid_until_ms",
                sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                nullable=True,
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("paths") as batch:
        batch.drop_column("avoid_until_ms")
