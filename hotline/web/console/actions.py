"""What needs the operator on a link, and search over its messages.

"Needs action" is an incoming message nobody has acknowledged or answered yet.
Those are never lost on an "older" page: the conversation lists the oldest of them
above the newest messages, and the filtered view pages through all of them, oldest
first. Search runs in the database (SQL ``LIKE`` over the text taken out of the
JSON body, on SQLite and PostgreSQL alike) over the link's messages, newest first, a page at a time.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import Session

from ...node.service import Node
from ...storage.models import Link, Message
from .pages import PAGE_SIZE, MessageRow, _message_rows, _parse_cursor, find_link

SEARCH_PAGE = 20
MAX_QUERY = 200
LIKE_ESCAPE = "!"


@dataclass
class Waiting:
    """Incoming messages that need action: how many in all, and a page of them
    (oldest first) with the cursor to the next page."""

    total: int
    rows: list[MessageRow]
    newer: str | None


@dataclass
class Found:
    link: Link
    query: str
    rows: list[MessageRow]
    page: int
    more: bool

    @property
    def first(self) -> int:
        return (self.page - 1) * SEARCH_PAGE + 1

    @property
    def last(self) -> int:
        return (self.page - 1) * SEARCH_PAGE + len(self.rows)


def needs_action() -> ColumnElement[bool]:
    return and_(
        Message.direction == "in",
        Message.acknowledged_ms.is_(None),
        Message.answered_ms.is_(None),
    )


def waiting(
    node: Node,
    link_id: str,
    *,
    after: str | None = None,
    skip: frozenset[str] = frozenset(),
    limit: int = PAGE_SIZE,
) -> Waiting:
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
        cursor = _parse_cursor(after)
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
        return Waiting(total, _message_rows(session, link_id, found), newer)


def search(node: Node, link_name: str, query: str, page: int = 1) -> Found | None:
    """Messages on the link whose text contains ``query`` (case-insensitive for
    Latin letters), newest first, ``SEARCH_PAGE`` at a time."""
    words = query.strip()[:MAX_QUERY]
    page = max(1, page)
    with node.reading() as session:
        link = find_link(session, link_name)
        if link is None:
            return None
        if not words:
            return Found(link, words, [], page, False)
        found = _matching(session, link.id, words, page)
        more = len(found) > SEARCH_PAGE
        rows = _message_rows(session, link.id, found[:SEARCH_PAGE])
        return Found(link, words, rows, page, more)


def _matching(session: Session, link_id: str, words: str, page: int) -> list[Message]:
    needle = words.lower()
    for special in (LIKE_ESCAPE, "%", "_"):
        needle = needle.replace(special, LIKE_ESCAPE + special)
    # The text itself, out of the JSON body (json_extract on SQLite, ->> on PostgreSQL).
    text = func.lower(Message.body["text"].as_string())
    return list(
        session.scalars(
            select(Message)
            .where(Message.link_id == link_id, text.like(f"%{needle}%", escape=LIKE_ESCAPE))
            .order_by(Message.created_ms.desc(), Message.seq.desc())
            .offset((page - 1) * SEARCH_PAGE)
            .limit(SEARCH_PAGE + 1)
        )
    )


__all__ = ["SEARCH_PAGE", "Found", "Waiting", "needs_action", "search", "waiting"]
