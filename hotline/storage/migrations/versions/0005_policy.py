"""signed link policies, channels, escalation and link tests (filled in by the policy work)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25 11:00:00.000000
"""

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
