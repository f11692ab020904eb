"""Messages from the phrasebook: sent as entry id + version + parameters, checked
against the phrasebook version in force on the link, and rendered by each reader
exactly, in every language of that version.

A ``message.agreed`` body is ``{"entry": id, "version": n, "parameters": {...}}``
(parameters in canonical form), with an optional ``"by"`` (who sent it). The sender
may only use the version in force; the reader renders with the version the message
names, as long as it was agreed on the link (in force or superseded since), so a
message sent under version 1 still reads the same after version 2 comes into force.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from ...errors import Reason
from ...language.errors import LanguageError
from ...language.errors import Refused as LanguageRefused
from ...language.phrasebook import Entry, Phrasebook, shipped_phrasebook
from ...protocol.kinds import Kind
from ...storage.models import Link, Message
from ..refusals import Refused
from .documents import agreed_phrasebook, phrasebook_in_force

if TYPE_CHECKING:
    from ..runtime import NodeRuntime

WIRE_FIELDS = ("entry", "version", "parameters")
HOLDING_REPLY = "holding-reply-v1"  # the entry a one-click acknowledgement sends
DECLINE_CATEGORY = "call-declines"  # the entries a declined call may give as its reason
OPTIONAL_FIELDS = ("by",)


def refused_from(exc: LanguageError) -> Refused:
    """The language library's refusal as the node's (its reasons are ours too)."""
    if isinstance(exc, LanguageRefused):
        where = f"parameter {exc.parameter}: " if exc.parameter else ""
        return Refused(Reason(exc.reason.value), f"{where}{exc.detail}")
    return Refused(Reason.MALFORMED, str(exc))


def outgoing_body(session: Session, link: Link, body: Mapping[str, Any]) -> dict[str, Any]:
    """The body to send for ``{"entry", "parameters", "version"?, "by"?}``: checked
    against the phrasebook in force on ``link``, parameters in canonical form.
    Refuses (``phrasebook_not_in_force``) when none is, or the version is another."""
    book = phrasebook_in_force(session, link.id)
    if book is None:
        raise Refused(
            Reason.PHRASEBOOK_NOT_IN_FORCE,
            f"no phrasebook is in force on link {link.name}: both sides must sign one first "
            "('hotline phrasebook propose' / 'accept')",
        )
    unknown = sorted(set(body) - set(WIRE_FIELDS) - set(OPTIONAL_FIELDS))
    if unknown:
        raise Refused(Reason.UNKNOWN_FIELD, f"not part of an agreed-text message: {unknown}")
    version = body.get("version", book.version)
    if version != book.version:
        raise Refused(
            Reason.PHRASEBOOK_NOT_IN_FORCE,
            f"phrasebook version {version!r} is not the one in force on link {link.name} "
            f"(version {book.version})",
        )
    entry = body.get("entry")
    if not isinstance(entry, str):
        raise Refused(Reason.NOT_A_MESSAGE, "an agreed-text message names its entry")
    try:
        message = book.message(entry, body.get("parameters") or {})
    except LanguageError as exc:
        raise refused_from(exc) from None
    sent = message.body()
    if isinstance(body.get("by"), str):
        sent["by"] = body["by"][:200]
    return sent


def render_all(book: Phrasebook, body: Mapping[str, Any]) -> dict[str, Any]:
    """``{"entry", "version", "parameters", "category", "rendered": {language: text}}``
    for a body this version accepts; raises LanguageError otherwise."""
    message = book.validate_message({k: body[k] for k in WIRE_FIELDS if k in body})
    entry = book.entry(message.entry)
    return {
        "entry": message.entry,
        "version": message.version,
        "parameters": dict(message.parameters),
        "category": entry.category,
        "rendered": {
            language: entry.render(language, message.parameters) for language in book.languages
        },
    }


def agreed_view(session: Session, link_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
    """What a reader sees of a ``message.agreed`` body: every language's exact text, or
    ``{"entry", "version", "error"}`` when the body names no version agreed on the
    link or does not fit it (it is then shown as it came, never guessed at)."""
    version = body.get("version")
    book = agreed_phrasebook(session, link_id, version) if isinstance(version, int) else None
    if book is None:
        return {
            "entry": body.get("entry"),
            "version": version,
            "error": f"phrasebook version {version!r} was never agreed on this link",
        }
    try:
        return render_all(book, body)
    except (ValueError, TypeError, KeyError, ArithmeticError) as exc:  # LanguageError too
        # The body came from the other side: whatever it holds, the page still shows.
        return {"entry": body.get("entry"), "version": version, "error": str(exc)[:300]}


def agreed_views(node: NodeRuntime, messages: Sequence[Message]) -> dict[str, dict[str, Any]]:
    """What a reader sees of each agreed text among ``messages`` (:func:`agreed_view`),
    by message id, read in one transaction; the other messages are not in it."""
    agreed = [m for m in messages if m.kind == Kind.AGREED_TEXT]
    if not agreed:
        return {}
    with node.reading() as session:
        return {m.id: agreed_view(session, m.link_id, m.body) for m in agreed}


def agreed_text_view(
    session: Session, link_id: str, entry_id: str, parameters: Mapping[str, Any]
) -> dict[str, Any]:
    """An agreed text inside another body (the holding reply of a receipt, a call's
    decline reason): rendered with the link's phrasebook in force, or the shipped one
    while none is."""
    book = phrasebook_in_force(session, link_id) or shipped_phrasebook()
    try:
        entry = book.entry(entry_id)
        return {
            "entry": entry_id,
            "version": book.version,
            "parameters": dict(parameters),
            "rendered": {lang: entry.render(lang, parameters) for lang in book.languages},
        }
    except LanguageError as exc:
        return {"entry": entry_id, "version": book.version, "error": str(exc)}


def decline_reasons(book: Phrasebook) -> dict[str, Entry]:
    """The reasons a call may be declined with: the category's entries that need no
    parameter (declining is one click)."""
    return {
        e.id: e
        for e in book.entries.values()
        if e.category == DECLINE_CATEGORY and not e.parameters
    }


def link_phrasebook(session: Session, link_id: str) -> Phrasebook:
    """The phrasebook the link's own agreed texts (holding reply, decline reasons)
    come from: the one in force, else the shipped one."""
    return phrasebook_in_force(session, link_id) or shipped_phrasebook()
