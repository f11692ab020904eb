"""The live stream: the node's events as Server-Sent Events, which the console's
script turns into fragment fetches."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from anyio import to_thread
from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response, StreamingResponse

from ....accounts.roles import Permission
from ....node.reads.conversation import message_row
from ....node.service import Node
from ..auth import SESSION_COOKIE
from ..context import Console, console

router = APIRouter()

STREAM_POLL_SECONDS = 0.5
KEEPALIVE_SECONDS = 15.0
# How often an open stream re-checks its session: a revoked or disabled operator's
# console stops receiving within this time (and the check keeps a watched console
# from timing out for inactivity).
SESSION_CHECK_SECONDS = 5.0
# New rows only: a ladder change is fetched by the page if it shows that row (a
# cumulative receipt can move thousands of messages the page does not show).
POLL_LIMIT = 200
INLINE_TYPES = frozenset({"message.received", "message.queued"})


@router.get("/console/events")
async def console_events(
    request: Request, after: str = "", link: str = "", c: Console = Depends(console)
) -> StreamingResponse:
    """From the event after the one the page was rendered at (``after``), or
    after ``Last-Event-ID`` when the browser reconnects, or from now. Notes about
    messages on the ``link`` the page shows carry the message's rendered row, which
    saves the page a round trip."""
    operator = await c.operator(request, Permission.VIEW_LINKS)
    resume = request.headers.get("last-event-id", "")
    if resume.isdigit():
        start = int(resume)
    elif after.isdigit():
        start = int(after)
    else:
        start = await c.events_after()

    def message_html(message_id: str) -> str | None:
        found = message_row(c.node, message_id)
        if found is None:
            return None
        shown_link, row = found
        return c.render_text(request, "_message.html", operator, link=shown_link, row=row)

    token = request.cookies.get(SESSION_COOKIE)

    def still_valid() -> bool:
        # A console left open on a quiet watch stays logged in (the lookup records
        # activity), up to the session's absolute limit; revocation ends it.
        return c.accounts.lookup_session(token) is not None

    inline = message_html if link else None
    return StreamingResponse(
        _stream(c.node, request, start, link, inline, still_valid),
        media_type="text/event-stream",
        headers={"cache-control": "no-store", "x-accel-buffering": "no"},
    )


async def _stream(
    node: Node,
    request: Request,
    after: int,
    link_id: str,
    inline: Callable[[str], str | None] | None,
    still_valid: Callable[[], bool],
) -> AsyncIterator[str]:
    """Events as small JSON notes; the page fetches the fragments they name, except
    the rows of messages on the link it shows, which come with the note."""
    # A first sign of life at once: the page counts the stream live only once
    # something has come through it (a proxy may open it and hold everything back).
    yield 'retry: 1000\nevent: ping\ndata: {"type": "ping"}\n\n'
    feed = node.event_feed(after)
    checked = time.monotonic()
    while not await request.is_disconnected():
        if time.monotonic() - checked >= SESSION_CHECK_SECONDS:
            checked = time.monotonic()
            if not await to_thread.run_sync(still_valid):
                yield 'event: logout\ndata: {"type": "session.ended"}\n\n'
                return
        rows = await feed.next(STREAM_POLL_SECONDS)
        for row in rows:
            note = {"type": row.type, "link": row.link_id, **_note(row.data)}
            if inline and row.link_id == link_id and row.type in INLINE_TYPES and "id" in note:
                html = await to_thread.run_sync(inline, str(note["id"]))
                if html is not None:
                    note["html"] = html
            yield f"id: {row.id}\ndata: {json.dumps(note)}\n\n"
        if not rows and feed.quiet_for(KEEPALIVE_SECONDS):
            # A named event, not a comment: the page sees it, and knows a silent
            # stream from a dead one (a proxy that holds the stream back).
            yield 'event: ping\ndata: {"type": "ping"}\n\n'


@router.get("/console/events/poll")
async def console_poll(
    request: Request, after: str = "", c: Console = Depends(console)
) -> Response:
    """The stream's fallback, when it cannot be held (a proxy that buffers it, a
    network that drops long requests): the same notes, fetched every few seconds.
    ``last`` is where the next poll resumes; ``more`` says it should not wait."""
    await c.operator(request, Permission.VIEW_LINKS)
    # An event id fits the database's integers: a longer one is not a cursor.
    start = int(after) if after.isdigit() and len(after) <= 18 else await c.events_after()
    rows = await to_thread.run_sync(lambda: c.node.events_after(start, POLL_LIMIT))
    notes = [{"type": r.type, "link": r.link_id, **_note(r.data), "event": r.id} for r in rows]
    answer = {
        "last": rows[-1].id if rows else start,
        "notes": notes,
        "more": len(rows) == POLL_LIMIT,
    }
    return Response(
        json.dumps(answer), media_type="application/json", headers={"cache-control": "no-store"}
    )


def _note(data: dict[str, Any]) -> dict[str, Any]:
    """Only identifiers go to the page: content comes with the fragment, rendered
    and escaped by the server in the operator's language."""
    keys = ("id", "call", "draft", "state", "rung", "message", "ref")
    return {k: data[k] for k in keys if k in data and isinstance(data[k], (str, int))}
