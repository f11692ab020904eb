"""The local API's group commit: concurrent sends share a transaction; a lone send
on SQLite is written on the event loop when no other thread is writing, and goes
to a worker thread otherwise (and always on PostgreSQL)."""

from __future__ import annotations

import asyncio
import threading
from contextlib import closing

import pytest

from hotline.node.delivery import group_commit, outgoing
from hotline.node.delivery.group_commit import GroupCommit
from hotline.node.delivery.outgoing import Outgoing
from hotline.node.home import NodeError
from hotline.node.runtime import NodeRuntime
from hotline.storage.models import Message
from tests.harness import LINK, Cluster


def _item(text: str) -> Outgoing:
    return Outgoing(LINK, {"text": text, "lang": "en"})


def test_a_lone_send_is_written_on_the_calling_thread_only_when_nobody_writes(
    cluster: Cluster,
) -> None:
    with closing(cluster.washington.node()) as node:
        sqlite = node.engine.dialect.name == "sqlite"
        before = node.outbox_depth()
        result = node.send_many_if_idle([_item("straight in")])
        if not sqlite:  # PostgreSQL's transactions wait on the network: never inline
            assert result is None and node.outbox_depth() == before
            return
        assert result is not None and isinstance(result[0], Message)
        assert node.outbox_depth() == before + 1

        writing, release = threading.Event(), threading.Event()

        def other_writer() -> None:
            with node.transaction():
                writing.set()
                release.wait(10)

        thread = threading.Thread(target=other_writer)
        thread.start()
        try:
            assert writing.wait(10)
            # Another thread holds the write lock: nothing is done, nothing waits.
            assert node.send_many_if_idle([_item("must wait")]) is None
        finally:
            release.set()
            thread.join(10)
        assert node.outbox_depth() == before + 1
        assert node.send_many_if_idle([_item("now free")]) is not None
        assert node.outbox_depth() == before + 2


def test_sends_made_together_commit_in_one_transaction_in_order(
    cluster: Cluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    with closing(cluster.washington.node()) as node:
        calls: list[tuple[str, int]] = []
        original_send_many = outgoing.send_many

        def send_many(
            node: NodeRuntime, items: list[Outgoing], *, queued: bool = False
        ) -> list[Message | NodeError]:
            calls.append((threading.current_thread().name, len(items)))
            return original_send_many(node, items, queued=queued)

        # Both ways in: the group's own call, and the lone send's (through send_many_if_idle).
        monkeypatch.setattr(group_commit, "send_many", send_many)
        monkeypatch.setattr(outgoing, "send_many", send_many)

        async def run() -> list[Message]:
            sends = GroupCommit(node)
            lone = await sends.send(_item("alone"))
            together = await asyncio.gather(*(sends.send(_item(f"n{i}")) for i in range(5)))
            return [lone, *together]

        messages = asyncio.run(run())
        assert [m.seq for m in messages] == list(range(messages[0].seq, messages[0].seq + 6))
        main = threading.current_thread().name
        if node.engine.dialect.name == "sqlite":
            # The lone send on the loop's own thread; the five in one group, in a worker.
            assert calls[0] == (main, 1)
        else:
            assert calls[0][0] != main and calls[0][1] == 1
        assert calls[1][0] != main and calls[1][1] == 5
        assert node.sends_waiting == 0
