"""The phrasebook and the glossary agreed per link, on two real nodes (SQLite and
PostgreSQL): proposed by one side, countersigned by the other, in force on both with
the same digest and both signatures; messages from entries travel as id + version +
parameters and each side reads them exactly, in every language."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from hotline.language.glossary import shipped_glossary
from hotline.language.phrasebook import shipped_phrasebook
from hotline.protocol import agreed_documents
from hotline.protocol.errors import ProtocolError
from hotline.protocol.keys import PrivateIdentity
from hotline.protocol.kinds import Kind
from hotline.storage.database import MIGRATIONS, make_engine, sqlite_url, upgrade
from hotline.storage.models import Base
from tests.conftest import DatabaseFactory
from tests.harness import LINK, Cluster, kinds_in_record, record, wait_until

BOOK = shipped_phrasebook()
GLOSSARY = shipped_glossary()


def state(client: httpx.Client, document: str) -> dict[str, Any]:
    response = client.get(f"/api/v1/links/{LINK}/{document}")
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def send_entry(client: httpx.Client, entry: str, **parameters: Any) -> httpx.Response:
    return client.post(
        f"/api/v1/links/{LINK}/messages", json={"entry": entry, "parameters": parameters}
    )


def agree(cluster: Cluster, document: str) -> None:
    """Washington proposes the shipped document; Beijing countersigns it."""
    with cluster.washington.client() as w, cluster.beijing.client() as b:
        proposed = w.post(f"/api/v1/links/{LINK}/{document}/proposals")
        assert proposed.status_code == 201, proposed.text
        assert proposed.json()["state"] == "proposed"
        wait_until(lambda: any(v["state"] == "proposed" for v in state(b, document)["versions"]))
        accepted = b.post(f"/api/v1/links/{LINK}/{document}/1/accept")
        assert accepted.status_code == 200, accepted.text
        wait_until(lambda: state(w, document)["version"] == 1, what=f"{document} in force")


def test_a_phrasebook_both_sides_signed_carries_messages_from_entries(cluster: Cluster) -> None:
    cluster.start()
    with cluster.washington.client() as w, cluster.beijing.client() as b:
        before = send_entry(b, "holding-respond-within", within=7200)
        assert before.status_code == 409
        assert before.json()["code"] == "phrasebook_not_in_force"
        agree(cluster, "phrasebook")
        for client in (w, b):
            seen = state(client, "phrasebook")
            assert seen["digest"] == BOOK.digest()
            assert seen["signed_by"] == ["washington", "beijing"]
            assert [v["state"] for v in seen["versions"]] == ["in_force"]
        # The accepting side may not accept twice, nor propose the same version again.
        again = b.post(f"/api/v1/links/{LINK}/phrasebook/1/accept")
        assert again.status_code == 409 and again.json()["code"] == "no_proposal"
        stale = w.post(f"/api/v1/links/{LINK}/phrasebook/proposals")
        assert stale.status_code == 400 and stale.json()["code"] == "wrong_version"

        sent = send_entry(b, "holding-respond-within", within="PT2H")
        assert sent.status_code == 201, sent.text
        assert sent.json()["kind"] == "message.agreed"
        assert sent.json()["body"] == {
            "entry": "holding-respond-within",
            "version": 1,
            "parameters": {"within": 7200},
        }
        message_id = sent.json()["id"]

        def arrived() -> dict[str, Any] | None:
            response = w.get(f"/api/v1/messages/{message_id}")
            return None if response.status_code == 404 else dict(response.json())

        wait_until(lambda: arrived() is not None, what="the agreed text at Washington")
        seen_w = arrived()
        assert seen_w is not None
        assert seen_w["agreed"]["rendered"] == {
            "en": "Received. We will respond within 2 hours.",
            "zh-Hans": "已收到。我方将在2小时内答复。",
        }
        assert seen_w["agreed"]["entry"] == "holding-respond-within"
        assert seen_w["agreed"]["version"] == 1

        # Only the version in force, only its entries, only valid parameters.
        wrong = b.post(
            f"/api/v1/links/{LINK}/messages",
            json={"entry": "holding-respond-within", "version": 2, "parameters": {"within": 60}},
        )
        assert wrong.status_code == 409 and wrong.json()["code"] == "phrasebook_not_in_force"
        unknown = send_entry(b, "no-such-entry")
        assert unknown.status_code == 404 and unknown.json()["code"] == "unknown_entry"
        short = send_entry(b, "holding-respond-within", within=5)
        assert short.status_code == 400 and short.json()["code"] == "out_of_range"
        assert "within" in short.json()["detail"]
        missing = send_entry(b, "holding-respond-within")
        assert missing.json()["code"] == "missing_parameter"

        found = b.get(f"/api/v1/links/{LINK}/phrasebook/search", params={"q": "dafu"})
        assert found.status_code == 200
        assert "holding-respond-within" in [e["id"] for e in found.json()["entries"]]
    kinds = kinds_in_record(cluster.washington)
    assert kinds.count("phrasebook.propose") == 1 and kinds.count("phrasebook.accept") == 1


def test_the_glossary_is_agreed_the_same_way(cluster: Cluster) -> None:
    cluster.start()
    agree(cluster, "glossary")
    with cluster.washington.client() as w, cluster.beijing.client() as b:
        for client in (w, b):
            seen = state(client, "glossary")
            assert seen["digest"] == GLOSSARY.digest()
            assert seen["signed_by"] == ["washington", "beijing"]
        content = w.get(f"/api/v1/links/{LINK}/glossary", params={"content": "true"}).json()
        assert content["content"]["terms"]["crisis"]["differs"] is True
        # The proposal carried the document whole: the record holds what was signed.
    proposal = next(
        body for env, body in record(cluster.beijing) if env.header.kind is Kind.GLOSSARY_PROPOSE
    )
    assert proposal["content"] == GLOSSARY.encode()
    assert proposal["digest"].hex() == GLOSSARY.digest()


def test_a_proposal_is_checked_against_its_digest_and_signature() -> None:
    alice = PrivateIdentity.from_seeds("washington", bytes(range(32)), bytes(32))
    mallory = PrivateIdentity.from_seeds("beijing", bytes(range(1, 33)), bytes(32))
    content = BOOK.encode()
    body = agreed_documents.proposal_body(alice, "phrasebook", "link-1", 1, content)
    signed = agreed_documents.read_proposal(
        body, document="phrasebook", link="link-1", proposer=alice.public
    )
    assert signed.content == content and signed.digest.hex() == BOOK.digest()
    tampered = {**body, "content": content.replace(b"Received", b"Rejected")}
    with pytest.raises(ProtocolError, match="digest"):
        agreed_documents.read_proposal(
            tampered, document="phrasebook", link="link-1", proposer=alice.public
        )
    with pytest.raises(ProtocolError):  # signed for another link
        agreed_documents.read_proposal(
            body, document="phrasebook", link="link-2", proposer=alice.public
        )
    with pytest.raises(ProtocolError):  # not the proposer's signature
        agreed_documents.read_proposal(
            body, document="phrasebook", link="link-1", proposer=mallory.public
        )
    acceptance = agreed_documents.acceptance_body(mallory, "phrasebook", "link-1", 1, signed.digest)
    assert agreed_documents.read_acceptance(acceptance, signed, acceptor=mallory.public)
    other = agreed_documents.acceptance_body(mallory, "phrasebook", "link-1", 1, bytes(32))
    with pytest.raises(ProtocolError, match="another"):
        agreed_documents.read_acceptance(other, signed, acceptor=mallory.public)


def test_migration_0009_matches_the_model_and_downgrades(
    tmp_path: Path, database: DatabaseFactory
) -> None:
    url = database.url_for(tmp_path) or sqlite_url(tmp_path / "schema.db")
    engine = make_engine(url)
    try:
        upgrade(engine)
        with engine.connect() as connection:
            diffs = compare_metadata(MigrationContext.configure(connection), Base.metadata)
        assert [d for d in diffs if "link_documents" in repr(d)] == []
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, "0008")
        assert "link_documents" not in inspect(engine).get_table_names()
        upgrade(engine)
        assert "link_documents" in inspect(engine).get_table_names()
    finally:
        engine.dispose()


def test_the_agreed_text_vector_checks_out() -> None:
    """docs/protocol.md §7.3 by its vector: the proposal and the acceptance verify,
    the content reads back as the phrasebook, and the message renders as written."""
    from hotline.language.canonical import phrasebook_from_canonical
    from hotline.protocol.encoding import decode
    from tests.vectors import generate

    limit = 192 * 1024  # a payload's limit
    vectors = json.loads(generate.VECTORS_PATH.read_text("utf-8"))
    vector, link = vectors["agreed_text"], vectors["link"]["id"]
    proposal = agreed_documents.read_proposal(
        decode(bytes.fromhex(vector["proposal_body"]), max_size=limit),
        document="phrasebook",
        link=link,
        proposer=generate.public("washington"),
    )
    assert proposal.digest.hex() == vector["digest"]
    agreed_documents.read_acceptance(
        decode(bytes.fromhex(vector["acceptance_body"]), max_size=limit),
        proposal,
        acceptor=generate.public("beijing"),
    )
    assert proposal.content is not None
    book = phrasebook_from_canonical(proposal.content)
    body = decode(bytes.fromhex(vector["message_body"]["cbor"]), max_size=limit)
    assert body == vector["message_body"]["json"]
    message = book.validate_message(body)
    rendered = {
        lang: book.render(message.entry, lang, message.parameters) for lang in book.languages
    }
    assert rendered == vector["rendered"]


def test_a_bad_peer_proposal_is_recorded_refused_and_changes_nothing(
    tmp_path: Path, database: DatabaseFactory
) -> None:
    """In process (no servers): a proposal whose content is not its digest, or that a
    party other than the proposer signed, enters the record but is refused; a good
    one countersigned comes into force on both sides; both proposing at once, the
    inviter's prevails."""
    from hotline.node.record_store import append_own, lock_link
    from tests.node.test_rules import Pair

    with Cluster(tmp_path, database.url_for) as cluster:
        pair = Pair(cluster)
        try:
            w_link = pair.w.find_link(LINK)
            with pair.w.transaction() as session:
                link = lock_link(session, w_link.id)
                body = agreed_documents.proposal_body(
                    pair.w.identity, "phrasebook", link.id, 1, BOOK.encode()
                )
                bad_digest = {**body, "content": GLOSSARY.encode()}
                forged = agreed_documents.proposal_body(
                    pair.b.identity, "phrasebook", link.id, 1, BOOK.encode()
                )
                for sent in (bad_digest, forged):
                    append_own(
                        session, link, pair.w.identity, Kind.PHRASEBOOK_PROPOSE, sent, now_ms=1
                    )
            pair.pump()
            versions = pair.bd.document_state(LINK, "phrasebook").versions
            assert sorted((v.refusal or "").split(":")[0] for v in versions) == [
                "bad_signature",
                "digest_mismatch",
            ]
            assert all(v.state == "refused" for v in versions)
            assert pair.bd.phrasebook(LINK) is None
            # Both propose version 1: the inviter (washington) prevails.
            pair.wd.propose_document(LINK, None, "test", name="phrasebook")
            pair.bd.propose_document(LINK, None, "test", name="phrasebook")
            pair.pump()
            with pytest.raises(Exception, match="inviter"):
                pair.wd.accept_document(LINK, "phrasebook", 1, "test")
            pair.bd.accept_document(LINK, "phrasebook", 1, "test")
            pair.pump()
            for desk in (pair.wd, pair.bd):
                state = desk.document_state(LINK, "phrasebook")
                assert state.current is not None and state.current.digest == BOOK.digest()
                assert (state.current.proposed_by, state.current.accepted_by) == (
                    "washington",
                    "beijing",
                )
            states = sorted(v.state for v in pair.bd.document_state(LINK, "phrasebook").versions)
            assert states == ["in_force", "refused", "refused", "withdrawn"]
        finally:
            pair.close()
