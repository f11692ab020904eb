"""indexes for the receipt ladder, the console's attention bar and the watch

Without them, marking messages transmitted or delivered read every message of the
link on each push and each receipt: time per delivery grew with the link's history.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 23:00:00.000000
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_messages_untransmitted",
        "messages",
        ["link_id", "direction", "transmitted_ms", "seq"],
    )
    op.create_index(
        "ix_messages_undelivered", "messages", ["link_id", "direction", "delivered_ms", "seq"]
    )
    op.create_index("ix_messages_direction_received", "messages", ["direction", "received_ms"])
    op.create_index("ix_link_tests_state_deadline", "link_tests", ["state", "deadline_ms"])


def downgrade() -> None:
    op.drop_index("ix_link_tests_state_deadline", table_name="link_tests")
    op.drop_index("ix_messages_direction_received", table_name="messages")
    op.drop_index("ix_messages_undelivered", table_name="messages")
    op.drop_index("ix_messages_untransmitted", table_name="messages")
