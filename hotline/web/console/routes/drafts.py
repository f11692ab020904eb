"""Writing to the other side: compose, drafts and a principal's decision on them, and
the acknowledgement of what arrived."""

from __future__ import annotations

import json
from typing import Annotated

from anyio import to_thread
from fastapi import APIRouter, Depends, Form
from fastapi.responses import Response

from ....accounts.roles import Permission
from ....clock import now_ms
from ....node.reads.conversation import message_row
from ..auth import Operator
from ..context import Console, console
from ..forms import ActionForm, Posted, action_form, posted
from ..refusals import Invalid
from ..templates import MAX_FORM_TEXT, RESPOND_BY_HOURS, RESPOND_BY_MINUTES

router = APIRouter()

LANGUAGE_TAGS = {"en", "zh-Hans"}


@router.post("/links/{link_name}/messages")
async def send_message(
    link_name: str,
    text: Annotated[str, Form(max_length=MAX_FORM_TEXT * 2)] = "",
    lang: Annotated[str, Form(max_length=16)] = "en",
    ref: Annotated[str, Form(max_length=26)] = "",
    intent: Annotated[str, Form(max_length=8)] = "send",
    channel: Annotated[str, Form(max_length=16)] = "routine",
    criterion: Annotated[str, Form(max_length=64)] = "",
    justification: Annotated[str, Form(max_length=2000)] = "",
    form: Posted = Depends(posted),
    c: Console = Depends(console),
) -> Response:
    """Compose: a new message goes at once; a reply goes to a principal first when
    the link requires it and the author may not approve replies. ``intent=draft``
    only saves it."""
    operator = await c.operator(form, Permission.SAVE_DRAFT)

    def work() -> None:
        clean = _message_text(text)
        if lang not in LANGUAGE_TAGS:
            raise Invalid("Unknown language.")
        if intent not in ("send", "draft"):
            raise Invalid("Choose send or save as draft.")
        if channel not in ("routine", "emergency"):
            raise Invalid("Choose the routine or the emergency channel.")
        if channel == "emergency":
            _activate(c, operator, link_name, clean, lang, intent, ref, criterion, justification)
            return
        link = c.node.find_link(link_name)
        who = operator.person
        draft = c.desk.save_draft(link.id, who, clean, lang=lang, ref=ref or None)
        if intent == "send" and operator.can(Permission.SEND_MESSAGE):
            c.desk.submit_draft(draft.id, who, may_send=operator.can(Permission.APPROVE_REPLY))

    back = f"/links/{link_name}"
    offer = {"action": f"/links/{link_name}/messages", "text": text, "lang": lang}
    return await c.act(
        form, operator, "message.compose", link_name, work, back=back, routine_offer=offer
    )


def _activate(
    c: Console,
    operator: Operator,
    link_name: str,
    text: str,
    lang: str,
    intent: str,
    ref: str,
    criterion: str,
    justification: str,
) -> None:
    """On the emergency channel the message is an activation, which the node may
    refuse (the refusal page then offers the routine channel)."""
    link = c.node.find_link(link_name)
    if intent != "send":
        raise Invalid("An emergency activation is sent, not saved as a draft.")
    if not operator.can(Permission.ACTIVATE_EMERGENCY):
        raise Invalid("Your role may not activate the emergency channel.")
    if ref:
        raise Invalid("An emergency activation is a new message, not a reply.")
    c.desk.activate_emergency(
        link.name,
        operator.person,
        criterion=criterion or None,
        justification=justification.strip() or None,
        text=text,
        lang=lang,
    )


@router.post("/drafts/{draft_id}/submit")
async def submit_draft(
    draft_id: int, form: ActionForm = Depends(action_form), c: Console = Depends(console)
) -> Response:
    operator = await c.operator(form, Permission.SEND_MESSAGE)
    may = operator.can(Permission.APPROVE_REPLY)
    return await c.act(
        form,
        operator,
        "draft.submit",
        str(draft_id),
        lambda: c.desk.submit_draft(draft_id, operator.person, may_send=may),
    )


@router.post("/drafts/{draft_id}/save")
async def save_draft(
    draft_id: int,
    text: Annotated[str, Form(max_length=MAX_FORM_TEXT * 2)] = "",
    lang: Annotated[str, Form(max_length=16)] = "en",
    form: ActionForm = Depends(action_form),
    c: Console = Depends(console),
) -> Response:
    """The author's edit of a draft; what it replies to is kept from the draft."""
    operator = await c.operator(form, Permission.SAVE_DRAFT)

    def work() -> None:
        clean = _message_text(text)
        if lang not in LANGUAGE_TAGS:
            raise Invalid("Unknown language.")
        c.desk.edit_draft(draft_id, operator.person, clean, lang=lang)

    return await c.act(form, operator, "draft.save", str(draft_id), work)


@router.post("/drafts/{draft_id}/discard")
async def discard_draft(
    draft_id: int, form: ActionForm = Depends(action_form), c: Console = Depends(console)
) -> Response:
    operator = await c.operator(form, Permission.SAVE_DRAFT)
    return await c.act(
        form,
        operator,
        "draft.discard",
        str(draft_id),
        lambda: c.desk.discard_draft(draft_id, operator.person),
    )


@router.post("/drafts/{draft_id}/decide")
async def decide_draft(
    draft_id: int,
    decision: Annotated[str, Form()] = "",
    note: Annotated[str, Form(max_length=1000)] = "",
    form: ActionForm = Depends(action_form),
    c: Console = Depends(console),
) -> Response:
    operator = await c.operator(form, Permission.APPROVE_REPLY)

    def work() -> None:
        if decision not in ("approve", "reject"):
            raise Invalid("Choose approve or send back.")
        c.desk.decide_draft(draft_id, operator.person, approve=decision == "approve", note=note)

    return await c.act(form, operator, f"draft.{decision}", str(draft_id), work)


@router.post("/messages/{message_id}/displayed")
async def displayed(
    message_id: str, form: Posted = Depends(posted), c: Console = Depends(console)
) -> Response:
    operator = await c.operator(form, Permission.ACKNOWLEDGE)
    changed = await to_thread.run_sync(lambda: c.desk.displayed(message_id, operator.person))
    return Response(json.dumps({"recorded": changed}), media_type="application/json")


@router.post("/messages/{message_id}/acknowledge")
async def acknowledge(
    message_id: str,
    minutes: Annotated[int | None, Form(ge=1, le=10_080)] = None,
    hours: Annotated[int | None, Form(ge=1, le=168)] = None,
    form: ActionForm = Depends(action_form),
    c: Console = Depends(console),
) -> Response:
    """The holding reply; ``minutes`` is one of the offered windows or the link
    policy's answer window for the message (``hours``: the form's older field)."""
    operator = await c.operator(form, Permission.ACKNOWLEDGE)

    def work() -> None:
        if minutes is not None:
            window = minutes
            offered = window in RESPOND_BY_MINUTES or window == _policy_minutes(c, message_id)
        else:
            window = (hours or 24) * 60
            offered = (hours or 24) in RESPOND_BY_HOURS
        if not offered:
            raise Invalid("Choose one of the offered response times.")
        respond_by = now_ms() + window * 60_000
        c.desk.acknowledge(message_id, operator.person, respond_by_ms=respond_by)

    return await c.act(form, operator, "message.acknowledge", message_id, work)


def _policy_minutes(c: Console, message_id: str) -> int | None:
    """The link policy's answer window (minutes) for this message's channel."""
    found = message_row(c.node, message_id)
    if found is None or found[1].answer_within_s is None:
        return None
    return found[1].answer_within_s // 60


def _message_text(text: str) -> str:
    clean = text.replace("\r\n", "\n").strip()
    if not clean:
        raise Invalid("Write a message first.")
    if len(clean) > MAX_FORM_TEXT:
        raise Invalid(
            "The message is too long ({length} characters; the limit is {limit}).",
            length=len(clean),
            limit=MAX_FORM_TEXT,
        )
    if any(ord(c) < 32 and c not in "\n\t" for c in clean):
        raise Invalid("The message contains control characters.")
    return clean
