"""Calls: asking for one, answering, ending, the session's text lines, a call's page
and a link's call history."""

from __future__ import annotations

from typing import Annotated

from anyio import to_thread
from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, Response

from ....accounts.roles import Permission
from ....node.desk.desk import MAX_SESSION_TEXT
from ....node.desk.missed_calls import call_seen as see_call
from ....node.home import NodeError
from ....node.reads.calls import call_detail, call_rows, participants, presence
from ..context import Console, console
from ..forms import ActionForm, Posted, action_form, local_path, posted
from ..refusals import Invalid

router = APIRouter()

CALL_STATES = ("accepted", "ended", "declined", "missed", "cancelled", "ringing")


@router.post("/links/{link_name}/calls")
async def request_call(
    link_name: str,
    topic: Annotated[str, Form(max_length=200)] = "",
    form: Posted = Depends(posted),
    c: Console = Depends(console),
) -> Response:
    operator = await c.operator(form, Permission.REQUEST_CALL)

    def work() -> None:
        link = c.node.find_link(link_name)
        c.desk.request_call(link.id, operator.person, topic=topic.strip())

    return await c.act(form, operator, "call.request", link_name, work, back=f"/links/{link_name}")


@router.post("/calls/{call_id}/answer")
async def answer_call(
    call_id: str,
    decision: Annotated[str, Form()] = "",
    reason: Annotated[str, Form(max_length=64)] = "",
    form: ActionForm = Depends(action_form),
    c: Console = Depends(console),
) -> Response:
    operator = await c.operator(form, Permission.ANSWER_CALL)

    def work() -> None:
        if decision not in ("accept", "decline"):
            raise Invalid("Choose accept or decline.")
        accept = decision == "accept"
        c.desk.answer_call(call_id, operator.person, accept=accept, reason=reason or None)

    after = f"/calls/{call_id}" if decision == "accept" else form.back
    return await c.act(form, operator, f"call.{decision}", call_id, work, back=after)


@router.post("/calls/{call_id}/seen")
async def call_seen(
    call_id: str, form: ActionForm = Depends(action_form), c: Console = Depends(console)
) -> Response:
    """A missed call leaves the board once someone has seen it (who and when recorded)."""
    operator = await c.operator(form, Permission.VIEW_LINKS)
    return await c.act(
        form,
        operator,
        "call.seen",
        call_id,
        lambda: see_call(c.node, call_id, operator.person.label),
    )


@router.post("/calls/{call_id}/end")
async def end_call(
    call_id: str,
    outcome: Annotated[str, Form()] = "end",
    back: Annotated[str, Form()] = "",
    form: Posted = Depends(posted),
    c: Console = Depends(console),
) -> Response:
    # Either side of a call may end it (or cancel it while it rings).
    operator = await c.operator(form, None)
    if not (operator.can(Permission.ANSWER_CALL) or operator.can(Permission.REQUEST_CALL)):
        await c.gate.refuse(form.request, operator, "forbidden", "end call")
        raise HTTPException(403, "forbidden")

    def work() -> None:
        if outcome not in ("end", "cancel"):
            raise Invalid("Unknown call action.")
        c.desk.end_call(call_id, operator.person, outcome=outcome)

    after = local_path(back) if back else f"/calls/{call_id}"
    return await c.act(form, operator, f"call.{outcome}", call_id, work, back=after)


@router.post("/calls/{call_id}/text")
async def session_text(
    call_id: str,
    text: Annotated[str, Form(max_length=MAX_SESSION_TEXT * 2)] = "",
    kind: Annotated[str, Form(max_length=8)] = "text",
    form: Posted = Depends(posted),
    c: Console = Depends(console),
) -> Response:
    operator = await c.operator(form, Permission.SESSION_TEXT)

    def work() -> None:
        if kind not in ("text", "join", "leave"):
            raise Invalid("Unknown session line.")
        if kind == "text" and not text.strip():
            raise Invalid("Write something first.")
        c.desk.session_text(call_id, operator.person, text.strip(), kind=kind)

    return await c.act(form, operator, f"session.{kind}", call_id, work, back=f"/calls/{call_id}")


@router.get("/calls/{call_id}", response_class=HTMLResponse)
async def call_page(request: Request, call_id: str, c: Console = Depends(console)) -> Response:
    operator = await c.operator(request, Permission.VIEW_MESSAGES)
    after = await c.events_after()
    found = await to_thread.run_sync(lambda: call_detail(c.node, call_id))
    if found is None:
        raise HTTPException(404, "no such call")
    call, link, lines = found
    return c.render(
        request,
        "call.html",
        operator,
        call=call,
        link=link,
        lines=lines,
        present=presence(lines),
        participants=participants(lines),
        events_after=after,
        **await c.bar(operator),
    )


@router.get("/calls/{call_id}/fragment", response_class=HTMLResponse)
async def call_fragment(request: Request, call_id: str, c: Console = Depends(console)) -> Response:
    operator = await c.operator(request, Permission.VIEW_MESSAGES)
    found = await to_thread.run_sync(lambda: call_detail(c.node, call_id))
    if found is None:
        raise HTTPException(404, "no such call")
    call, link, lines = found
    return c.render(
        request,
        "_session.html",
        operator,
        call=call,
        link=link,
        lines=lines,
        present=presence(lines),
        participants=participants(lines),
    )


@router.get("/links/{link_name}/calls", response_class=HTMLResponse)
async def call_history(request: Request, link_name: str, c: Console = Depends(console)) -> Response:
    operator = await c.operator(request, Permission.VIEW_MESSAGES)
    after = await c.events_after()
    try:
        link = await to_thread.run_sync(lambda: c.node.find_link(link_name))
    except NodeError:
        raise HTTPException(404, "no such link") from None
    calls = await to_thread.run_sync(lambda: call_rows(c.node, link.id))
    counts = {state: sum(1 for row in calls if row["state"] == state) for state in CALL_STATES}
    return c.render(
        request,
        "calls.html",
        operator,
        link=link,
        calls=calls,
        counts=counts,
        **await c.bar(operator),
        events_after=after,
    )
