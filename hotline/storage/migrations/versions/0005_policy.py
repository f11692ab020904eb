"""signed link policies, channels, escalation and link tests

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25 11:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def _int() -> sa.types.TypeEngine[int]:
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.add_column(
            sa.Column("channel", sa.String(length=16), nullable=False, server_default="routine")
        )
        batch.add_column(sa.Column("criterion", sa.String(length=64), nullable=True))
    op.create_table(
        "link_policies",
        sa.Column("id", _int(), autoincrement=True, nullable=False),
        sa.Column("link_id", sa.String(length=26), nullable=False),
        sa.Column("version", _int(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("proposed_by", sa.String(length=64), nullable=False),
        sa.Column("proposal_entry", sa.String(length=26), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("proposer_signature", sa.LargeBinary(), nullable=False),
        sa.Column("proposed_ms", _int(), nullable=False),
        sa.Column("accepted_by", sa.String(length=64), nullable=True),
        sa.Column("acceptance_entry", sa.String(length=26), nullable=True),
        sa.Column("acceptor_signature", sa.LargeBinary(), nullable=True),
        sa.Column("in_force_ms", _int(), nullable=True),
        sa.Column("refusal", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["link_id"], ["links.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("link_id", "proposal_entry", name="uq_link_policies_entry"),
    )
    op.create_index("ix_link_policies_link_version", "link_policies", ["link_id", "version"])
    op.create_table(
        "emergency_activations",
        sa.Column("id", _int(), autoincrement=True, nullable=False),
        sa.Column("link_id", sa.String(length=26), nullable=False),
        sa.Column("state", sa.String(length=24), nullable=False),
        sa.Column("requested_by", sa.String(length=64), nullable=False),
        sa.Column("requested_label", sa.String(length=200), nullable=False),
        sa.Column("criterion", sa.String(length=64), nullable=False),
        sa.Column("justification", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("lang", sa.String(length=16), nullable=False),
        sa.Column("policy_version", _int(), nullable=False),
        sa.Column("created_ms", _int(), nullable=False),
        sa.Column("decided_by", sa.String(length=64), nullable=True),
        sa.Column("decided_label", sa.String(length=200), nullable=True),
        sa.Column("decided_ms", _int(), nullable=True),
        sa.Column("decision_note", sa.Text(), nullable=True),
        sa.Column("message_id", sa.String(length=26), nullable=True),
        sa.ForeignKeyConstraint(["link_id"], ["links.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_emergency_activations_link_id", "emergency_activations", ["link_id"])
    op.create_table(
        "escalation_policies",
        sa.Column("link_id", sa.String(length=26), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("updated_ms", _int(), nullable=False),
        sa.Column("updated_by", sa.String(length=128), nullable=False),
        sa.ForeignKeyConstraint(["link_id"], ["links.id"]),
        sa.PrimaryKeyConstraint("link_id"),
    )
    op.create_table(
        "escalation_steps",
        sa.Column("id", _int(), autoincrement=True, nullable=False),
        sa.Column("link_id", sa.String(length=26), nullable=False),
        sa.Column("message_id", sa.String(length=26), nullable=False),
        sa.Column("rung", sa.String(length=16), nullable=False),
        sa.Column("step", _int(), nullable=False),
        sa.Column("action", sa.String(length=24), nullable=False),
        sa.Column("target", sa.String(length=128), nullable=True),
        sa.Column("outcome", sa.String(length=24), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("waited_ms", _int(), nullable=False),
        sa.Column("created_ms", _int(), nullable=False),
        sa.ForeignKeyConstraint(["link_id"], ["links.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("message_id", "rung", "step", name="uq_escalation_steps_step"),
    )
    op.create_index("ix_escalation_steps_link", "escalation_steps", ["link_id", "created_ms"])
    op.create_table(
        "alerts",
        sa.Column("id", _int(), autoincrement=True, nullable=False),
        sa.Column("link_id", sa.String(length=26), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("target_role", sa.String(length=32), nullable=True),
        sa.Column("target_user", sa.String(length=64), nullable=True),
        sa.Column("message_id", sa.String(length=26), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("created_ms", _int(), nullable=False),
        sa.Column("cleared_ms", _int(), nullable=True),
        sa.Column("cleared_by", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(["link_id"], ["links.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_alerts_open", "alerts", ["cleared_ms", "created_ms"])
    op.create_table(
        "link_tests",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("link_id", sa.String(length=26), nullable=False),
        sa.Column("direction", sa.String(length=3), nullable=False),
        sa.Column("seq", _int(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("sent_ms", _int(), nullable=False),
        sa.Column("deadline_ms", _int(), nullable=False),
        sa.Column("confirmed_ms", _int(), nullable=True),
        sa.Column("confirmed_by", sa.String(length=128), nullable=True),
        sa.Column("confirm_entry", sa.String(length=26), nullable=True),
        sa.ForeignKeyConstraint(["link_id"], ["links.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_link_tests_link", "link_tests", ["link_id", "direction", "sent_ms"])


def downgrade() -> None:
    op.drop_index("ix_link_tests_link", "link_tests")
    op.drop_table("link_tests")
    op.drop_index("ix_alerts_open", "alerts")
    op.drop_table("alerts")
    op.drop_index("ix_escalation_steps_link", "escalation_steps")
    op.drop_table("escalation_steps")
    op.drop_table("escalation_policies")
    op.drop_index("ix_emergency_activations_link_id", "emergency_activations")
    op.drop_table("emergency_activations")
    op.drop_index("ix_link_policies_link_version", "link_policies")
    op.drop_table("link_policies")
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("criterion")
        batch.drop_column("channel")
