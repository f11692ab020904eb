"""The link board, a link's conversation, and the fragments that keep them live."""

from __future__ import annotations

from dataclasses import replace

from anyio import to_thread
from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, Response

from ....accounts.roles import Permission
from ....clock import now_ms
from ....node.reads import conversation as talk
from ....node.reads.backlog import Backlog, backlog
from ....node.reads.board import LinkRow, link_board
from ....node.reads.waiting import missed_per_link
from ..context import Console, console
from ..i18n import translations
from ..phrasebook import panel as phrase_panel

router = APIRouter()


@router.get("/", response_class=HTMLResponse)
async def board(request: Request, c: Console = Depends(console)) -> Response:
    operator = await c.operator(request, Permission.VIEW_LINKS)
    after = await c.events_after()
    rows, missed = await to_thread.run_sync(lambda: _board(c))
    return c.render(
        request,
        "board.html",
        operator,
        rows=rows,
        missed=missed,
        events_after=after,
        **await c.bar(operator),
    )


@router.get("/fragments/board", response_class=HTMLResponse)
async def board_fragment(request: Request, c: Console = Depends(console)) -> Response:
    operator = await c.operator(request, Permission.VIEW_LINKS)
    rows, missed = await to_thread.run_sync(lambda: _board(c))
    return c.render(request, "_board.html", operator, rows=rows, missed=missed)


def _board(c: Console) -> tuple[list[LinkRow], dict[str, int]]:
    """The board's rows, and each link's missed calls nobody has seen yet."""
    stamp = now_ms()
    missed = missed_per_link(c.node, stamp)
    return link_board(c.node, stamp), missed


@router.get("/fragments/calls", response_class=HTMLResponse)
async def calls_fragment(request: Request, c: Console = Depends(console)) -> Response:
    operator = await c.operator(request, Permission.VIEW_LINKS)
    return c.render(request, "_callbar.html", operator, **await c.bar(operator))


@router.get("/links/{link_name}", response_class=HTMLResponse)
async def conversation(
    request: Request,
    link_name: str,
    before: str | None = None,
    show: str | None = None,
    cursor: str | None = None,
    c: Console = Depends(console),
) -> Response:
    """The newest messages (or a page before ``before``) with, above them, the older
    ones that still need action; ``show=action``: only those, oldest first, from
    ``cursor``. Rendering a message does not mean anyone saw it: "displayed" is
    recorded by the page's script (displayed.js) for messages on screen in a focused
    window."""
    operator = await c.operator(request, Permission.VIEW_MESSAGES)
    after = await c.events_after()
    needing = show == "action"
    page, waiting = await to_thread.run_sync(
        lambda: _conversation(c, link_name, before, needing, cursor)
    )
    language = operator.user.language
    link_id = page.link.id
    phrases = await to_thread.run_sync(
        lambda: phrase_panel(
            c.desk.phrasebook(link_id),
            dict(request.query_params),
            language,
            translations(language).gettext,
        )
    )
    policy = await to_thread.run_sync(lambda: c.desk.policy(page.link.id))
    return c.render(
        request,
        "conversation.html",
        operator,
        page=page,
        before=before,
        backlog=waiting,
        needing=needing,
        policy=policy,
        phrases=phrases,
        **await c.bar(operator),
        events_after=after,
    )


def _conversation(
    c: Console, link_name: str, before: str | None, needing: bool, cursor: str | None
) -> tuple[talk.ConversationPage, Backlog]:
    page = talk.conversation(c.node, link_name, before=None if needing else before)
    if page is None:
        raise HTTPException(404, "no such link")
    if needing:
        waiting = backlog(c.node, page.link.id, after=cursor)
        return replace(page, rows=waiting.rows, older=None), waiting
    on_page = frozenset(r.id for r in page.rows)
    return page, backlog(c.node, page.link.id, skip=on_page)


@router.get("/messages/{message_id}/fragment", response_class=HTMLResponse)
async def message_fragment(
    request: Request, message_id: str, c: Console = Depends(console)
) -> Response:
    operator = await c.operator(request, Permission.VIEW_MESSAGES)
    found = await to_thread.run_sync(lambda: talk.message_row(c.node, message_id))
    if found is None:
        raise HTTPException(404, "no such message")
    link, row = found
    return c.render(request, "_message.html", operator, link=link, row=row)


@router.get("/links/{link_name}/drafts/fragment", response_class=HTMLResponse)
async def drafts_fragment(
    request: Request, link_name: str, c: Console = Depends(console)
) -> Response:
    operator = await c.operator(request, Permission.VIEW_MESSAGES)
    page = await to_thread.run_sync(lambda: talk.conversation(c.node, link_name))
    if page is None:
        raise HTTPException(404, "no such link")
    return c.render(request, "_drafts.html", operator, page=page)
