"""Link policies: the rules of a link, agreed and signed by both parties.

A policy is a versioned document (deterministic CBOR map) that states what the link
is for, which events justify the emergency channel (the agreed criteria, with a label
in every working language), the working languages, the expected times to acknowledge
and to answer on each channel, whether an emergency activation needs a second
operator's approval (the two-person rule), whether "displayed" receipts are shared,
whether replies need a principal's approval, and how often the line is tested.

Both parties sign the same statement, ``{"context": "hotline-link-policy-v1",
"policy": SHA-256(policy)}``, with their Ed25519 signing keys:

* the proposer in the body of a ``policy.propose`` entry:
  ``{"policy": policy, "signature": proposer's signature}``;
* the other party in the body of a ``policy.accept`` entry that refers to the
  proposal: ``{"version": n, "policy_hash": SHA-256(policy), "signature": ...}``.

A policy is **in force** only once both signatures exist and verify. Version 1 is
proposed at link set-up; version n + 1 amends version n. Everything here is pure: the
node decides which version is in force from these checks and its record.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .encoding import decode, encode, is_version
from .errors import Code, ProtocolError
from .keys import SIGNATURE_SIZE, PrivateIdentity, PublicIdentity, verify_signature
from .record import RecordEntry

POLICY_TYPE = "hotline-link-policy"
POLICY_FORMAT = 1
SIGNING_CONTEXT = "hotline-link-policy-v1"
MAX_POLICY_BYTES = 32 * 1024
MAX_CRITERIA = 32
MAX_LANGUAGES = 8
MAX_LABEL_CHARS = 200
MAX_PURPOSE_CHARS = 500
MAX_VERSION = 2**31
MAX_SECONDS = 366 * 86_400
CHANNELS = ("emergency", "routine")
# \Z, not $: "$" also matches before a final newline.
CRITERION_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,47}\Z")
LANGUAGE_TAG = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*\Z")

POLICY_FIELDS = frozenset(
    {
        "type",
        "v",
        "link",
        "version",
        "purpose",
        "criteria",
        "languages",
        "channels",
        "two_person_rule",
        "share_displayed",
        "replies_need_approval",
        "link_test",
    }
)
# What an administrator may write in a proposal file; the rest is filled in.
EDITABLE_FIELDS = POLICY_FIELDS - {"type", "v", "link"}
CHANNEL_FIELDS = frozenset({"acknowledge_s", "answer_s"})
LINK_TEST_FIELDS = frozenset({"interval_s", "confirm_s"})
CRITERION_FIELDS = frozenset({"id", "labels"})
PROPOSE_FIELDS = frozenset({"policy", "signature"})
ACCEPT_FIELDS = frozenset({"version", "policy_hash", "signature"})


@dataclass(frozen=True)
class Criterion:
    """An agreed reason to use the emergency channel, labelled in each working language."""

    id: str
    labels: Mapping[str, str]

    def label(self, language: str) -> str:
        return self.labels.get(language) or self.labels.get("en") or self.id

    def to_map(self) -> dict[str, Any]:
        return {"id": self.id, "labels": dict(self.labels)}


@dataclass(frozen=True)
class ChannelTimes:
    """Expected seconds from sending to a human acknowledgement, and to an answer."""

    acknowledge_s: int
    answer_s: int

    def to_map(self) -> dict[str, Any]:
        return {"acknowledge_s": self.acknowledge_s, "answer_s": self.answer_s}


@dataclass(frozen=True)
class LinkTestRule:
    """How often a human-confirmed link test is sent (0: never) and how long the other
    side has to confirm it."""

    interval_s: int
    confirm_s: int

    def to_map(self) -> dict[str, Any]:
        return {"interval_s": self.interval_s, "confirm_s": self.confirm_s}


DEFAULT_CRITERIA: tuple[Criterion, ...] = (
    Criterion("armed-incident", {"en": "Risk of an armed incident", "zh-Hans": "武装事件风险"}),
    Criterion(
        "airspace-object",
        {"en": "Unexplained object in airspace", "zh-Hans": "空域内不明物体"},
    ),
    Criterion("missile-nuclear", {"en": "Missile or nuclear event", "zh-Hans": "导弹或核事件"}),
    Criterion("space-collision", {"en": "Space collision risk", "zh-Hans": "太空碰撞风险"}),
    Criterion(
        "major-accident",
        {"en": "Major accident or disaster", "zh-Hans": "重大事故或灾害"},
    ),
)


@dataclass(frozen=True)
class Policy:
    link: str
    version: int
    purpose: str
    criteria: tuple[Criterion, ...] = DEFAULT_CRITERIA
    languages: tuple[str, ...] = ("en", "zh-Hans")
    channels: Mapping[str, ChannelTimes] = field(
        default_factory=lambda: {
            "emergency": ChannelTimes(acknowledge_s=300, answer_s=3_600),
            "routine": ChannelTimes(acknowledge_s=86_400, answer_s=7 * 86_400),
        }
    )
    two_person_rule: bool = True
    share_displayed: bool = True
    replies_need_approval: bool = True
    link_test: LinkTestRule = LinkTestRule(interval_s=3_600, confirm_s=600)

    def to_map(self) -> dict[str, Any]:
        return {
            "type": POLICY_TYPE,
            "v": POLICY_FORMAT,
            "link": self.link,
            "version": self.version,
            "purpose": self.purpose,
            "criteria": [c.to_map() for c in self.criteria],
            "languages": list(self.languages),
            "channels": {name: self.channels[name].to_map() for name in CHANNELS},
            "two_person_rule": self.two_person_rule,
            "share_displayed": self.share_displayed,
            "replies_need_approval": self.replies_need_approval,
            "link_test": self.link_test.to_map(),
        }

    def to_bytes(self) -> bytes:
        return encode(self.to_map())

    @property
    def hash(self) -> bytes:
        return policy_hash(self.to_bytes())

    def criterion(self, criterion_id: str) -> Criterion | None:
        return next((c for c in self.criteria if c.id == criterion_id), None)

    @classmethod
    def from_map(cls, value: Any) -> Policy:
        """Check every field strictly; refuse unknown and missing fields."""
        if not isinstance(value, dict):
            raise ProtocolError(Code.MALFORMED, "a policy must be a map")
        _exact_fields(value, POLICY_FIELDS, "policy")
        if value["type"] != POLICY_TYPE or not is_version(value["v"], POLICY_FORMAT):
            raise ProtocolError(Code.UNSUPPORTED_VERSION, "not a format-1 Hotline link policy")
        languages = _languages(value["languages"])
        policy = cls(
            link=_text(value["link"], "link", 64),
            version=_int(value["version"], "version", 1, MAX_VERSION),
            purpose=_text(value["purpose"], "purpose", MAX_PURPOSE_CHARS),
            criteria=_criteria(value["criteria"], languages),
            languages=languages,
            channels=_channels(value["channels"]),
            two_person_rule=_bool(value["two_person_rule"], "two_person_rule"),
            share_displayed=_bool(value["share_displayed"], "share_displayed"),
            replies_need_approval=_bool(value["replies_need_approval"], "replies_need_approval"),
            link_test=_link_test(value["link_test"]),
        )
        return policy

    @classmethod
    def from_bytes(cls, data: bytes) -> Policy:
        return cls.from_map(decode(data, max_size=MAX_POLICY_BYTES))


def default_policy(link: str, purpose: str, *, version: int = 1) -> Policy:
    """The policy proposed at set-up unless the administrator writes another."""
    return Policy.from_map(Policy(link=link, version=version, purpose=purpose).to_map())


def amend(base: Policy, changes: Mapping[str, Any], *, in_force: int | None = None) -> Policy:
    """The next version: ``base`` with the fields in ``changes`` replaced (in the
    same form as the policy map, e.g. from a JSON file). ``in_force`` is the version
    in force (default: ``base``'s; 0 when ``base`` is only the defaults for version 1).
    ``version`` may be given but must then be the next one; ``type``, ``v`` and
    ``link`` may not be changed."""
    unknown = sorted(set(changes) - EDITABLE_FIELDS)
    if unknown:
        raise ProtocolError(Code.UNKNOWN_FIELD, f"unknown or fixed policy fields: {unknown}")
    current = base.version if in_force is None else in_force
    merged = base.to_map()
    merged.update(changes)
    merged["version"] = changes.get("version", current + 1)
    proposed = Policy.from_map(merged)
    check_next_version(current, proposed)
    return proposed


def check_next_version(in_force: int, proposed: Policy) -> None:
    """A proposal must be exactly the version after the one in force (0: none yet)."""
    if proposed.version != in_force + 1:
        raise ProtocolError(
            Code.WRONG_VERSION,
            f"policy version {proposed.version} proposed, but version {in_force} is in force: "
            f"the next proposal must be version {in_force + 1}",
        )


def policy_hash(policy_bytes: bytes) -> bytes:
    return hashlib.sha256(policy_bytes).digest()


def signing_statement(policy_digest: bytes) -> bytes:
    """What both parties sign: the context string and the policy's hash."""
    return encode({"context": SIGNING_CONTEXT, "policy": policy_digest})


def sign_policy(me: PrivateIdentity, policy: Policy) -> bytes:
    return me.sign(signing_statement(policy.hash))


def verify_policy_signature(signer: PublicIdentity, policy: Policy, signature: bytes) -> None:
    if not isinstance(signature, bytes) or len(signature) != SIGNATURE_SIZE:
        raise ProtocolError(Code.BAD_SIGNATURE, "a policy signature must be 64 bytes")
    verify_signature(signer.signing_key, signing_statement(policy.hash), signature)


# Entry bodies -------------------------------------------------------------------


def proposal_body(me: PrivateIdentity, policy: Policy) -> dict[str, Any]:
    """The body of a ``policy.propose`` entry: the policy and the proposer's signature."""
    return {"policy": policy.to_map(), "signature": sign_policy(me, policy)}


def acceptance_body(me: PrivateIdentity, policy: Policy) -> dict[str, Any]:
    """The body of a ``policy.accept`` entry: the countersignature of ``policy``."""
    return {
        "version": policy.version,
        "policy_hash": policy.hash,
        "signature": sign_policy(me, policy),
    }


@dataclass(frozen=True)
class Proposal:
    policy: Policy
    signature: bytes


def read_proposal(body: Any, *, link: str, proposer: PublicIdentity) -> Proposal:
    """Check a ``policy.propose`` body: its fields, the policy, its link, the signature."""
    if not isinstance(body, dict):
        raise ProtocolError(Code.MALFORMED, "a policy proposal must be a map")
    _exact_fields(body, PROPOSE_FIELDS, "policy proposal")
    policy = Policy.from_map(body["policy"])
    if policy.link != link:
        raise ProtocolError(Code.WRONG_LINK, f"the policy is for link {policy.link}, not {link}")
    verify_policy_signature(proposer, policy, body["signature"])
    return Proposal(policy, body["signature"])


def read_acceptance(body: Any, proposal: Proposal, *, acceptor: PublicIdentity) -> bytes:
    """Check a ``policy.accept`` body against the proposal it refers to; returns the
    countersignature."""
    if not isinstance(body, dict):
        raise ProtocolError(Code.MALFORMED, "a policy acceptance must be a map")
    _exact_fields(body, ACCEPT_FIELDS, "policy acceptance")
    _int(body["version"], "version", 1, MAX_VERSION)
    if body["version"] != proposal.policy.version:
        raise ProtocolError(
            Code.WRONG_VERSION,
            f"the acceptance names version {body['version']!r}, the proposal is version "
            f"{proposal.policy.version}",
        )
    if body["policy_hash"] != proposal.policy.hash:
        raise ProtocolError(Code.BAD_REFERENCE, "the acceptance is for another policy text")
    verify_policy_signature(acceptor, proposal.policy, body["signature"])
    signature: bytes = body["signature"]
    return signature


@dataclass(frozen=True)
class Agreement:
    """A policy with both parties' signatures: checkable offline by anyone."""

    policy: Policy
    proposer: PublicIdentity
    proposer_signature: bytes
    acceptor: PublicIdentity
    acceptor_signature: bytes

    def verify(self) -> None:
        if self.proposer.party == self.acceptor.party:
            raise ProtocolError(Code.MALFORMED, "a policy needs the signatures of both parties")
        verify_policy_signature(self.proposer, self.policy, self.proposer_signature)
        verify_policy_signature(self.acceptor, self.policy, self.acceptor_signature)


# Field checks -------------------------------------------------------------------


def _exact_fields(value: dict[str, Any], expected: frozenset[str], what: str) -> None:
    unknown = sorted(k for k in value if k not in expected)
    if unknown:
        raise ProtocolError(Code.UNKNOWN_FIELD, f"unknown {what} fields: {unknown}")
    missing = sorted(expected - set(value))
    if missing:
        raise ProtocolError(Code.MALFORMED, f"missing {what} fields: {missing}")


def _text(value: Any, name: str, max_chars: int) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > max_chars:
        raise ProtocolError(Code.MALFORMED, f"{name} must be text of 1..{max_chars} characters")
    return value


def _int(value: Any, name: str, low: int, high: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ProtocolError(Code.MALFORMED, f"{name} must be an integer in {low}..{high}")
    return value


def _bool(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise ProtocolError(Code.MALFORMED, f"{name} must be true or false")
    return value


def _languages(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not 0 < len(value) <= MAX_LANGUAGES:
        raise ProtocolError(Code.MALFORMED, f"languages must list 1..{MAX_LANGUAGES} tags")
    for tag in value:
        if not isinstance(tag, str) or not LANGUAGE_TAG.fullmatch(tag):
            raise ProtocolError(Code.MALFORMED, f"{tag!r} is not a language tag like 'zh-Hans'")
    if len(set(value)) != len(value):
        raise ProtocolError(Code.MALFORMED, "languages must not repeat")
    return tuple(value)


def _criteria(value: Any, languages: tuple[str, ...]) -> tuple[Criterion, ...]:
    if not isinstance(value, list) or not 0 < len(value) <= MAX_CRITERIA:
        raise ProtocolError(Code.MALFORMED, f"criteria must list 1..{MAX_CRITERIA} criteria")
    result = []
    for item in value:
        if not isinstance(item, dict):
            raise ProtocolError(Code.MALFORMED, "each criterion must be a map")
        _exact_fields(item, CRITERION_FIELDS, "criterion")
        criterion_id = item["id"]
        if not isinstance(criterion_id, str) or not CRITERION_ID.fullmatch(criterion_id):
            raise ProtocolError(
                Code.MALFORMED, f"criterion id {criterion_id!r}: lower-case letters, digits, '-'"
            )
        labels = item["labels"]
        if not isinstance(labels, dict) or set(labels) != set(languages):
            raise ProtocolError(
                Code.MALFORMED,
                f"criterion {criterion_id!r} needs one label in each language {list(languages)}",
            )
        for label in labels.values():
            _text(label, f"label of {criterion_id!r}", MAX_LABEL_CHARS)
        result.append(Criterion(criterion_id, dict(labels)))
    if len({c.id for c in result}) != len(result):
        raise ProtocolError(Code.MALFORMED, "criterion ids must be unique")
    return tuple(result)


def _channels(value: Any) -> dict[str, ChannelTimes]:
    if not isinstance(value, dict):
        raise ProtocolError(Code.MALFORMED, "channels must be a map")
    _exact_fields(value, frozenset(CHANNELS), "channels")
    result = {}
    for name in CHANNELS:
        times = value[name]
        if not isinstance(times, dict):
            raise ProtocolError(Code.MALFORMED, f"channel {name} must be a map")
        _exact_fields(times, CHANNEL_FIELDS, f"{name} channel")
        acknowledge = _int(times["acknowledge_s"], f"{name}.acknowledge_s", 1, MAX_SECONDS)
        answer = _int(times["answer_s"], f"{name}.answer_s", 1, MAX_SECONDS)
        if answer < acknowledge:
            raise ProtocolError(
                Code.MALFORMED, f"{name}: the time to answer cannot be shorter than to acknowledge"
            )
        result[name] = ChannelTimes(acknowledge, answer)
    return result


def _link_test(value: Any) -> LinkTestRule:
    if not isinstance(value, dict):
        raise ProtocolError(Code.MALFORMED, "link_test must be a map")
    _exact_fields(value, LINK_TEST_FIELDS, "link_test")
    interval = _int(value["interval_s"], "link_test.interval_s", 0, MAX_SECONDS)
    if 0 < interval < 60:
        raise ProtocolError(Code.MALFORMED, "link_test.interval_s must be 0 (off) or ≥ 60")
    confirm = _int(value["confirm_s"], "link_test.confirm_s", 10, MAX_SECONDS)
    return LinkTestRule(interval, confirm)


# Reading the agreements out of a record ---------------------------------------


@dataclass(frozen=True)
class RecordedAgreement:
    """A policy version that came into force in a record: both signatures verify."""

    agreement: Agreement
    proposal_id: str
    acceptance_id: str


def agreements_in_record(
    link: str, parties: Mapping[str, PublicIdentity], entries: Iterable[RecordEntry]
) -> tuple[list[RecordedAgreement], list[str]]:
    """Replay the policy entries of a verified record (e.g. a bundle's, after
    ``verify_bundle``): the versions that came into force, in order, and a note for
    every policy entry that changed nothing (unreadable, wrong version, bad
    signature, withdrawn, or whose payload is not disclosed). Pure; for auditors."""
    from .envelope import Payload, parse
    from .kinds import Kind

    proposals: dict[str, tuple[Proposal, str]] = {}
    in_force: list[RecordedAgreement] = []
    notes: list[str] = []
    for entry in entries:
        header = parse(entry.envelope_bytes).header
        if header.kind not in (Kind.POLICY_PROPOSE, Kind.POLICY_ACCEPT):
            continue
        if entry.payload_bytes is None:
            notes.append(f"{header.id}: {header.kind.value} without its payload")
            continue
        body = Payload.from_bytes(entry.payload_bytes).body
        current = in_force[-1].agreement.policy.version if in_force else 0
        try:
            if header.kind is Kind.POLICY_PROPOSE:
                proposal = read_proposal(body, link=link, proposer=parties[header.sender])
                check_next_version(current, proposal.policy)
                proposals[header.id] = (proposal, header.sender)
                continue
            if header.ref not in proposals:
                raise ProtocolError(Code.BAD_REFERENCE, "it names no readable proposal")
            proposal, proposer = proposals.pop(header.ref)
            if proposer == header.sender:
                raise ProtocolError(Code.MALFORMED, "a party cannot countersign itself")
            signature = read_acceptance(body, proposal, acceptor=parties[header.sender])
            check_next_version(current, proposal.policy)
        except (ProtocolError, KeyError) as exc:
            reason = exc.detail if isinstance(exc, ProtocolError) else "unknown party"
            notes.append(f"{header.id}: {header.kind.value} changed nothing ({reason})")
            continue
        agreement = Agreement(
            proposal.policy,
            parties[proposer],
            proposal.signature,
            parties[header.sender],
            signature,
        )
        agreement.verify()
        in_force.append(RecordedAgreement(agreement, header.ref or "", header.id))
    for entry_id, (proposal, proposer) in proposals.items():
        notes.append(
            f"{entry_id}: version {proposal.policy.version} proposed by {proposer}, "
            "not countersigned (not in force)"
        )
    return in_force, notes
