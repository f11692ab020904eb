"""Translations at the console: the translator's queue and verify form, and the sender's
"not what we meant" on how the other side understood a message."""

from __future__ import annotations

from typing import Annotated

from anyio import to_thread
from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response

from ....accounts.roles import Permission
from ....node.language.translation_store import MAX_NOTE_CHARS
from ....node.language.translations import Translations
from ..context import Console, console
from ..forms import ActionForm, action_form
from ..templates import MAX_FORM_TEXT

router = APIRouter()


@router.get("/translations", response_class=HTMLResponse)
async def queue(request: Request, c: Console = Depends(console)) -> Response:
    operator = await c.operator(request, Permission.VERIFY_TRANSLATION)
    after = await c.events_after()
    items = await to_thread.run_sync(lambda: Translations(c.node).queue())
    return c.render(
        request,
        "translations.html",
        operator,
        items=items,
        events_after=after,
        **await c.bar(operator),
    )


@router.get("/fragments/translations", response_class=HTMLResponse)
async def queue_fragment(request: Request, c: Console = Depends(console)) -> Response:
    operator = await c.operator(request, Permission.VERIFY_TRANSLATION)
    items = await to_thread.run_sync(lambda: Translations(c.node).queue())
    return c.render(request, "_translation_queue.html", operator, items=items)


@router.post("/messages/{message_id}/translation/verify")
async def verify(
    message_id: str,
    target: Annotated[str, Form(max_length=16)],
    text: Annotated[str, Form(max_length=MAX_FORM_TEXT * 2)] = "",
    form: ActionForm = Depends(action_form),
    c: Console = Depends(console),
) -> Response:
    operator = await c.operator(form, Permission.VERIFY_TRANSLATION)
    who = operator.person.label
    return await c.act(
        form,
        operator,
        "translation.verify",
        message_id,
        lambda: Translations(c.node).verify(message_id, target, text, who),
    )


@router.post("/messages/{message_id}/translation/dispute")
async def dispute(
    message_id: str,
    target: Annotated[str, Form(max_length=16)],
    note: Annotated[str, Form(max_length=MAX_NOTE_CHARS)] = "",
    form: ActionForm = Depends(action_form),
    c: Console = Depends(console),
) -> Response:
    operator = await c.operator(form, Permission.SEND_MESSAGE)
    who = operator.person.label
    return await c.act(
        form,
        operator,
        "translation.dispute",
        message_id,
        lambda: Translations(c.node).dispute(message_id, target, who, note),
    )
