"""Out-of-band link set-up documents: invitation and acceptance."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from hotline.protocol.encoding import decode, encode
from hotline.protocol.envelope import new_id
from hotline.protocol.errors import Code, ProtocolError
from hotline.protocol.invitation import (
    ACCEPTANCE,
    INVITATION,
    MAX_DOCUMENT_BYTES,
    Invitation,
    armour,
    dearmour,
    make_acceptance,
    make_invitation,
    read_acceptance,
    read_acceptance_body,
    read_invitation,
    read_invitation_body,
)
from hotline.protocol.keys import PrivateIdentity
from tests.vectors.generate import (
    ENDPOINTS,
    INVITATION_CREATED,
    INVITATION_EXPIRES,
    INVITATION_RANDOMNESS,
    fill,
    identity,
    invite,
    tls_certificate,
)

W, B = identity("washington"), identity("beijing")
INVITATION_OBJ, INVITATION_TEXT = invite()
CERT_W, CERT_B = tls_certificate("washington"), tls_certificate("beijing")
NOW = INVITATION_CREATED + 1000


def accept(invitation: Invitation = INVITATION_OBJ, me: PrivateIdentity = B) -> str:
    _, text = make_acceptance(
        me,
        invitation,
        tls_certificate=CERT_B,
        endpoints=ENDPOINTS["beijing"],
        created_ms=NOW,
    )
    return text


ACCEPTANCE_TEXT = accept()


def code_of(action: Any) -> Code:
    with pytest.raises(ProtocolError) as raised:
        action()
    return raised.value.code


def invitation_body(**changes: Any) -> dict[str, Any]:
    body = read_body(INVITATION_TEXT, INVITATION)
    body.update(changes)
    return body


def read_body(text: str, label: str) -> dict[str, Any]:
    signed, _ = dearmour(label, text)
    value = decode(signed, max_size=MAX_DOCUMENT_BYTES)
    assert isinstance(value, dict)
    return value


def signed_invitation(body: dict[str, Any], signer: PrivateIdentity = W) -> str:
    signed = encode(body)
    return armour(INVITATION, signed, signer.sign(signed), ["Party: washington"])


def summary_lines(text: str) -> list[str]:
    lines = text.splitlines()
    return lines[1 : lines.index("")]


# --- Invitation ----------------------------------------------------------------------------


def test_invitation_round_trip() -> None:
    invitation = read_invitation(INVITATION_TEXT, now_ms=NOW)
    assert invitation == INVITATION_OBJ
    assert invitation.id == new_id(INVITATION_CREATED, INVITATION_RANDOMNESS)
    assert invitation.inviter.identity == W.public
    assert invitation.inviter.tls_certificate == CERT_W
    assert invitation.inviter.endpoints == tuple(ENDPOINTS["washington"])
    assert (invitation.created_ms, invitation.expires_ms) == (
        INVITATION_CREATED,
        INVITATION_EXPIRES,
    )


def test_armour_layout() -> None:
    lines = INVITATION_TEXT.splitlines()
    assert lines[0] == "-----BEGIN HOTLINE INVITATION-----"
    assert lines[-1] == "-----END HOTLINE INVITATION-----"
    assert summary_lines(INVITATION_TEXT) == [
        "Party: washington",
        "Link: defence (Defence ministries' direct link)",
        f"Fingerprint: {W.public.fingerprint}",
        f"Invitation: {INVITATION_OBJ.id}",
    ]
    block = lines[lines.index("") + 1 : -1]
    assert all(len(line) == 64 for line in block[:-1]) and 0 < len(block[-1]) <= 64
    signed, signature = dearmour(INVITATION, INVITATION_TEXT)
    assert base64.b64decode("".join(block)) == encode([signed, signature])


def test_the_readable_summary_is_never_trusted() -> None:
    lines = INVITATION_TEXT.splitlines()
    lines[1] = "Party: beijing"
    lines[3] = "Fingerprint: 00000 00000 00000 00000 00000 00000 00000 00000"
    invitation = read_invitation("\n".join(lines), now_ms=NOW)
    assert invitation.inviter.identity == W.public


def test_line_endings_and_surrounding_space_do_not_matter() -> None:
    text = "\n\n  " + INVITATION_TEXT.replace("\n", "\r\n") + "  \n"
    assert read_invitation(text, now_ms=NOW) == INVITATION_OBJ


def test_expiry() -> None:
    assert read_invitation(INVITATION_TEXT, now_ms=INVITATION_EXPIRES - 1) == INVITATION_OBJ
    for now in (INVITATION_EXPIRES, INVITATION_EXPIRES + 1):
        assert code_of(lambda now=now: read_invitation(INVITATION_TEXT, now_ms=now)) is (
            Code.EXPIRED
        )


def test_an_invitation_must_expire_after_it_is_made() -> None:
    for expires in (INVITATION_CREATED, INVITATION_CREATED - 1):
        action = lambda expires=expires: make_invitation(  # noqa: E731
            W,
            invitation_id=INVITATION_OBJ.id,
            link_name="defence",
            purpose="p",
            tls_certificate=CERT_W,
            endpoints=ENDPOINTS["washington"],
            created_ms=INVITATION_CREATED,
            expires_ms=expires,
        )
        assert code_of(action) is Code.EXPIRED


def test_tampered_invitation() -> None:
    changed = signed_invitation(invitation_body(purpose="Something else"))
    signed, _ = dearmour(INVITATION, changed)
    _, original_signature = dearmour(INVITATION, INVITATION_TEXT)
    spliced = armour(INVITATION, signed, original_signature, summary_lines(INVITATION_TEXT))
    assert code_of(lambda: read_invitation(spliced, now_ms=NOW)) is Code.BAD_SIGNATURE
    by_beijing = signed_invitation(invitation_body(), signer=B)
    assert code_of(lambda: read_invitation(by_beijing, now_ms=NOW)) is Code.BAD_SIGNATURE
    signed, signature = dearmour(INVITATION, INVITATION_TEXT)
    short = armour(INVITATION, signed, signature[:63], [])
    assert code_of(lambda: read_invitation(short, now_ms=NOW)) is Code.BAD_SIGNATURE


def test_an_impostor_invitation_verifies_but_shows_another_fingerprint() -> None:
    """A document is self-signed: only the fingerprint read aloud ties it to the party."""
    impostor = PrivateIdentity.from_seeds("washington", fill(0xEE, 32), fill(0xEF, 32))
    _, text = make_invitation(
        impostor,
        invitation_id=INVITATION_OBJ.id,
        link_name="defence",
        purpose="Defence ministries' direct link",
        tls_certificate=CERT_W,
        endpoints=ENDPOINTS["washington"],
        created_ms=INVITATION_CREATED,
        expires_ms=INVITATION_EXPIRES,
    )
    invitation = read_invitation(text, now_ms=NOW)
    assert invitation.inviter.identity.party == "washington"
    assert invitation.inviter.identity.fingerprint != W.public.fingerprint
    assert f"Fingerprint: {invitation.inviter.identity.fingerprint}" in text


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("", Code.MALFORMED),
        ("hello", Code.MALFORMED),
        (ACCEPTANCE_TEXT, Code.MALFORMED),  # the other label
        (INVITATION_TEXT.replace("-----END HOTLINE INVITATION-----", ""), Code.MALFORMED),
        ("-----BEGIN HOTLINE INVITATION-----\n-----END HOTLINE INVITATION-----", Code.MALFORMED),
        (
            "-----BEGIN HOTLINE INVITATION-----\nParty: x\n-----END HOTLINE INVITATION-----",
            Code.MALFORMED,
        ),
        ("-----BEGIN HOTLINE INVITATION-----\n\n-----END HOTLINE INVITATION-----", Code.MALFORMED),
        (
            "-----BEGIN HOTLINE INVITATION-----\n\n!!!!\n-----END HOTLINE INVITATION-----",
            Code.MALFORMED,
        ),
        (
            "-----BEGIN HOTLINE INVITATION-----\n\nqGF2AQ=\n-----END HOTLINE INVITATION-----",
            Code.MALFORMED,
        ),
        (armour(INVITATION, b"x", b"y", []).replace("\n\n", "\n"), Code.MALFORMED),
        ("x" * (4 * MAX_DOCUMENT_BYTES + 1), Code.TOO_LARGE),
    ],
)
def test_dearmour_refusals(text: str, code: Code) -> None:
    assert code_of(lambda: read_invitation(text, now_ms=NOW)) is code


def _raw_armour(value: bytes) -> str:
    blob = base64.b64encode(value).decode()
    return f"-----BEGIN HOTLINE INVITATION-----\n\n{blob}\n-----END HOTLINE INVITATION-----\n"


@pytest.mark.parametrize(
    ("block", "code"),
    [
        (b"\xff", Code.MALFORMED),
        (encode([b"signed"]), Code.MALFORMED),
        (encode([b"signed", b"sig", b"extra"]), Code.MALFORMED),
        (encode({"signed": b"x", "signature": b"y"}), Code.MALFORMED),
        (encode(["signed", b"sig"]), Code.MALFORMED),
        (encode([b"a", b"b"]) + b"\x00", Code.NON_CANONICAL),
        (encode([b"x" * (2 * MAX_DOCUMENT_BYTES), b""]), Code.TOO_LARGE),
    ],
)
def test_encoded_block_refusals(block: bytes, code: Code) -> None:
    assert code_of(lambda: dearmour(INVITATION, _raw_armour(block))) is code


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"type": "acceptance"}, Code.MALFORMED),
        ({"v": 2}, Code.MALFORMED),
        ({"id": ""}, Code.MALFORMED),
        ({"id": 7}, Code.MALFORMED),
        ({"created": "now"}, Code.MALFORMED),
        ({"expires": True}, Code.MALFORMED),
        ({"inviter": []}, Code.MALFORMED),
        ({"inviter": "washington"}, Code.MALFORMED),
        ({"inviter": None}, Code.MALFORMED),
        # Signed by the inviter, but not something our software would write.
        ({"link_name": "Defence Link"}, Code.MALFORMED),
        ({"link_name": ""}, Code.MALFORMED),
        ({"purpose": ""}, Code.MALFORMED),
        ({"purpose": "p" * 501}, Code.MALFORMED),
        ({"relay": "anything"}, Code.MALFORMED),  # an unknown field is refused, not ignored
    ],
)
def test_invitation_body_refusals(changes: dict[str, Any], code: Code) -> None:
    text = signed_invitation(invitation_body(**changes))
    assert code_of(lambda: read_invitation(text, now_ms=NOW)) is code


def test_an_invitation_read_must_expire_after_it_was_made() -> None:
    body = invitation_body()
    body["expires"] = body["created"]
    assert code_of(lambda: read_invitation_body(encode(body))) is Code.EXPIRED


def test_unknown_acceptance_fields_are_refused() -> None:
    body = read_body(ACCEPTANCE_TEXT, ACCEPTANCE)
    body["note"] = "extra"
    assert code_of(lambda: read_acceptance_body(encode(body))) is Code.MALFORMED


@pytest.mark.parametrize("field", ["id", "link_name", "purpose", "created", "expires", "inviter"])
def test_invitation_fields_are_required(field: str) -> None:
    body = invitation_body()
    del body[field]
    assert code_of(lambda: read_invitation_body(encode(body))) is Code.MALFORMED


@pytest.mark.parametrize(
    ("card_changes", "code"),
    [
        ({"party": "Washington"}, Code.MALFORMED),
        ({"party": None}, Code.MALFORMED),
        ({"signing_key": b"\x01" * 31}, Code.MALFORMED),
        ({"encryption_key": "key"}, Code.MALFORMED),
        ({"tls_certificate": b""}, Code.MALFORMED),
        ({"tls_certificate": b"\x30" * 8193}, Code.MALFORMED),
        ({"endpoints": []}, Code.MALFORMED),
        ({"endpoints": ["http://hotline.washington.example"]}, Code.MALFORMED),
        ({"endpoints": [f"https://h{i}.example" for i in range(9)]}, Code.MALFORMED),
        ({"endpoints": [7]}, Code.MALFORMED),
        ({"endpoints": "https://one.example"}, Code.MALFORMED),
    ],
)
def test_party_card_refusals(card_changes: dict[str, Any], code: Code) -> None:
    card = dict(invitation_body()["inviter"], **card_changes)
    assert code_of(lambda: read_invitation_body(encode(invitation_body(inviter=card)))) is code


def test_party_card_limits_accepted() -> None:
    card = dict(
        invitation_body()["inviter"],
        tls_certificate=b"\x30" * 8192,
        endpoints=[f"https://h{i}.example" for i in range(8)],
    )
    invitation = read_invitation_body(encode(invitation_body(inviter=card)))
    assert len(invitation.inviter.endpoints) == 8


def test_non_canonical_or_oversized_invitation_body() -> None:
    body = encode(invitation_body())
    assert code_of(lambda: read_invitation_body(body + b"\x00")) is Code.NON_CANONICAL
    huge = encode(invitation_body(padding="x" * MAX_DOCUMENT_BYTES))
    assert code_of(lambda: read_invitation_body(huge)) is Code.TOO_LARGE


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"link_name": "Defence"}, Code.MALFORMED),
        ({"link_name": ""}, Code.MALFORMED),
        ({"purpose": ""}, Code.MALFORMED),
        ({"purpose": "x" * 501}, Code.MALFORMED),
        ({"endpoints": ["http://insecure.example"]}, Code.MALFORMED),
        ({"tls_certificate": b""}, Code.MALFORMED),
    ],
)
def test_make_invitation_refusals(kwargs: dict[str, Any], code: Code) -> None:
    arguments: dict[str, Any] = {
        "invitation_id": INVITATION_OBJ.id,
        "link_name": "defence",
        "purpose": "p",
        "tls_certificate": CERT_W,
        "endpoints": ENDPOINTS["washington"],
        "created_ms": INVITATION_CREATED,
        "expires_ms": INVITATION_EXPIRES,
    }
    arguments.update(kwargs)
    assert code_of(lambda: make_invitation(W, **arguments)) is code


# --- Acceptance ----------------------------------------------------------------------------


def test_acceptance_round_trip() -> None:
    acceptance = read_acceptance(ACCEPTANCE_TEXT, INVITATION_OBJ)
    assert acceptance.invitation_id == INVITATION_OBJ.id
    assert acceptance.invitation_hash == INVITATION_OBJ.hash
    assert acceptance.acceptor.identity == B.public
    assert acceptance.acceptor.tls_certificate == CERT_B
    assert acceptance.created_ms == NOW
    assert summary_lines(ACCEPTANCE_TEXT) == [
        "Party: beijing",
        f"Accepts invitation: {INVITATION_OBJ.id} (defence)",
        f"Fingerprint: {B.public.fingerprint}",
    ]


def test_acceptance_cannot_be_reused_for_another_invitation() -> None:
    """Single use of an invitation is kept by the inviter's node; the protocol's part is
    that an acceptance names exactly one invitation, by id and by hash."""
    other, _ = make_invitation(
        W,
        invitation_id=new_id(INVITATION_CREATED + 5, INVITATION_RANDOMNESS),
        link_name="defence",
        purpose="Defence ministries' direct link",
        tls_certificate=CERT_W,
        endpoints=ENDPOINTS["washington"],
        created_ms=INVITATION_CREATED,
        expires_ms=INVITATION_EXPIRES,
    )
    assert code_of(lambda: read_acceptance(ACCEPTANCE_TEXT, other)) is Code.BAD_REFERENCE
    # The same id with different content (say, re-issued with other endpoints) is another
    # invitation too: the hash differs.
    same_id, _ = make_invitation(
        W,
        invitation_id=INVITATION_OBJ.id,
        link_name="defence",
        purpose="Defence ministries' direct link",
        tls_certificate=CERT_W,
        endpoints=["https://elsewhere.example"],
        created_ms=INVITATION_CREATED,
        expires_ms=INVITATION_EXPIRES,
    )
    assert same_id.id == INVITATION_OBJ.id and same_id.hash != INVITATION_OBJ.hash
    assert code_of(lambda: read_acceptance(ACCEPTANCE_TEXT, same_id)) is Code.BAD_REFERENCE


def test_acceptance_by_the_inviter_itself_is_refused() -> None:
    assert code_of(lambda: accept(me=W)) is Code.MALFORMED
    namesake = PrivateIdentity.from_seeds("washington", fill(0xE0, 32), fill(0xE1, 32))
    body = read_body(ACCEPTANCE_TEXT, ACCEPTANCE)
    body["acceptor"] = dict(
        body["acceptor"],
        party="washington",
        signing_key=namesake.public.signing_key,
        encryption_key=namesake.public.encryption_key,
    )
    signed = encode(body)
    text = armour(ACCEPTANCE, signed, namesake.sign(signed), [])
    assert code_of(lambda: read_acceptance(text, INVITATION_OBJ)) is Code.MALFORMED


def test_tampered_acceptance() -> None:
    body = read_body(ACCEPTANCE_TEXT, ACCEPTANCE)
    body["acceptor"] = dict(body["acceptor"], endpoints=["https://attacker.example"])
    _, signature = dearmour(ACCEPTANCE, ACCEPTANCE_TEXT)
    spliced = armour(ACCEPTANCE, encode(body), signature, [])
    assert code_of(lambda: read_acceptance(spliced, INVITATION_OBJ)) is Code.BAD_SIGNATURE
    signed, _ = dearmour(ACCEPTANCE, ACCEPTANCE_TEXT)
    by_washington = armour(ACCEPTANCE, signed, W.sign(signed), [])
    assert code_of(lambda: read_acceptance(by_washington, INVITATION_OBJ)) is Code.BAD_SIGNATURE


def test_an_invitation_is_not_an_acceptance() -> None:
    assert code_of(lambda: read_acceptance(INVITATION_TEXT, INVITATION_OBJ)) is Code.MALFORMED
    signed, _ = dearmour(INVITATION, INVITATION_TEXT)
    assert code_of(lambda: read_acceptance_body(signed)) is Code.MALFORMED


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"type": "invitation"}, Code.MALFORMED),
        ({"v": 0}, Code.MALFORMED),
        ({"invitation_hash": "hash"}, Code.MALFORMED),
        ({"invitation": ""}, Code.MALFORMED),
        ({"created": None}, Code.MALFORMED),
        ({"acceptor": ["beijing"]}, Code.MALFORMED),
    ],
)
def test_acceptance_body_refusals(changes: dict[str, Any], code: Code) -> None:
    body = dict(read_body(ACCEPTANCE_TEXT, ACCEPTANCE), **changes)
    assert code_of(lambda: read_acceptance_body(encode(body))) is code
