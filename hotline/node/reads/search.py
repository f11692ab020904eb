"""Search over a link's messages.

Search runs in the database (SQL ``LIKE`` over the text taken out of the JSON body,
on SQLite and PostgreSQL alike) over the link's messages, newest first, a page at a
time.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ...storage.models import Message
from ..runtime import NodeRuntime
from .conversation import MessageRow, find_link, message_rows
from .records import LinkRecord

SEARCH_PAGE = 20
MAX_QUERY = 200
LIKE_ESCAPE = "!"


@dataclass(frozen=True)
class Found:
    link: LinkRecord
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


def search(node: NodeRuntime, link_name: str, query: str, page: int = 1) -> Found | None:
    """Messages on the link whose text contains ``query`` (case-insensitive for
    Latin letters), newest first, ``SEARCH_PAGE`` at a time."""
    words = query.strip()[:MAX_QUERY]
    page = max(1, page)
    with node.reading() as session:
        link = find_link(session, link_name)
        if link is None:
            return None
        if not words:
            return Found(LinkRecord.of(link), words, [], page, False)
        found = _matching(session, link.id, words, page)
        more = len(found) > SEARCH_PAGE
        rows = message_rows(session, link.id, found[:SEARCH_PAGE])
        return Found(LinkRecord.of(link), words, rows, page, more)


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


__all__ = ["SEARCH_PAGE", "Found", "search"]
