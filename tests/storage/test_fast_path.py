"""Statements on the driver's cursor (storage/fast_path.py) give what SQLAlchemy gives,
on SQLite and PostgreSQL, with its conversions of values and its errors; expanding
lists are refused."""

from __future__ import annotations

from contextlib import closing

import pytest
from sqlalchemy import bindparam, func, select
from sqlalchemy.exc import IntegrityError

from hotline.storage.fast_path import Prepared
from hotline.storage.models import ENTRIES, LINKS, MESSAGES, OUTBOX
from tests.harness import LINK, Cluster


def test_a_prepared_query_returns_what_sqlalchemy_returns(cluster: Cluster) -> None:
    query = (
        select(ENTRIES.c.seq, ENTRIES.c.id, ENTRIES.c.hash)
        .where(ENTRIES.c.link_id == bindparam("link_id"), ENTRIES.c.seq > bindparam("after"))
        .order_by(ENTRIES.c.position)
        .limit(2)
    )
    with closing(cluster.washington.node()) as node:
        for text in ("one", "two", "three"):
            node.send(LINK, {"text": text, "lang": "en"})
        link_id = node.find_link(LINK).id
        parameters = {"link_id": link_id, "after": 1}
        with node.reading() as session:
            expected = [tuple(row) for row in session.connection().execute(query, parameters)]
            got = Prepared(query).rows(session.connection(), parameters)
            assert Prepared(query).scalar(session.connection(), {**parameters, "after": 99}) is None
    assert len(expected) == 2
    assert [(seq, entry_id, bytes(h)) for seq, entry_id, h in got] == expected


def test_a_prepared_update_returns_its_rows_and_its_change_is_committed(
    cluster: Cluster,
) -> None:
    with closing(cluster.washington.node()) as node:
        sent = [node.send(LINK, {"text": t, "lang": "en"}) for t in ("a", "b")]
        link_id = node.find_link(LINK).id
        mark = Prepared(
            MESSAGES.update()
            .where(MESSAGES.c.link_id == bindparam("link"), MESSAGES.c.seq <= bindparam("through"))
            .values(displayed_ms=bindparam("at"))
            .returning(MESSAGES.c.id)
        )
        with node.transaction() as session:
            rows = mark.rows(
                session.connection(), {"link": link_id, "through": sent[0].seq, "at": 7}
            )
        assert rows == [(sent[0].id,)]
        assert {m.id: m.displayed_ms for m in node.messages(LINK)} == {
            sent[0].id: 7,
            sent[1].id: None,
        }


def test_values_are_converted_as_sqlalchemy_converts_them(cluster: Cluster) -> None:
    """JSON both ways, booleans (integers in SQLite) out."""
    set_body = Prepared(
        MESSAGES.update().where(MESSAGES.c.id == bindparam("id")).values(body=bindparam("body"))
    )
    read = Prepared(
        select(MESSAGES.c.body, LINKS.c.share_displayed)
        .join(LINKS, LINKS.c.id == MESSAGES.c.link_id)
        .where(MESSAGES.c.id == bindparam("id"))
    )
    body = {"text": "新的", "n": 3, "list": [1, "二"], "nested": {"ok": True}}
    with closing(cluster.washington.node()) as node:
        sent = node.send(LINK, {"text": "x", "lang": "en"})
        with node.transaction() as session:
            set_body.rows(session.connection(), {"id": sent.id, "body": body})
        with node.reading() as session:
            ((got_body, shared),) = read.rows(session.connection(), {"id": sent.id})
            expected = session.connection().execute(read.statement, {"id": sent.id}).one()
    assert got_body == body == node.message(sent.id).body
    assert (got_body, shared) == tuple(expected)
    assert type(shared) is bool


def test_expanding_parameters_are_refused_when_first_compiled(cluster: Cluster) -> None:
    expanding = Prepared(
        select(LINKS.c.id).where(LINKS.c.name.in_(bindparam("names", expanding=True)))
    )
    with (
        closing(cluster.washington.node()) as node,
        node.reading() as session,
        pytest.raises(ValueError, match="parameter names is an expanding list"),
    ):
        expanding.rows(session.connection(), {"names": ["x"]})


def test_a_refusal_on_the_cursor_is_sqlalchemys_error_and_leaves_nothing(
    cluster: Cluster,
) -> None:
    hold = Prepared(
        OUTBOX.insert().values(
            link_id=bindparam("link"), seq=bindparam("seq"), entry_id="E", next_attempt_ms=1
        )
    )
    count = Prepared(select(func.count()).select_from(OUTBOX).where(OUTBOX.c.entry_id == "E"))
    with closing(cluster.washington.node()) as node:
        link_id = node.find_link(LINK).id
        with pytest.raises(IntegrityError), node.transaction() as session:
            hold.rows(session.connection(), {"link": link_id, "seq": 5})
            hold.rows(session.connection(), {"link": link_id, "seq": 5})
        with node.reading() as session:
            assert count.scalar(session.connection(), {}) == 0
