"""Link policies in the pure core: strict reading, signatures by both parties,
amendments only to the next version, and every refusal with its code."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hotline.protocol.encoding import decode
from hotline.protocol.errors import Code, ProtocolError
from hotline.protocol.policy import (
    DEFAULT_CRITERIA,
    MAX_POLICY_BYTES,
    Agreement,
    Policy,
    Proposal,
    acceptance_body,
    amend,
    check_next_version,
    default_policy,
    proposal_body,
    read_acceptance,
    read_proposal,
    sign_policy,
    verify_policy_signature,
)
from tests.vectors.generate import identity, public

LINK = "01HF7YAT001WF2TF2BB9MQH1WP"
W, B = identity("washington"), identity("beijing")


def policy(**changes: Any) -> Policy:
    base = default_policy(LINK, "Defence ministries' crisis link")
    return amend(base, changes, in_force=0) if changes else base


def code_of(call: Any) -> Code:
    with pytest.raises(ProtocolError) as info:
        call()
    return info.value.code


def test_the_default_policy_names_the_agreed_criteria_in_both_languages() -> None:
    p = policy()
    assert p.version == 1
    assert [c.id for c in p.criteria] == [
        "armed-incident",
        "airspace-object",
        "missile-nuclear",
        "space-collision",
        "major-accident",
    ]
    assert all(set(c.labels) == {"en", "zh-Hans"} for c in p.criteria)
    assert p.criterion("airspace-object") is not None
    assert p.criterion("holiday-greetings") is None
    assert p.two_person_rule and p.share_displayed and p.replies_need_approval
    assert p.channels["emergency"].acknowledge_s < p.channels["routine"].acknowledge_s


def test_encoding_is_deterministic_and_round_trips() -> None:
    p = policy()
    data = p.to_bytes()
    assert Policy.from_bytes(data) == p
    assert Policy.from_bytes(data).to_bytes() == data
    assert p.hash == policy().hash
    assert len(data) < MAX_POLICY_BYTES
    assert decode(data, max_size=MAX_POLICY_BYTES)["type"] == "hotline-link-policy"


def test_both_parties_sign_and_anyone_can_verify_the_agreement() -> None:
    p = policy()
    proposal = read_proposal(proposal_body(W, p), link=LINK, proposer=public("washington"))
    countersignature = read_acceptance(acceptance_body(B, p), proposal, acceptor=public("beijing"))
    agreement = Agreement(
        p, public("washington"), proposal.signature, public("beijing"), countersignature
    )
    agreement.verify()
    # A signature by one side only is not an agreement.
    one_sided = Agreement(
        p, public("washington"), proposal.signature, public("washington"), proposal.signature
    )
    assert code_of(one_sided.verify) is Code.MALFORMED
    swapped = Agreement(
        p, public("washington"), countersignature, public("beijing"), proposal.signature
    )
    assert code_of(swapped.verify) is Code.BAD_SIGNATURE


def test_a_signature_covers_every_field() -> None:
    p = policy()
    signature = sign_policy(W, p)
    verify_policy_signature(public("washington"), p, signature)
    changed = amend(p, {"two_person_rule": False}, in_force=0)
    assert (
        code_of(lambda: verify_policy_signature(public("washington"), changed, signature))
        is Code.BAD_SIGNATURE
    )
    assert (
        code_of(lambda: verify_policy_signature(public("washington"), p, signature[:10]))
        is Code.BAD_SIGNATURE
    )


def test_amendments_go_to_the_next_version_only() -> None:
    v1 = policy()
    v2 = amend(v1, {"link_test": {"interval_s": 600, "confirm_s": 120}})
    assert v2.version == 2 and v2.link_test.interval_s == 600
    check_next_version(1, v2)
    assert code_of(lambda: check_next_version(2, v2)) is Code.WRONG_VERSION
    assert code_of(lambda: amend(v1, {"version": 3})) is Code.WRONG_VERSION
    assert code_of(lambda: amend(v1, {"version": 1})) is Code.WRONG_VERSION
    assert code_of(lambda: amend(v1, {"colour": "red"})) is Code.UNKNOWN_FIELD
    assert code_of(lambda: amend(v1, {"link": "other"})) is Code.UNKNOWN_FIELD


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"criteria": []}, Code.MALFORMED),
        ({"criteria": [{"id": "x", "labels": {"en": "X"}}]}, Code.MALFORMED),  # no zh-Hans
        ({"criteria": [{"id": "Bad Id", "labels": {"en": "X", "zh-Hans": "X"}}]}, Code.MALFORMED),
        (
            {"criteria": [{"id": "x", "labels": {"en": "X", "zh-Hans": "X"}, "colour": 1}]},
            Code.UNKNOWN_FIELD,
        ),
        (
            {"criteria": [{"id": "x", "labels": {"en": "X", "zh-Hans": "X"}}] * 2},
            Code.MALFORMED,
        ),
        ({"languages": []}, Code.MALFORMED),
        ({"languages": ["english"]}, Code.MALFORMED),
        ({"purpose": ""}, Code.MALFORMED),
        ({"purpose": "x" * 501}, Code.MALFORMED),
        ({"two_person_rule": 1}, Code.MALFORMED),
        ({"channels": {"emergency": {"acknowledge_s": 60, "answer_s": 600}}}, Code.MALFORMED),
        (
            {
                "channels": {
                    "emergency": {"acknowledge_s": 600, "answer_s": 60},
                    "routine": {"acknowledge_s": 60, "answer_s": 600},
                }
            },
            Code.MALFORMED,
        ),
        (
            {
                "channels": {
                    "emergency": {"acknowledge_s": 60, "answer_s": 600, "ring": True},
                    "routine": {"acknowledge_s": 60, "answer_s": 600},
                }
            },
            Code.UNKNOWN_FIELD,
        ),
        ({"link_test": {"interval_s": 5, "confirm_s": 60}}, Code.MALFORMED),
        ({"link_test": {"interval_s": 3600}}, Code.MALFORMED),
        ({"link_test": {"interval_s": 3600, "confirm_s": 60.5}}, Code.MALFORMED),
    ],
)
def test_bad_policies_are_refused(changes: dict[str, Any], code: Code) -> None:
    assert code_of(lambda: amend(policy(), changes)) is code


def test_proposals_and_acceptances_are_checked() -> None:
    p = policy()
    body = proposal_body(W, p)
    # Signed by the wrong party, for another link, with extra or missing fields.
    assert (
        code_of(lambda: read_proposal(body, link=LINK, proposer=public("beijing")))
        is Code.BAD_SIGNATURE
    )
    assert (
        code_of(lambda: read_proposal(body, link="another", proposer=public("washington")))
        is Code.WRONG_LINK
    )
    assert (
        code_of(
            lambda: read_proposal({**body, "note": "x"}, link=LINK, proposer=public("washington"))
        )
        is Code.UNKNOWN_FIELD
    )
    assert (
        code_of(
            lambda: read_proposal(
                {"policy": body["policy"]}, link=LINK, proposer=public("washington")
            )
        )
        is Code.MALFORMED
    )
    forged = {**body, "policy": {**body["policy"], "two_person_rule": False}}
    assert (
        code_of(lambda: read_proposal(forged, link=LINK, proposer=public("washington")))
        is Code.BAD_SIGNATURE
    )
    proposal = Proposal(p, body["signature"])
    accept = acceptance_body(B, p)
    beijing = public("beijing")
    assert (
        code_of(lambda: read_acceptance({**accept, "version": 2}, proposal, acceptor=beijing))
        is Code.WRONG_VERSION
    )
    other = amend(p, {"purpose": "Another text"}, in_force=0)
    assert (
        code_of(lambda: read_acceptance(acceptance_body(B, other), proposal, acceptor=beijing))
        is Code.BAD_REFERENCE
    )
    assert (
        code_of(lambda: read_acceptance(accept, proposal, acceptor=public("washington")))
        is Code.BAD_SIGNATURE
    )
    assert (
        code_of(lambda: read_acceptance({**accept, "x": 1}, proposal, acceptor=beijing))
        is Code.UNKNOWN_FIELD
    )


label = st.text(min_size=1, max_size=40).filter(lambda s: s.strip() != "")
criterion = st.builds(
    lambda i, en, zh: {"id": i, "labels": {"en": en, "zh-Hans": zh}},
    st.from_regex(r"[a-z0-9][a-z0-9-]{0,20}", fullmatch=True),
    label,
    label,
)


@settings(max_examples=60, deadline=None)
@given(
    criteria=st.lists(criterion, min_size=1, max_size=6, unique_by=lambda c: c["id"]),
    two_person=st.booleans(),
    share=st.booleans(),
    interval=st.sampled_from([0, 60, 3600, 86_400]),
    acknowledge=st.integers(1, 3600),
    extra=st.integers(0, 3600),
)
def test_any_valid_policy_round_trips_and_its_signatures_verify(
    criteria: list[dict[str, Any]],
    two_person: bool,
    share: bool,
    interval: int,
    acknowledge: int,
    extra: int,
) -> None:
    times = {"acknowledge_s": acknowledge, "answer_s": acknowledge + extra}
    p = amend(
        policy(),
        {
            "criteria": criteria,
            "two_person_rule": two_person,
            "share_displayed": share,
            "link_test": {"interval_s": interval, "confirm_s": 60},
            "channels": {"emergency": times, "routine": times},
        },
        in_force=0,
    )
    assert Policy.from_bytes(p.to_bytes()) == p
    proposal = read_proposal(proposal_body(W, p), link=LINK, proposer=public("washington"))
    read_acceptance(acceptance_body(B, p), proposal, acceptor=public("beijing"))
    assert [c.id for c in p.criteria] == [c["id"] for c in criteria]


@settings(max_examples=100, deadline=None)
@given(key=st.sampled_from(sorted(policy().to_map())), value=st.none() | st.integers() | st.text())
def test_a_damaged_field_is_refused_with_a_protocol_code(key: str, value: Any) -> None:
    document = policy().to_map()
    document[key] = value
    try:
        Policy.from_map(document)
    except ProtocolError as exc:
        assert exc.code in {Code.MALFORMED, Code.UNSUPPORTED_VERSION, Code.UNKNOWN_FIELD}
    else:  # some replacements are valid (a new purpose, another version number)
        assert key in {"purpose", "version", "link"}


def test_default_criteria_are_exported() -> None:
    assert len(DEFAULT_CRITERIA) == 5


def test_the_published_policy_vector_reads_and_both_signatures_verify() -> None:
    import json

    from hotline.protocol.policy import policy_hash, signing_statement
    from tests.vectors.generate import VECTORS_PATH

    vector = json.loads(VECTORS_PATH.read_text(encoding="utf-8"))["policy"]
    encoding = bytes.fromhex(vector["encoding"])
    p = Policy.from_bytes(encoding)
    assert p.to_bytes() == encoding and p.version == 1
    assert policy_hash(encoding).hex() == vector["hash"]
    assert signing_statement(p.hash).hex() == vector["statement"]
    proposal = Proposal(p, bytes.fromhex(vector["signatures"]["washington"]))
    verify_policy_signature(public("washington"), p, proposal.signature)
    accept = {
        "version": 1,
        "policy_hash": p.hash,
        "signature": bytes.fromhex(vector["signatures"]["beijing"]),
    }
    read_acceptance(accept, proposal, acceptor=public("beijing"))
