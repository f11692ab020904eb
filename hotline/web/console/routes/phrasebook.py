"""Sending a message from the phrasebook (the panel is on the conversation page,
:mod:`..phrasebook`)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from ....accounts.roles import Permission
from ....errors import Refused
from ..context import Console, console
from ..forms import Posted
from ..phrasebook import PREFIX, read_parameters
from ..refusals import Invalid

router = APIRouter()
MAX_FIELD = 400


@router.post("/links/{link_name}/agreed")
async def send_agreed(request: Request, link_name: str, c: Console = Depends(console)) -> Response:
    """Send the chosen entry with its parameters; the node checks it against the
    phrasebook in force (the same checks as the panel's preview)."""
    form = await request.form()
    fields = {
        str(k): str(v)[:MAX_FIELD]
        for k, v in form.items()
        if isinstance(v, str) and (k.startswith(PREFIX) or k in ("entry", "csrf"))
    }
    posted = Posted(request, fields.get("csrf", ""))
    operator = await c.operator(posted, Permission.SEND_MESSAGE)

    def work() -> Any:
        book = c.desk.phrasebook(link_name)
        if book is None or fields.get("entry") not in book.entries:
            raise Invalid("Choose an entry of the phrasebook in force on this link.")
        entry = book.entries[fields["entry"]]
        values, errors = read_parameters(entry, fields)
        if errors:
            name, reason = next(iter(errors.items()))
            raise Refused(reason, f"parameter {name}")
        return c.desk.send_agreed(link_name, entry.id, values, operator.person)

    return await c.act(
        posted, operator, "message.agreed", link_name, work, back=f"/links/{link_name}"
    )
