"""A link's agreed phrasebook and glossary as this node keeps them: proposals,
countersignatures, the version in force. The same rules as the link policy
(:mod:`..rules.policy`): either side proposes a version; it comes into force when the
other side countersigns; if both sides propose the same version at once the inviter's
prevails; a peer's entry that fails a check is recorded as ``refused`` and changes
nothing. Unlike the policy a version need only be later than the one in force (the
shipped phrasebook's own numbering is what messages name).

The proposal carries the document's canonical encoding (:mod:`hotline.language.canonical`):
the other side reads, checks and signs exactly those bytes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ...errors import Reason
from ...language.canonical import glossary_from_canonical, phrasebook_from_canonical
from ...language.errors import LanguageError
from ...language.glossary import Glossary
from ...language.phrasebook import Phrasebook
from ...protocol.agreed_documents import (
    ACCEPT_KINDS,
    DOCUMENT_OF,
    MAX_VERSION,
    PROPOSE_KINDS,
    Signed,
    acceptance_body,
    check_newer,
    proposal_body,
    read_acceptance,
    read_proposal,
)
from ...protocol.errors import Code, ProtocolError
from ...protocol.keys import PrivateIdentity
from ...protocol.kinds import Kind
from ...storage.models import Entry, Link
from ...storage.policy_models import LinkDocument
from ..events import record_event
from ..record_store import Reference, append_own, find_entry, peer_identity
from ..refusals import Refused, audit
from ..rules.policy import IN_FORCE, PROPOSED, REFUSED, SUPERSEDED, WITHDRAWN

log = logging.getLogger("hotline.language")

DOCUMENT_KINDS = frozenset(DOCUMENT_OF)
Document = Phrasebook | Glossary


def parse(document: str, content: bytes) -> Document:
    """The phrasebook or glossary ``content`` encodes (cached); ProtocolError if not."""
    try:
        if document == "phrasebook":
            return phrasebook_from_canonical(content)
        return glossary_from_canonical(content)
    except LanguageError as exc:
        raise ProtocolError(Code.MALFORMED, f"not a valid {document}: {exc}") from None


@dataclass(frozen=True)
class DocumentVersion:
    """A version and its state, for the console, the API and the CLI."""

    document: str
    version: int
    digest: str
    state: str
    proposed_by: str
    proposed_ms: int
    accepted_by: str | None
    in_force_ms: int | None
    refusal: str | None
    proposal_entry: str
    acceptance_entry: str | None

    def view(self) -> dict[str, Any]:
        return {
            "document": self.document,
            "version": self.version,
            "digest": self.digest,
            "state": self.state,
            "proposed_by": self.proposed_by,
            "proposed_ms": self.proposed_ms,
            "accepted_by": self.accepted_by,
            "signed_by": [self.proposed_by, self.accepted_by] if self.accepted_by else None,
            "in_force_ms": self.in_force_ms,
            "refusal": self.refusal,
            "proposal_entry": self.proposal_entry,
            "acceptance_entry": self.acceptance_entry,
        }


def version_of(row: LinkDocument) -> DocumentVersion:
    return DocumentVersion(
        row.document,
        row.version,
        row.digest,
        row.state,
        row.proposed_by,
        row.proposed_ms,
        row.accepted_by,
        row.in_force_ms,
        row.refusal,
        row.proposal_entry,
        row.acceptance_entry,
    )


def in_force_row(session: Session, link_id: str, document: str) -> LinkDocument | None:
    return session.scalar(
        select(LinkDocument)
        .where(
            LinkDocument.link_id == link_id,
            LinkDocument.document == document,
            LinkDocument.state == IN_FORCE,
        )
        .order_by(LinkDocument.version.desc())
        .limit(1)
    )


def agreed_row(session: Session, link_id: str, document: str, version: int) -> LinkDocument | None:
    """The version as it was agreed (in force now or superseded since)."""
    return session.scalar(
        select(LinkDocument).where(
            LinkDocument.link_id == link_id,
            LinkDocument.document == document,
            LinkDocument.version == version,
            LinkDocument.state.in_((IN_FORCE, SUPERSEDED)),
        )
    )


def phrasebook_in_force(session: Session, link_id: str) -> Phrasebook | None:
    row = in_force_row(session, link_id, "phrasebook")
    return None if row is None else phrasebook_from_canonical(row.content)


def glossary_in_force(session: Session, link_id: str) -> Glossary | None:
    row = in_force_row(session, link_id, "glossary")
    return None if row is None else glossary_from_canonical(row.content)


def agreed_phrasebook(session: Session, link_id: str, version: int) -> Phrasebook | None:
    row = agreed_row(session, link_id, "phrasebook", version)
    return None if row is None else phrasebook_from_canonical(row.content)


def current_version(session: Session, link_id: str, document: str) -> int:
    row = in_force_row(session, link_id, document)
    return 0 if row is None else row.version


def versions(session: Session, link_id: str, document: str) -> list[DocumentVersion]:
    rows = session.scalars(
        select(LinkDocument)
        .where(LinkDocument.link_id == link_id, LinkDocument.document == document)
        .order_by(LinkDocument.version, LinkDocument.id)
    )
    return [version_of(row) for row in rows]


# Our side -------------------------------------------------------------------------


def propose(
    session: Session, me: PrivateIdentity, link: Link, document: Document, *, now_ms: int
) -> LinkDocument:
    """Sign ``document`` and send it whole as a ``*.propose`` entry. The caller holds
    the link lock."""
    name = "phrasebook" if isinstance(document, Phrasebook) else "glossary"
    if document.version > MAX_VERSION:
        raise ProtocolError(Code.MALFORMED, f"a {name} version is at most {MAX_VERSION}")
    check_newer(name, current_version(session, link.id, name), document.version)
    pending = session.scalar(
        select(LinkDocument).where(
            LinkDocument.link_id == link.id,
            LinkDocument.document == name,
            LinkDocument.state == PROPOSED,
            LinkDocument.proposed_by == me.party,
        )
    )
    if pending is not None:
        raise Refused(
            Reason.ALREADY_PROPOSED,
            f"our {name} version {pending.version} is already awaiting "
            f"{link.peer_party}'s signature",
        )
    content = document.encode()
    body = proposal_body(me, name, link.id, document.version, content)
    entry, _ = append_own(session, link, me, PROPOSE_KINDS[name], body, now_ms=now_ms)
    row = LinkDocument(
        link_id=link.id,
        document=name,
        version=document.version,
        digest=document.digest(),
        content=content,
        state=PROPOSED,
        proposed_by=me.party,
        proposal_entry=entry.id,
        proposer_signature=body["signature"],
        proposed_ms=now_ms,
    )
    session.add(row)
    session.flush()
    _event(session, row, now_ms)
    return row


def accept(
    session: Session, me: PrivateIdentity, link: Link, name: str, version: int, *, now_ms: int
) -> LinkDocument:
    """Countersign the peer's pending proposal of ``version``: in force here at once."""
    rows = list(
        session.scalars(
            select(LinkDocument).where(
                LinkDocument.link_id == link.id,
                LinkDocument.document == name,
                LinkDocument.version == version,
                LinkDocument.state == PROPOSED,
            )
        )
    )
    theirs = next((r for r in rows if r.proposed_by == link.peer_party), None)
    ours = next((r for r in rows if r.proposed_by == me.party), None)
    if theirs is None:
        if ours is not None:
            raise Refused(
                Reason.OWN_PROPOSAL,
                f"{name} version {version} is our own proposal: {link.peer_party} must sign it",
            )
        raise Refused(
            Reason.NO_PROPOSAL, f"{link.peer_party} has no pending {name} version {version}"
        )
    check_newer(name, current_version(session, link.id, name), version)
    if ours is not None and link.role == "inviter":
        raise Refused(
            Reason.CONFLICTING_PROPOSAL,
            f"our own {name} version {version} is pending and, as the inviter, takes "
            f"precedence; wait for {link.peer_party} to answer it",
        )
    proposal = find_entry(session, link.id, theirs.proposal_entry)
    assert proposal is not None
    body = acceptance_body(me, name, link.id, version, bytes.fromhex(theirs.digest))
    entry, _ = append_own(
        session,
        link,
        me,
        ACCEPT_KINDS[name],
        body,
        now_ms=now_ms,
        ref=Reference(proposal.id, proposal.hash),
    )
    theirs.accepted_by, theirs.acceptance_entry = me.party, entry.id
    theirs.acceptor_signature = body["signature"]
    _bring_into_force(session, theirs, now_ms)
    return theirs


# The peer's side ------------------------------------------------------------------


def apply_peer_document_entry(
    session: Session, entry: Entry, kind: Kind, body: dict[str, Any], *, now_ms: int
) -> None:
    """The peer's ``phrasebook.*`` or ``glossary.*`` entry entered the record."""
    link = session.get(Link, entry.link_id)
    assert link is not None
    name = DOCUMENT_OF[kind]
    if kind in PROPOSE_KINDS.values():
        _peer_proposal(session, link, name, entry, body, now_ms)
    else:
        _peer_acceptance(session, link, name, entry, body, now_ms)


def _peer_proposal(
    session: Session, link: Link, name: str, entry: Entry, body: dict[str, Any], now_ms: int
) -> None:
    refusal = None
    try:
        signed = read_proposal(body, document=name, link=link.id, proposer=peer_identity(link))
        assert signed.content is not None
        parsed = parse(name, signed.content)
        if parsed.version != signed.version:
            raise ProtocolError(Code.WRONG_VERSION, "the body's version is not the document's")
        check_newer(name, current_version(session, link.id, name), signed.version)
        version, digest, content, signature = (
            signed.version,
            signed.digest.hex(),
            signed.content,
            signed.signature,
        )
    except ProtocolError as exc:
        refusal = f"{exc.code.value}: {exc.detail}"
        raw = body.get("version") if isinstance(body, dict) else None
        version = raw if isinstance(raw, int) and 0 <= raw < 2**31 else 0
        digest, content, signature = "", b"", b""
    row = LinkDocument(
        link_id=link.id,
        document=name,
        version=version,
        digest=digest,
        content=content,
        state=PROPOSED if refusal is None else REFUSED,
        proposed_by=link.peer_party,
        proposal_entry=entry.id,
        proposer_signature=signature,
        proposed_ms=now_ms,
        refusal=refusal,
    )
    session.add(row)
    session.flush()
    if refusal is not None:
        log.warning("refused %s's %s proposal %s: %s", link.peer_party, name, entry.id, refusal)
        _audit_peer(session, link, f"{name}.propose", entry.id, refusal, now_ms)
    _event(session, row, now_ms)


def _peer_acceptance(
    session: Session, link: Link, name: str, entry: Entry, body: dict[str, Any], now_ms: int
) -> None:
    row = session.scalar(
        select(LinkDocument).where(
            LinkDocument.link_id == link.id, LinkDocument.proposal_entry == entry.ref
        )
    )
    try:
        if row is None or row.proposed_by == link.peer_party or row.document != name:
            raise ProtocolError(Code.BAD_REFERENCE, f"the acceptance names no {name} of ours")
        proposal = Signed(
            name, link.id, row.version, bytes.fromhex(row.digest), row.proposer_signature
        )
        signed = read_acceptance(body, proposal, acceptor=peer_identity(link))
        if row.state != PROPOSED:
            raise ProtocolError(Code.WRONG_VERSION, f"version {row.version} is {row.state}")
        check_newer(name, current_version(session, link.id, name), row.version)
    except ProtocolError as exc:
        reason = f"{exc.code.value}: {exc.detail}"
        log.warning("refused %s's %s acceptance %s: %s", link.peer_party, name, entry.id, reason)
        _audit_peer(session, link, f"{name}.accept", entry.id, reason, now_ms)
        record_event(
            session,
            f"{name}.refused",
            {"entry": entry.id, "refusal": reason, "from": link.peer_party},
            link_id=link.id,
            now_ms=now_ms,
        )
        return
    row.accepted_by, row.acceptance_entry = link.peer_party, entry.id
    row.acceptor_signature = signed.signature
    _bring_into_force(session, row, now_ms)


def _audit_peer(
    session: Session, link: Link, action: str, entry_id: str, reason: str, now_ms: int
) -> None:
    audit(
        session,
        actor=f"peer:{link.peer_party}",
        action=action,
        target=link.name,
        outcome="refused",
        detail={"code": reason.split(":", 1)[0], "detail": reason, "entry": entry_id},
        now=now_ms,
    )


def _bring_into_force(session: Session, row: LinkDocument, now_ms: int) -> None:
    same = (LinkDocument.link_id == row.link_id, LinkDocument.document == row.document)
    session.execute(
        update(LinkDocument).where(*same, LinkDocument.state == IN_FORCE).values(state=SUPERSEDED)
    )
    session.execute(
        update(LinkDocument)
        .where(
            *same,
            LinkDocument.state == PROPOSED,
            LinkDocument.version <= row.version,
            LinkDocument.id != row.id,
        )
        .values(state=WITHDRAWN)
    )
    row.state, row.in_force_ms = IN_FORCE, now_ms
    _event(session, row, now_ms)


def _event(session: Session, row: LinkDocument, now_ms: int) -> None:
    state = {IN_FORCE: "in_force", REFUSED: "refused"}.get(row.state, "proposed")
    record_event(
        session,
        f"{row.document}.{state}",
        {
            "document": row.document,
            "version": row.version,
            "digest": row.digest,
            "state": row.state,
            "proposed_by": row.proposed_by,
            "accepted_by": row.accepted_by,
            "entry": row.proposal_entry,
            "refusal": row.refusal,
        },
        link_id=row.link_id,
        now_ms=now_ms,
    )
