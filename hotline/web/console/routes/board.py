"""The link board, a link's conversation, and the fragments that keep them live."""

from __future__ import annotations

from anyio import to_thread
from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, Response

from ....accounts.roles import Permission
from ....clock import now_ms
from .. import actions, pages
from .. import waiting as attention
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


def _board(c: Console) -> tuple[list[pages.LinkRow], dict[str, int]]:
    """The board's rows, and each link's missed calls nobody has seen yet."""
    stamp = now_ms()
    with c.node.reading() as session:
        missed = attention.missed_per_link(session, stamp)
    return pages.link_board(c.node, stamp), missed


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
) -> tuple[pages.ConversationPage, actions.Waiting]:
    page = pages.conversation(c.node, link_name, before=None if needing else before)
    if page is None:
        raise HTTPException(404, "no such link")
    if needing:
        waiting = actions.waiting(c.node, page.link.id, after=cursor)
        page.rows, page.older = waiting.rows, None
        return page, waiting
    on_page = frozenset(r.id for r in page.rows)
    return page, actions.waiting(c.node, page.link.id, skip=on_page)


@router.get("/messages/{message_id}/fragment", response_class=HTMLResponse)
async def message_fragment(
    request: Request, message_id: str, c: Console = Depends(console)
) -> Response:
    operator = await c.operator(request, Permission.VIEW_MESSAGES)
    found = await to_thread.run_sync(lambda: pages.message_row(c.node, message_id))
    if found is None:
        raise HTTPException(404, "no such message")
    link, row = found
    return c.render(request, "_message.html", operator, link=link, row=row)


@router.get("/links/{link_name}/drafts/fragment", response_class=HTMLResponse)
async def drafts_fragment(
    request: Request, link_name: str, c: Console = Depends(console)
) -> Response:
    operator = await c.operator(request, Permission.VIEW_MESSAGES)
    page = await to_thread.run_sync(lambda: pages.conversation(c.node, link_name))
    if page is None:
        raise HTTPException(404, "no such link")
    return c.render(request, "_drafts.html", operator, page=page)
