"""A link's chain heads and counters are written as a staged UPDATE at flush or
commit (storage/fast_path.py), not through the ORM. Whatever reads the link again
in the same transaction, and every later transaction, sees them."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import closing

import pytest
from sqlalchemy import inspect, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hotline.node.delivery.outgoing import Outgoing, append_message
from hotline.node.record_store import lock_link, lock_link_outside_session
from hotline.protocol.encoding import decode
from hotline.protocol.envelope import parse
from hotline.storage.fast_path import stage_new
from hotline.storage.models import LINKS, Link, Message, Outbox
from tests.harness import LINK, Cluster


@pytest.mark.parametrize("lock", [lock_link, lock_link_outside_session])
def test_a_link_locked_again_in_the_same_transaction_keeps_its_new_heads(
    cluster: Cluster, lock: Callable[[Session, str], Link]
) -> None:
    with closing(cluster.washington.node()) as node:
        link_id = node.find_link(LINK).id
        with node.transaction() as session, session.no_autoflush:
            link = lock(session, link_id)
            before = link.own_seq
            for text in ("first", "second"):
                # Locking reads the row afresh; without the staged UPDATE written
                # first it would hand back the old heads and fork the chain.
                link = lock(session, link_id)
                assert (link in session) is (lock is lock_link)
                item = Outgoing(LINK, {"text": text, "lang": "en"})
                append_message(session, node.identity, link, item, 1_000)
            assert link.own_seq == before + 2
        with node.reading() as session:
            row = (
                session.connection()
                .execute(
                    select(LINKS.c.own_seq, LINKS.c.own_head, LINKS.c.record_length).where(
                        LINKS.c.id == link_id
                    )
                )
                .one()
            )
        export = node.export(LINK)
        assert row.own_seq == before + 2
        assert row.record_length == len(export.entries)
        assert row.own_head == parse(export.entries[-1].envelope_bytes).hash


def test_a_staged_new_row_is_written_at_commit_and_read_back_as_staged(cluster: Cluster) -> None:
    with closing(cluster.washington.node()) as node:
        link_id = node.find_link(LINK).id
        with node.transaction() as session:
            link = lock_link(session, link_id)
            item = Outgoing(LINK, {"text": "staged", "lang": "en"})
            message = append_message(session, node.identity, link, item, 1_000)
            # Transient, built without attribute events: what it was given, and None
            # (NULL) for what it was not.
            assert inspect(message).transient
            assert (message.direction, message.queued_ms, message.delivered_ms) == (
                "out",
                1_000,
                None,
            )
            with pytest.raises(TypeError, match="not columns of messages: \\['colour'\\]"):
                stage_new(session, Message, id="X", colour="red")
        stored = node.message(message.id)
        assert stored is not None
        assert (stored.body, stored.queued_ms, stored.delivered_ms) == (item.body, 1_000, None)
        assert node.messages(LINK)[0].id == message.id


def test_each_entry_draws_fresh_randomness_for_every_part(cluster: Cluster) -> None:
    with closing(cluster.washington.node()) as node:
        for text in ("first", "second", "third"):
            node.send(LINK, {"text": text, "lang": "en"})
        export = node.export(LINK)
    parts: list[bytes] = []
    for entry in export.entries[-3:]:
        envelope = parse(entry.envelope_bytes)
        (wrapped,) = envelope.wrapped_keys.values()
        assert entry.payload_bytes is not None
        salt = decode(entry.payload_bytes, max_size=1 << 20)["salt"]
        # Salt, the id's random part, nonce and the wrapped key's nonce (its first 24 bytes).
        parts += [salt, envelope.header.id[10:].encode(), envelope.nonce, wrapped[:24]]
    assert len(set(parts)) == len(parts) == 12


def test_a_staged_write_the_database_refuses_fails_the_commit_and_leaves_nothing(
    cluster: Cluster,
) -> None:
    """Staged rows go to the driver's cursor (storage/fast_path.py); a refusal there is
    SQLAlchemy's IntegrityError, and the whole transaction is rolled back."""
    with closing(cluster.washington.node()) as node:
        node.send(LINK, {"text": "kept", "lang": "en"})
        link_id = node.find_link(LINK).id
        entries_before = len(node.export(LINK).entries)
        with pytest.raises(IntegrityError), node.transaction() as session:
            link = lock_link(session, link_id)
            item = Outgoing(LINK, {"text": "lost", "lang": "en"})
            message = append_message(session, node.identity, link, item, 1_000)
            refused_seq = link.own_seq
            # The outbox row of the entry just staged, a second time: same primary key.
            stage_new(
                session,
                Outbox,
                link_id=link_id,
                seq=refused_seq,
                entry_id=message.id,
                attempts=0,
                next_attempt_ms=0,
            )
        assert len(node.export(LINK).entries) == entries_before
        assert [m.body["text"] for m in node.messages(LINK)] == ["kept"]
        assert node.find_link(LINK).own_seq == refused_seq - 1
        # The node goes on: the next message takes the sequence number the refused one had.
        assert node.send(LINK, {"text": "after", "lang": "en"}).seq == refused_seq
