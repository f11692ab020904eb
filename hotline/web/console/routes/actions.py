"""Actions first: acknowledge several messages at once with one holding reply, and
search a link's messages."""

from __future__ import annotations

import json
from typing import Annotated

from anyio import to_thread
from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from ....accounts.roles import Permission
from ....clock import now_ms
from ....errors import Refused
from ....node.home import NodeError
from ....node.reads.search import search as search_messages
from ..auth import Operator
from ..context import Console, console
from ..forms import ActionForm, action_form, wants_json
from ..refusals import Invalid
from ..templates import RESPOND_BY_HOURS

router = APIRouter()

MAX_BULK = 200  # messages in one bulk acknowledgement
MAX_SEARCH_PAGE = 10_000


@router.post("/links/{link_name}/acknowledge")
async def acknowledge_many(
    link_name: str,
    ids: Annotated[list[str], Form(max_length=MAX_BULK)] = [],  # noqa: B006 (FastAPI form)
    hours: Annotated[int, Form(ge=1, le=168)] = 24,
    form: ActionForm = Depends(action_form),
    c: Console = Depends(console),
) -> Response:
    """Each chosen message gets its own signed acknowledgement, all with the same
    holding reply ("we will respond by ..."). Each is audited on its own."""
    operator = await c.operator(form, Permission.ACKNOWLEDGE)
    if hours not in RESPOND_BY_HOURS:
        return await c.act(
            form, operator, "message.acknowledge", link_name, _refuse_hours, back=form.back
        )
    respond_by = now_ms() + hours * 3_600_000
    request = form.request
    done: list[str] = []
    refused: list[str] = []
    for message_id in dict.fromkeys(ids[:MAX_BULK]):
        try:
            await to_thread.run_sync(_acknowledge, c, message_id, operator, respond_by)
        except (Refused, NodeError) as exc:
            refused.append(message_id)
            detail = {"reason": str(exc)}
            await c.audit(request, operator, "message.acknowledge", message_id, "refused", detail)
            continue
        done.append(message_id)
        await c.audit(request, operator, "message.acknowledge", message_id, "ok", None)
    if wants_json(form.request):
        answer = {"acknowledged": done, "refused": refused}
        return Response(json.dumps(answer), media_type="application/json")
    return RedirectResponse(form.back, status_code=303)


def _acknowledge(c: Console, message_id: str, operator: Operator, respond_by: int) -> None:
    c.desk.acknowledge(message_id, operator.person, respond_by_ms=respond_by)


def _refuse_hours() -> None:
    raise Invalid("Choose one of the offered response times.")


@router.get("/links/{link_name}/search", response_class=HTMLResponse)
async def search(
    request: Request,
    link_name: str,
    q: str = "",
    page: int = 1,
    c: Console = Depends(console),
) -> Response:
    operator = await c.operator(request, Permission.VIEW_MESSAGES)
    number = min(max(1, page), MAX_SEARCH_PAGE)
    found = await to_thread.run_sync(lambda: search_messages(c.node, link_name, q, number))
    if found is None:
        raise HTTPException(404, "no such link")
    after = await c.events_after()
    return c.render(
        request,
        "search.html",
        operator,
        found=found,
        link=found.link,
        events_after=after,
        **await c.bar(operator),
    )


__all__ = ["router"]
