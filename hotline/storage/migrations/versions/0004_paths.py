"""paths per link and their liveness; relay routes and relayed batches

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 11:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def _int() -> sa.types.TypeEngine[int]:
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "paths",
        sa.Column("id", _int(), autoincrement=True, nullable=False),
        sa.Column("link_id", sa.String(length=26), nullable=False),
        sa.Column("position", _int(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("url", sa.String(length=512), nullable=False),
        sa.Column("certificate", sa.LargeBinary(), nullable=True),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("last_good_ms", _int(), nullable=True),
        sa.Column("last_attempt_ms", _int(), nullable=True),
        sa.Column("rtt_ms", _int(), nullable=True),
        sa.Column("failures", _int(), nullable=False),
        sa.Column("successes", _int(), nullable=False),
        sa.Column("changed_ms", _int(), nullable=False),
        sa.Column("created_ms", _int(), nullable=False),
        sa.ForeignKeyConstraint(["link_id"], ["links.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("link_id", "url", name="uq_paths_url"),
    )
    op.create_index("ix_paths_link_id", "paths", ["link_id"])
    op.create_table(
        "relay_routes",
        sa.Column("link_id", sa.String(length=26), nullable=False),
        sa.Column("party", sa.String(length=64), nullable=False),
        sa.Column("certificate", sa.LargeBinary(), nullable=False),
        sa.Column("endpoints", sa.JSON(), nullable=False),
        sa.Column("created_ms", _int(), nullable=False),
        sa.PrimaryKeyConstraint("link_id", "party"),
    )
    op.create_table(
        "relay_batches",
        sa.Column("id", _int(), autoincrement=True, nullable=False),
        sa.Column("link_id", sa.String(length=26), nullable=False),
        sa.Column("from_party", sa.String(length=64), nullable=False),
        sa.Column("to_party", sa.String(length=64), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("envelopes", _int(), nullable=False),
        sa.Column("received_ms", _int(), nullable=False),
        sa.Column("forwarded_ms", _int(), nullable=True),
        sa.Column("attempts", _int(), nullable=False),
        sa.Column("next_attempt_ms", _int(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_relay_batches_pending", "relay_batches", ["forwarded_ms", "next_attempt_ms"]
    )
    # Existing links: one direct path per endpoint in the peer's party card, in order.
    links = sa.table(
        "links",
        sa.column("id", sa.String),
        sa.column("peer_endpoints", sa.JSON),
        sa.column("created_ms", _int()),
    )
    paths = sa.table(
        "paths",
        sa.column("link_id", sa.String),
        sa.column("position", _int()),
        sa.column("kind", sa.String),
        sa.column("url", sa.String),
        sa.column("state", sa.String),
        sa.column("active", sa.Boolean),
        sa.column("failures", _int()),
        sa.column("successes", _int()),
        sa.column("changed_ms", _int()),
        sa.column("created_ms", _int()),
    )
    connection = op.get_bind()
    rows = []
    for link_id, endpoints, created_ms in connection.execute(
        sa.select(links.c.id, links.c.peer_endpoints, links.c.created_ms)
    ):
        for position, url in enumerate(dict.fromkeys(endpoints or [])):
            rows.append(
                {
                    "link_id": link_id,
                    "position": position,
                    "kind": "direct",
                    "url": url,
                    "state": "unknown",
                    "active": position == 0,
                    "failures": 0,
                    "successes": 0,
                    "changed_ms": created_ms,
                    "created_ms": created_ms,
                }
            )
    if rows:
        op.bulk_insert(paths, rows)


def downgrade() -> None:
    op.drop_index("ix_relay_batches_pending", table_name="relay_batches")
    op.drop_table("relay_batches")
    op.drop_table("relay_routes")
    op.drop_index("ix_paths_link_id", table_name="paths")
    op.drop_table("paths")
