"""A link's signed policy as this node keeps it: proposals, countersignatures, the
version in force.

Version 1 is proposed by the inviter when it completes the link; the acceptor's
administrator countersigns it. Either side may then propose version n + 1; it comes
into force when the other side countersigns. Until a version is in force the link
has no emergency criteria, so the emergency channel is closed. The policy in force is
the source of truth for the link's ``share_displayed`` and ``replies_need_approval``.

Conflicting proposals (both sides propose version n at once): the inviter's wins. The
inviter cannot accept the acceptor's version n while its own version n is pending;
the acceptor can accept the inviter's, which withdraws its own.

A peer's proposal or acceptance that fails a check is still recorded (it is a validly
signed entry of the peer's chain, and refusing it would block the chain) but changes
nothing: its row is ``refused`` with the reason, logged and announced as an event.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ...errors import Reason
from ...protocol.errors import Code, ProtocolError
from ...protocol.keys import PrivateIdentity, PublicIdentity
from ...protocol.kinds import Kind
from ...protocol.policy import (
    Agreement,
    Policy,
    Proposal,
    acceptance_body,
    check_next_version,
    proposal_body,
    read_acceptance,
    read_proposal,
)
from ...storage.models import Entry, Link
from ...storage.policy_models import LinkPolicy
from ..events import record_event
from ..record_store import Reference, append_own, find_entry, peer_identity
from ..refusals import Refused, audit, jsonable

if TYPE_CHECKING:
    from ..runtime import NodeRuntime

log = logging.getLogger("hotline.policy")

PROPOSED, IN_FORCE, SUPERSEDED, REFUSED, WITHDRAWN = (
    "proposed",
    "in_force",
    "superseded",
    "refused",
    "withdrawn",
)


@dataclass(frozen=True)
class PolicyVersion:
    """A policy version and its state, for the console, the API and the CLI."""

    version: int
    state: str
    proposed_by: str
    proposed_ms: int
    accepted_by: str | None
    in_force_ms: int | None
    refusal: str | None
    policy: Policy | None  # None when the proposal was refused as unreadable
    proposal_entry: str
    acceptance_entry: str | None

    def view(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "state": self.state,
            "proposed_by": self.proposed_by,
            "proposed_ms": self.proposed_ms,
            "accepted_by": self.accepted_by,
            "in_force_ms": self.in_force_ms,
            "refusal": self.refusal,
            "policy": None if self.policy is None else jsonable(self.policy.to_map()),
            "proposal_entry": self.proposal_entry,
            "acceptance_entry": self.acceptance_entry,
        }


@dataclass(frozen=True)
class PolicyState:
    """A link's policies: the version in force (if any), and every version proposed."""

    link_id: str
    link_name: str
    in_force: Policy | None
    agreement: Agreement | None  # the version in force with both signatures
    versions: list[PolicyVersion]

    @property
    def pending(self) -> list[PolicyVersion]:
        return [v for v in self.versions if v.state == PROPOSED]

    def view(self) -> dict[str, Any]:
        return {
            "link_id": self.link_id,
            "link": self.link_name,
            "in_force": None if self.in_force is None else self.in_force.to_map(),
            "version": 0 if self.in_force is None else self.in_force.version,
            "signed_by": (
                None
                if self.agreement is None
                else [self.agreement.proposer.party, self.agreement.acceptor.party]
            ),
            "versions": [v.view() for v in self.versions],
        }


def version_of(row: LinkPolicy) -> PolicyVersion:
    policy = None
    if row.state != REFUSED or row.document.get("type") is not None:
        try:
            policy = Policy.from_map(row.document)
        except ProtocolError:
            policy = None
    return PolicyVersion(
        version=row.version,
        state=row.state,
        proposed_by=row.proposed_by,
        proposed_ms=row.proposed_ms,
        accepted_by=row.accepted_by,
        in_force_ms=row.in_force_ms,
        refusal=row.refusal,
        policy=policy,
        proposal_entry=row.proposal_entry,
        acceptance_entry=row.acceptance_entry,
    )


def in_force_row(session: Session, link_id: str) -> LinkPolicy | None:
    return session.scalar(
        select(LinkPolicy)
        .where(LinkPolicy.link_id == link_id, LinkPolicy.state == IN_FORCE)
        .order_by(LinkPolicy.version.desc())
        .limit(1)
    )


def in_force(session: Session, link_id: str) -> Policy | None:
    row = in_force_row(session, link_id)
    return None if row is None else Policy.from_map(row.document)


def versions(session: Session, link_id: str) -> list[PolicyVersion]:
    rows = session.scalars(
        select(LinkPolicy)
        .where(LinkPolicy.link_id == link_id)
        .order_by(LinkPolicy.version, LinkPolicy.id)
    )
    return [version_of(row) for row in rows]


def agreement(session: Session, link: Link, me: PublicIdentity) -> Agreement | None:
    """The policy in force with both signatures, checkable offline."""
    row = in_force_row(session, link.id)
    if row is None or row.acceptor_signature is None:
        return None
    peer = peer_identity(link)
    proposer, acceptor = (me, peer) if row.proposed_by == me.party else (peer, me)
    return Agreement(
        Policy.from_map(row.document),
        proposer,
        row.proposer_signature,
        acceptor,
        row.acceptor_signature,
    )


def policy_state(node: NodeRuntime, link: Link) -> PolicyState:
    """The link's policies, the agreement in force verified, in one read."""
    with node.reading() as session:
        signed = agreement(session, link, node.identity.public)
        if signed is not None:
            signed.verify()
        return PolicyState(
            link.id, link.name, in_force(session, link.id), signed, versions(session, link.id)
        )


def current_version(session: Session, link_id: str) -> int:
    row = in_force_row(session, link_id)
    return 0 if row is None else row.version


# Our side -------------------------------------------------------------------------


def propose(
    session: Session, me: PrivateIdentity, link: Link, policy: Policy, *, now_ms: int
) -> LinkPolicy:
    """Sign ``policy`` and send it as a ``policy.propose`` entry. The caller holds the
    link lock. Refuses a wrong link or version, or a second pending proposal of ours."""
    if policy.link != link.id:
        raise ProtocolError(Code.WRONG_LINK, f"the policy is for link {policy.link}, not {link.id}")
    check_next_version(current_version(session, link.id), policy)
    pending = session.scalar(
        select(LinkPolicy).where(
            LinkPolicy.link_id == link.id,
            LinkPolicy.state == PROPOSED,
            LinkPolicy.proposed_by == me.party,
            LinkPolicy.version == policy.version,
        )
    )
    if pending is not None:
        raise Refused(
            Reason.ALREADY_PROPOSED,
            f"our version {policy.version} is already awaiting {link.peer_party}'s signature",
        )
    body = proposal_body(me, policy)
    entry, _ = append_own(session, link, me, Kind.POLICY_PROPOSE, body, now_ms=now_ms)
    row = LinkPolicy(
        link_id=link.id,
        version=policy.version,
        state=PROPOSED,
        proposed_by=me.party,
        proposal_entry=entry.id,
        document=policy.to_map(),
        proposer_signature=body["signature"],
        proposed_ms=now_ms,
    )
    session.add(row)
    session.flush()
    _event(session, "policy.proposed", row, now_ms)
    return row


def accept(
    session: Session, me: PrivateIdentity, link: Link, version: int, *, now_ms: int
) -> LinkPolicy:
    """Countersign the peer's pending proposal of ``version``: it comes into force here
    at once, and on the peer's side when our ``policy.accept`` arrives."""
    rows = list(
        session.scalars(
            select(LinkPolicy).where(
                LinkPolicy.link_id == link.id,
                LinkPolicy.version == version,
                LinkPolicy.state == PROPOSED,
            )
        )
    )
    theirs = next((r for r in rows if r.proposed_by == link.peer_party), None)
    ours = next((r for r in rows if r.proposed_by == me.party), None)
    if theirs is None:
        if ours is not None:
            raise Refused(
                Reason.OWN_PROPOSAL,
                f"version {version} is our own proposal: {link.peer_party} must countersign it",
            )
        raise Refused(
            Reason.NO_PROPOSAL, f"{link.peer_party} has no pending proposal of version {version}"
        )
    policy = Policy.from_map(theirs.document)
    check_next_version(current_version(session, link.id), policy)
    if ours is not None and link.role == "inviter":
        raise Refused(
            Reason.CONFLICTING_PROPOSAL,
            f"our own version {version} is pending and, as the inviter, takes precedence; "
            f"wait for {link.peer_party} to answer it",
        )
    proposal_entry = find_entry(session, link.id, theirs.proposal_entry)
    assert proposal_entry is not None
    body = acceptance_body(me, policy)
    entry, _ = append_own(
        session,
        link,
        me,
        Kind.POLICY_ACCEPT,
        body,
        now_ms=now_ms,
        ref=Reference(proposal_entry.id, proposal_entry.hash),
    )
    theirs.accepted_by = me.party
    theirs.acceptance_entry = entry.id
    theirs.acceptor_signature = body["signature"]
    _bring_into_force(session, link, theirs, now_ms)
    return theirs


# The peer's side ------------------------------------------------------------------


def apply_peer_policy_entry(
    session: Session, entry: Entry, kind: Kind, body: dict[str, Any], *, now_ms: int
) -> None:
    """The peer's ``policy.propose`` or ``policy.accept`` entered the record."""
    link = session.get(Link, entry.link_id)
    assert link is not None
    if kind is Kind.POLICY_PROPOSE:
        _peer_proposal(session, link, entry, body, now_ms)
    elif kind is Kind.POLICY_ACCEPT:
        _peer_acceptance(session, link, entry, body, now_ms)


def _peer_proposal(
    session: Session, link: Link, entry: Entry, body: dict[str, Any], now_ms: int
) -> None:
    refusal = None
    try:
        proposal = read_proposal(body, link=link.id, proposer=peer_identity(link))
        check_next_version(current_version(session, link.id), proposal.policy)
        document, version, signature = (
            proposal.policy.to_map(),
            proposal.policy.version,
            (proposal.signature),
        )
    except ProtocolError as exc:
        refusal = f"{exc.code.value}: {exc.detail}"
        raw = body.get("policy") if isinstance(body, dict) else None
        document = jsonable(raw) if isinstance(raw, dict) else {}
        raw_version = document.get("version")
        version = raw_version if isinstance(raw_version, int) and 0 <= raw_version < 2**31 else 0
        signature = b""
    row = LinkPolicy(
        link_id=link.id,
        version=version,
        state=PROPOSED if refusal is None else REFUSED,
        proposed_by=link.peer_party,
        proposal_entry=entry.id,
        document=document,
        proposer_signature=signature,
        proposed_ms=now_ms,
        refusal=refusal,
    )
    session.add(row)
    session.flush()
    if refusal is not None:
        log.warning("refused %s's policy proposal %s: %s", link.peer_party, entry.id, refusal)
        _audit_peer(session, link, "policy.propose", entry.id, refusal, now_ms)
        _event(session, "policy.refused", row, now_ms)
    else:
        _event(session, "policy.proposed", row, now_ms)


def _peer_acceptance(
    session: Session, link: Link, entry: Entry, body: dict[str, Any], now_ms: int
) -> None:
    row = session.scalar(
        select(LinkPolicy).where(
            LinkPolicy.link_id == link.id, LinkPolicy.proposal_entry == entry.ref
        )
    )
    try:
        if row is None or row.proposed_by == link.peer_party:
            raise ProtocolError(Code.BAD_REFERENCE, "the acceptance names no proposal of ours")
        policy = Policy.from_map(row.document)
        signature = read_acceptance(
            body, Proposal(policy, row.proposer_signature), acceptor=peer_identity(link)
        )
        if row.state != PROPOSED:
            raise ProtocolError(Code.WRONG_VERSION, f"version {row.version} is {row.state}")
        check_next_version(current_version(session, link.id), policy)
    except ProtocolError as exc:
        reason = f"{exc.code.value}: {exc.detail}"
        log.warning("refused %s's policy acceptance %s: %s", link.peer_party, entry.id, reason)
        _audit_peer(session, link, "policy.accept", entry.id, reason, now_ms)
        record_event(
            session,
            "policy.refused",
            {"entry": entry.id, "refusal": reason, "from": link.peer_party},
            link_id=link.id,
            now_ms=now_ms,
        )
        return
    row.accepted_by = link.peer_party
    row.acceptance_entry = entry.id
    row.acceptor_signature = signature
    _bring_into_force(session, link, row, now_ms)


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


def _bring_into_force(session: Session, link: Link, row: LinkPolicy, now_ms: int) -> None:
    policy = Policy.from_map(row.document)
    session.execute(
        update(LinkPolicy)
        .where(LinkPolicy.link_id == link.id, LinkPolicy.state == IN_FORCE)
        .values(state=SUPERSEDED)
    )
    session.execute(
        update(LinkPolicy)
        .where(
            LinkPolicy.link_id == link.id,
            LinkPolicy.state == PROPOSED,
            LinkPolicy.version <= row.version,
            LinkPolicy.id != row.id,
        )
        .values(state=WITHDRAWN)
    )
    row.state, row.in_force_ms = IN_FORCE, now_ms
    link.share_displayed = policy.share_displayed
    link.replies_need_approval = policy.replies_need_approval
    _event(session, "policy.in_force", row, now_ms)


def _event(session: Session, type_: str, row: LinkPolicy, now_ms: int) -> None:
    record_event(
        session,
        type_,
        {
            "version": row.version,
            "state": row.state,
            "proposed_by": row.proposed_by,
            "accepted_by": row.accepted_by,
            "entry": row.proposal_entry,
            "refusal": row.refusal,
        },
        link_id=row.link_id,
        now_ms=now_ms,
    )
