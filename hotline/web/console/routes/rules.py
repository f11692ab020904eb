"""A link's rules at work: emergency activations and their approval, link tests,
alerts, and the link's usage against its policy."""

from __future__ import annotations

from typing import Annotated

from anyio import to_thread
from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, Response

from ....accounts.roles import Permission
from ....node.home import NodeError
from ..context import Console, console
from ..forms import ActionForm, action_form
from ..refusals import Invalid

router = APIRouter()


@router.post("/emergencies/{activation_id}/decide")
async def decide_emergency(
    activation_id: int,
    decision: Annotated[str, Form()] = "",
    note: Annotated[str, Form(max_length=500)] = "",
    form: ActionForm = Depends(action_form),
    c: Console = Depends(console),
) -> Response:
    operator = await c.operator(form, Permission.APPROVE_EMERGENCY)

    def work() -> None:
        if decision not in ("approve", "reject"):
            raise Invalid("Choose approve or reject.")
        approve = decision == "approve"
        c.desk.decide_emergency(activation_id, operator.person, approve=approve, note=note)

    return await c.act(form, operator, f"emergency.{decision}", str(activation_id), work)


@router.post("/link-tests/{test_id}/confirm")
async def confirm_link_test(
    test_id: str, form: ActionForm = Depends(action_form), c: Console = Depends(console)
) -> Response:
    operator = await c.operator(form, Permission.ACKNOWLEDGE)
    return await c.act(
        form,
        operator,
        "link_test.confirm",
        test_id,
        lambda: c.desk.confirm_link_test(test_id, operator.person),
    )


@router.post("/alerts/{alert_id}/clear")
async def clear_alert(
    alert_id: int, form: ActionForm = Depends(action_form), c: Console = Depends(console)
) -> Response:
    # Every signed-in operator may clear an alert shown to them (Desk.clear_alert).
    operator = await c.operator(form, Permission.VIEW_LINKS)
    return await c.act(
        form,
        operator,
        "alert.clear",
        str(alert_id),
        lambda: c.desk.clear_alert(alert_id, operator.person),
    )


@router.get("/links/{link_name}/stats", response_class=HTMLResponse)
async def link_stats(
    request: Request, link_name: str, bucket: str = "day", c: Console = Depends(console)
) -> Response:
    operator = await c.operator(request, Permission.VIEW_MESSAGES)
    if bucket not in ("day", "hour"):
        raise HTTPException(400, "bucket must be day or hour")
    try:
        usage = await to_thread.run_sync(lambda: c.desk.usage(link_name, bucket=bucket))
    except NodeError:
        raise HTTPException(404, "no such link") from None
    return c.render(
        request,
        "stats.html",
        operator,
        usage=usage.view(),
        link_name=link_name,
        **await c.bar(operator),
    )
