"""A link's chain heads and counters are written as a staged UPDATE at flush or
commit (storage/staging.py), not through the ORM. Whatever reads the link again
in the same transaction, and every later transaction, sees them."""

from __future__ import annotations

from contextlib import closing

from sqlalchemy import select

from hotline.node.record_store import lock_link
from hotline.node.service import Outgoing, append_message
from hotline.protocol.envelope import parse
from hotline.storage.models import LINKS

from .harness import LINK, Cluster


def test_a_link_locked_again_in_the_same_transaction_keeps_its_new_heads(cluster: Cluster) -> None:
    with closing(cluster.washington.node()) as node:
        link_id = node.find_link(LINK).id
        with node.transaction() as session, session.no_autoflush:
            link = lock_link(session, link_id)
            before = link.own_seq
            for text in ("first", "second"):
                # Locking reads the row afresh; without the staged UPDATE written
                # first it would hand back the old heads and fork the chain.
                link = lock_link(session, link_id)
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
