"""What needs action on a link: incoming messages nobody has acknowledged or
answered yet.

Those are never lost on an "older" page: the conversation lists the oldest of them
above the newest messages, and the filtered view pages through all of them, oldest
first.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, func, or_, select

from ...storage.models import Message
from ..runtime import NodeRuntime
from .conversation import PAGE_SIZE, MessageRow, message_rows, parse_cursor


@dataclass(frozen=True)
class Backlog:
    """Incoming messages that need action: how many in all, and a page of them
    (oldest first) with the cursor to the next page."""

    total: int
    rows: list[MessageRow]
    newer: str | None


def needs_action() -> ColumnElement[bool]:
    return and_(
        Message.direction == "in",
        Message.acknowledged_ms.is_(None),
        Message.answered_ms.is_(None),
    )


def backlog(
    node: NodeRuntime,
    link_id: str,
    *,
    after: str | None = None,
    skip: frozenset[str] = frozenset(),
    limit: int = PAGE_SIZE,
) -> Backlog:
    """The link's messages that need action, oldest first, from ``after`` (a cursor),
    leaving out ``skip`` (those already on the page)."""
    with node.reading() as session:
        base = select(Message).where(Message.link_id == link_id, needs_action())
        total = int(
            session.scalar(
                select(func.count())
                .select_from(Message)
                .where(Message.link_id == link_id, needs_action())
            )
            or 0
        )
        query = base
        cursor = parse_cursor(after)
        if cursor is not None:
            created, seq = cursor
            query = query.where(
                or_(
                    Message.created_ms > created,
                    and_(Message.created_ms == created, Message.seq > seq),
                )
            )
        if skip:
            query = query.where(Message.id.not_in(skip))
        found = list(
            session.scalars(query.order_by(Message.created_ms, Message.seq).limit(limit + 1))
        )
        newer = None
        if len(found) > limit:
            found = found[:limit]
            newer = f"{found[-1].created_ms}.{found[-1].seq}"
        return Backlog(total, message_rows(session, link_id, found), newer)


__all__ = ["Backlog", "backlog", "needs_action"]
