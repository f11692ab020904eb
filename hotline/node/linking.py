"""Links: set up out of band (invite, accept after a fingerprint check, complete),
then found by name or id."""

from __future__ import annotations

import os

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from ..errors import Reason
from ..protocol.envelope import new_id
from ..protocol.errors import Code, ProtocolError
from ..protocol.invitation import (
    Acceptance,
    Invitation,
    dearmour,
    make_acceptance,
    make_invitation,
    read_acceptance,
    read_invitation,
    read_invitation_body,
)
from ..protocol.keys import PrivateIdentity
from ..storage.models import Invitation as InvitationRow
from ..storage.models import Link
from .events import record_event
from .paths.store import create_direct_paths
from .refusals import Refused
from .runtime import NodeRuntime


def create_invitation(
    session: Session,
    me: PrivateIdentity,
    *,
    link_name: str,
    purpose: str,
    tls_certificate: bytes,
    endpoints: list[str],
    now_ms: int,
    valid_ms: int,
) -> tuple[Invitation, str]:
    if session.scalar(select(Link).where(Link.name == link_name)) is not None:
        raise ProtocolError(Code.ALREADY_USED, f"a link named {link_name!r} already exists")
    invitation, text = make_invitation(
        me,
        invitation_id=new_id(now_ms, os.urandom(10)),
        link_name=link_name,
        purpose=purpose,
        tls_certificate=tls_certificate,
        endpoints=endpoints,
        created_ms=now_ms,
        expires_ms=now_ms + valid_ms,
    )
    _, signature = dearmour("INVITATION", text)
    session.add(
        InvitationRow(
            id=invitation.id,
            link_name=link_name,
            purpose=purpose,
            signed=invitation.signed,
            signature=signature,
            created_ms=now_ms,
            expires_ms=invitation.expires_ms,
            used_ms=None,
        )
    )
    return invitation, text


def preview_invitation(me: PrivateIdentity, text: str, *, now_ms: int) -> Invitation:
    invitation = read_invitation(text, now_ms=now_ms)
    if invitation.inviter.identity.party == me.party:
        raise ProtocolError(Code.MALFORMED, "this invitation was written by this node")
    return invitation


def accept_invitation(
    session: Session,
    me: PrivateIdentity,
    text: str,
    *,
    tls_certificate: bytes,
    endpoints: list[str],
    now_ms: int,
) -> tuple[Link, str]:
    invitation = preview_invitation(me, text, now_ms=now_ms)
    if session.get(Link, invitation.id) is not None:
        raise ProtocolError(Code.ALREADY_USED, "this invitation has already been accepted here")
    if session.scalar(select(Link).where(Link.name == invitation.link_name)) is not None:
        raise ProtocolError(
            Code.ALREADY_USED, f"a link named {invitation.link_name!r} already exists here"
        )
    acceptance, acceptance_text = make_acceptance(
        me, invitation, tls_certificate=tls_certificate, endpoints=endpoints, created_ms=now_ms
    )
    _, invitation_signature = dearmour("INVITATION", text)
    _, acceptance_signature = dearmour("ACCEPTANCE", acceptance_text)
    link = _new_link(
        invitation,
        invitation_signature,
        acceptance,
        acceptance_signature,
        role="acceptor",
        now_ms=now_ms,
    )
    session.add(link)
    session.flush()
    create_direct_paths(session, link, now_ms)
    record_event(session, "link.created", _link_event(link), link_id=link.id, now_ms=now_ms)
    return link, acceptance_text


def preview_acceptance(text: str) -> Acceptance:
    """What an acceptance says (who accepted, which invitation), read before the
    operator confirms the acceptor's fingerprint; checked in full on completion."""
    from ..protocol.invitation import read_acceptance_body

    return read_acceptance_body(dearmour("ACCEPTANCE", text)[0])


def complete_link(session: Session, me: PrivateIdentity, text: str, *, now_ms: int) -> Link:
    signed, _ = dearmour("ACCEPTANCE", text)
    from ..protocol.invitation import read_acceptance_body

    invitation_id = read_acceptance_body(signed).invitation_id
    row = session.get(InvitationRow, invitation_id, with_for_update=True)
    if row is None:
        raise ProtocolError(Code.BAD_REFERENCE, "this acceptance answers no invitation of ours")
    if row.used_ms is not None:
        raise ProtocolError(Code.ALREADY_USED, "this invitation has already been used")
    if now_ms >= row.expires_ms:
        raise ProtocolError(Code.EXPIRED, "our invitation expired before it was completed")
    invitation = read_invitation_body(row.signed)
    acceptance = read_acceptance(text, invitation)
    _, acceptance_signature = dearmour("ACCEPTANCE", text)
    row.used_ms = now_ms
    link = _new_link(
        invitation, row.signature, acceptance, acceptance_signature, role="inviter", now_ms=now_ms
    )
    session.add(link)
    session.flush()
    create_direct_paths(session, link, now_ms)
    record_event(session, "link.created", _link_event(link), link_id=link.id, now_ms=now_ms)
    return link


def _new_link(
    invitation: Invitation,
    invitation_signature: bytes,
    acceptance: Acceptance,
    acceptance_signature: bytes,
    *,
    role: str,
    now_ms: int,
) -> Link:
    peer = acceptance.acceptor if role == "inviter" else invitation.inviter
    return Link(
        id=invitation.id,
        name=invitation.link_name,
        purpose=invitation.purpose,
        role=role,
        peer_party=peer.identity.party,
        peer_signing_key=peer.identity.signing_key,
        peer_encryption_key=peer.identity.encryption_key,
        peer_tls_certificate=peer.tls_certificate,
        peer_endpoints=list(peer.endpoints),
        invitation_signed=invitation.signed,
        invitation_signature=invitation_signature,
        acceptance_signed=acceptance.signed,
        acceptance_signature=acceptance_signature,
        created_ms=now_ms,
        own_seq=0,
        own_head=None,
        peer_seq=0,
        peer_head=None,
        peer_has_seq=0,
        record_length=0,
    )


def _link_event(link: Link) -> dict[str, object]:
    return {"id": link.id, "name": link.name, "peer": link.peer_party, "role": link.role}


def all_links(node: NodeRuntime) -> list[Link]:
    with node.reading() as session:
        return list(session.scalars(select(Link).order_by(Link.created_ms)))


def find_link(node: NodeRuntime, name_or_id: str) -> Link:
    with node.reading() as session:
        link = session.scalar(
            select(Link).where(or_(Link.name == name_or_id, Link.id == name_or_id))
        )
    if link is None:
        raise Refused(Reason.UNKNOWN_LINK, f"no link named {name_or_id!r}; see 'hotline link list'")
    return link
