"""Local API for translations (mounted by :mod:`.local_api`): a message's renderings with their
provenance, the translator's queue, verifying a rendering, and disputing the other side's.

Verifying and disputing name the console account that acts in ``by``: verifying needs the
``verify_translation`` permission (a translator), disputing ``send_message`` (the sender's
side). Refusals answer 400 (403 for ``forbidden``) with ``{"code", "detail"}``.
"""

from __future__ import annotations

from typing import Annotated, Any

from anyio import to_thread
from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field

from ..accounts.errors import AccountError
from ..accounts.roles import Permission, allowed
from ..accounts.service import AccountService
from ..errors import Reason
from ..node.language.translation_store import MAX_NOTE_CHARS
from ..node.language.translations import QueueItem, Translations
from ..node.message_text import MAX_TEXT_CHARS
from ..node.refusals import Refused
from ..node.service import Node

MessageId = Annotated[str, Path(pattern=r"^[0-9A-HJKMNP-TV-Z]{26}$")]
TAG = r"^[a-z]{2,3}(-[A-Z][a-z]{3})?(-[A-Z]{2})?$"


class VerifyRequest(BaseModel):
    target: str = Field(pattern=TAG)
    text: str = Field(min_length=1, max_length=MAX_TEXT_CHARS)
    by: str = Field(min_length=1, max_length=64)


class DisputeRequest(BaseModel):
    target: str = Field(pattern=TAG)
    note: str = Field(default="", max_length=MAX_NOTE_CHARS)
    by: str = Field(min_length=1, max_length=64)


def translation_router(node: Node, dependencies: list[Any]) -> APIRouter:
    router = APIRouter(prefix="/api/v1", dependencies=dependencies)
    translations = Translations(node)
    accounts = AccountService(node.sessions, readers=node.readers, party=node.party)

    def label(username: str, permission: Permission) -> str:
        try:
            user = accounts.get_user(username)
        except AccountError as exc:
            raise Refused(exc.reason, exc.detail) from None
        if user.disabled or not allowed(user.role, permission):
            raise Refused(
                Reason.FORBIDDEN, f"{username} may not {permission.value.replace('_', ' ')}"
            )
        return f"{user.display_name} ({user.role.value.replace('_', ' ')})"

    @router.get("/messages/{message_id}/translations")
    async def of_message(message_id: MessageId) -> dict[str, Any]:
        found = await to_thread.run_sync(lambda: translations.of_message(message_id))
        return {"message": message_id, "translations": [t.as_json() for t in found]}

    @router.get("/translations/queue")
    async def queue(limit: Annotated[int, Query(ge=1, le=500)] = 100) -> dict[str, Any]:
        items = await to_thread.run_sync(lambda: translations.queue(limit=limit))
        return {"queue": [_queue_json(item) for item in items]}

    @router.post("/messages/{message_id}/translations/verify")
    async def verify(message_id: MessageId, request: VerifyRequest) -> dict[str, Any]:
        def work() -> dict[str, Any]:
            who = label(request.by, Permission.VERIFY_TRANSLATION)
            return translations.verify(message_id, request.target, request.text, who).as_json()

        return await to_thread.run_sync(work)

    @router.post("/messages/{message_id}/translations/dispute")
    async def dispute(message_id: MessageId, request: DisputeRequest) -> dict[str, Any]:
        def work() -> dict[str, Any]:
            who = label(request.by, Permission.SEND_MESSAGE)
            return translations.dispute(message_id, request.target, who, request.note).as_json()

        return await to_thread.run_sync(work)

    return router


def _queue_json(item: QueueItem) -> dict[str, Any]:
    return {
        "message": item.message_id,
        "link": item.link_name,
        "sender": item.sender,
        "seq": item.seq,
        "original": item.original,
        "lang": item.lang,
        "translation": item.translation.as_json(),
    }
