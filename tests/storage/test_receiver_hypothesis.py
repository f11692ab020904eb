"""Property test against the receiver: whatever arrives, in whatever order and shape,
only the sender's genuine chain is applied, as an in-order prefix, exactly once."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from hotline.demo import free_port
from hotline.node.home import NodeHome, init_node
from hotline.node.service import Node
from hotline.protocol.envelope import parse
from hotline.protocol.errors import Code
from hotline.storage.database import sqlite_url
from hotline.storage.models import Entry, Held

CHAIN = 6


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    base = tmp_path_factory.mktemp("receiver")
    homes = {
        p: init_node(base / p, p, peer_port=free_port(), local_port=free_port())
        for p in ("washington", "beijing")
    }
    w, b = Node(homes["washington"]), Node(homes["beijing"])
    _, invitation = w.create_invitation("defence", "test")
    _, acceptance = b.accept_invitation(invitation)
    link = w.complete_link(acceptance)
    for i in range(CHAIN):
        w.send("defence", {"text": f"m{i}", "lang": "en"})
    envelopes = [env for _, env in w.pending(link.id, limit=64, due_only=False)]
    w.close()
    b.close()
    snapshot = base / "beijing-pristine.db"
    shutil.copy(homes["beijing"].path / "hotline.db", snapshot)
    return {"home": homes["beijing"], "snapshot": snapshot, "link": link.id, "chain": envelopes}


mutation = st.one_of(
    st.just(("same", 0, b"")),
    st.tuples(st.just("flip"), st.integers(0, 10_000), st.binary(min_size=1, max_size=1)),
    st.tuples(st.just("truncate"), st.integers(0, 10_000), st.just(b"")),
    st.tuples(st.just("append"), st.just(0), st.binary(min_size=1, max_size=8)),
    st.tuples(st.just("random"), st.just(0), st.binary(max_size=300)),
)
operation = st.tuples(st.integers(0, CHAIN - 1), mutation)


def _mutate(envelope: bytes, how: tuple[str, int, bytes]) -> bytes:
    kind, position, data = how
    if kind == "flip":
        i = position % len(envelope)
        flipped = envelope[i] ^ (data[0] or 1)
        return envelope[:i] + bytes([flipped]) + envelope[i + 1 :]
    if kind == "truncate":
        return envelope[: position % len(envelope)]
    if kind == "append":
        return envelope + data
    if kind == "random":
        return data
    return envelope


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(batches=st.lists(st.lists(operation, min_size=1, max_size=6), min_size=1, max_size=5))
@example(batches=[[(0, ("same", 0, b"")), (0, ("same", 0, b""))]])  # a duplicate in one batch
def test_receiver_applies_only_a_genuine_in_order_prefix(
    world: dict[str, object], tmp_path_factory: pytest.TempPathFactory, batches: list
) -> None:
    home: NodeHome = world["home"]  # type: ignore[assignment]
    chain: list[bytes] = world["chain"]  # type: ignore[assignment]
    link_id: str = world["link"]  # type: ignore[assignment]
    db = tmp_path_factory.getbasetemp() / f"b-{uuid.uuid4().hex}.db"
    shutil.copy(world["snapshot"], db)  # type: ignore[arg-type]
    node = Node(home, database_url=sqlite_url(db))
    try:
        for batch in batches:
            raws = [_mutate(chain[index], how) for index, how in batch]
            result = node.receive(link_id, raws, 0)
            statuses = [o.status for o in result.outcomes]
            # One outcome per envelope, up to and including the first refusal (§8.4).
            if "refused" in statuses:
                assert statuses.index("refused") == len(statuses) - 1, statuses
            else:
                assert len(statuses) == len(raws), statuses
            for raw, outcome in zip(raws, result.outcomes, strict=False):
                if raw in chain:  # genuine: taken, recognised, or held; never refused
                    assert outcome.status in ("accepted", "duplicate", "held"), outcome
                else:  # changed in any way, even to bytes equal in value: refused
                    assert outcome.status == "refused", f"a modified envelope was {outcome}"
                if outcome.status == "refused":
                    assert Code(outcome.code), "a refusal without a protocol code"
            with node.reading() as session:
                stored = [
                    e.envelope
                    for e in session.query(Entry)
                    .filter(Entry.link_id == link_id, Entry.sender == "washington")
                    .order_by(Entry.position)
                ]
                held = [h.envelope for h in session.query(Held).filter(Held.link_id == link_id)]
            assert stored == chain[: len(stored)], "applied entries are not the in-order prefix"
            assert all(h in chain for h in held)
            assert all(parse(h).header.seq > len(stored) + 1 for h in held)
            assert result.have == len(stored)
    finally:
        node.close()
        Path(db).unlink(missing_ok=True)
