"""What a node keeps in memory to skip a read on the hot path: its newest due
entries (for the deliverer) and its newest events (for live streams). Both hand
out only an unbroken run right after what the reader already has; a gap sends the
reader to the database."""

from __future__ import annotations

import asyncio
from contextlib import closing
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hotline.node.delivery.outgoing import Outgoing
from hotline.node.events import EventRow, RecentEvents
from hotline.node.fresh import FreshEntries, FreshEntry
from hotline.node.home import NodeError
from hotline.protocol.errors import ProtocolError
from tests.harness import LINK, Cluster


def _entry(seq: int) -> FreshEntry:
    return FreshEntry(seq, f"envelope {seq}".encode(), 1_000 + seq)


def _event(event_id: int) -> EventRow:
    return EventRow(event_id, "L", "message.received", {"n": event_id}, 5_000 + event_id)


def test_fresh_entries_hand_out_the_run_after_what_the_peer_holds() -> None:
    fresh = FreshEntries()
    fresh.add("L", [_entry(s) for s in (3, 4, 5)])
    fresh.add("L", [_entry(7)])  # 6 is not here (say, a receipt queued for later)
    assert [e.seq for e in fresh.after("L", 2, limit=64)] == [3, 4, 5]
    assert [e.seq for e in fresh.after("L", 3, limit=2)] == [4, 5]
    assert fresh.after("L", 1, limit=64) == []  # 2 is missing: read the outbox
    assert fresh.after("L", 5, limit=64) == []
    assert fresh.after("other link", 2, limit=64) == []
    fresh.forget("L", 4)
    assert fresh.after("L", 2, limit=64) == []
    assert [e.envelope for e in fresh.after("L", 4, limit=64)] == [b"envelope 5"]


def test_fresh_entries_keep_only_the_newest_when_nobody_takes_them() -> None:
    fresh = FreshEntries(keep_per_link=10)
    fresh.add("L", [_entry(s) for s in range(1, 26)])
    assert [e.seq for e in fresh.after("L", 15, limit=64)] == list(range(16, 26))
    assert fresh.after("L", 14, limit=64) == []


def test_recent_events_hand_out_an_unbroken_run_only() -> None:
    recent = RecentEvents(keep=100)
    recent.add([_event(i) for i in (10, 11, 12)])
    recent.add([_event(14)])  # 13 was committed elsewhere or used up by a rollback
    assert [e.id for e in recent.after(9, 500)] == [10, 11, 12]
    assert [e.id for e in recent.after(10, limit=1)] == [11]
    assert recent.after(12, 500) == []
    assert recent.after(8, 500) == []
    assert recent.after(13, 500)[0].data == {"n": 14}


@given(st.sets(st.integers(min_value=1, max_value=60)), st.integers(min_value=0, max_value=60))
def test_recent_events_never_skip_an_id(ids: set[int], after: int) -> None:
    recent = RecentEvents()
    recent.add([_event(i) for i in sorted(ids)])
    run = [e.id for e in recent.after(after, 500)]
    assert run == list(range(after + 1, after + 1 + len(run)))
    assert all(i in ids for i in run)
    assert (after + len(run) + 1) not in ids


def test_what_a_commit_hands_over_is_what_the_database_holds(cluster: Cluster) -> None:
    with closing(cluster.washington.node()) as node:
        link = node.find_link(LINK)
        three = [Outgoing(LINK, {"text": f"message {i}", "lang": "en"}) for i in range(3)]
        node.send_many(three)
        node.send(LINK, {"text": "one more", "lang": "en"})
        # The deliverer's batch from memory is the outbox's, byte for byte.
        fresh = node.fresh.after(link.id, link.peer_has_seq, 64)
        batch = node.push_batch(link.id, limit=64, after=link.peer_has_seq)
        assert batch is not None and len(fresh) == 4
        assert [e.seq for e in fresh] == batch.seqs
        assert [e.envelope for e in fresh] == batch.envelopes
        assert [e.stored_ms for e in fresh] == batch.committed_ms
        # A stream handed these events gets the rows in the database, ids included.
        stored = node.events_after(0, 1_000_000)
        queued = [e for e in stored if e.type == "message.queued"]
        assert len(queued) == 4
        handed = node.recent_events.after(queued[0].id - 2, 500)
        assert handed and handed == stored[-len(handed) :]
        assert [e.type for e in handed].count("message.queued") == 4


def test_queued_sends_stop_counting_once_committed_refused_or_failed(tmp_path: Path) -> None:
    """The deliverer waits for queued sends to push them together; a send that never
    commits must not keep it waiting."""
    with Cluster(tmp_path, lambda _: None) as cluster, closing(cluster.washington.node()) as node:
        node.sends_queued(2)
        assert node.sends_waiting == 2
        good = Outgoing(LINK, {"text": "on its way", "lang": "en"})
        results = node.send_many([good, Outgoing("no-such-link", good.body)], queued=True)
        assert isinstance(results[1], NodeError) and node.sends_waiting == 0
        depth = node.outbox_depth()
        node.sends_queued(1)
        with pytest.raises(ProtocolError):  # floats never enter an envelope
            node.send_many([Outgoing(LINK, {"text": "x", "lang": "en", "n": 0.5})], queued=True)
        assert node.sends_waiting == 0 and node.outbox_depth() == depth


def test_a_live_feed_reads_the_database_only_when_memory_cannot_answer(cluster: Cluster) -> None:
    """After taking this process's events from memory, a feed does not read them
    back; another process's commits (which wake nobody here) come with the poll."""
    with (
        closing(cluster.washington.node()) as node,
        closing(cluster.washington.node()) as other,  # a second process serving the node
    ):
        reads: list[int] = []
        events_after = node.events_after

        def counted(after_id: int, limit: int = 500) -> list[EventRow]:
            reads.append(after_id)
            return events_after(after_id, limit)

        node.events_after = counted  # type: ignore[method-assign]

        async def scenario() -> None:
            feed = node.event_feed(events_after(0, 1_000_000)[-1].id)
            node.send(LINK, {"text": "from this process", "lang": "en"})
            mine = await feed.next(1.0)
            assert "message.queued" in [e.type for e in mine] and reads == []
            assert await feed.next(0.05) == [] and len(reads) == 1  # the poll's read
            other.send(LINK, {"text": "from the other process", "lang": "en"})
            theirs = await feed.next(0.05)  # nothing notified here: found by the poll
            assert [e.data["body"]["text"] for e in theirs if e.type == "message.queued"] == [
                "from the other process"
            ]
            assert theirs == events_after(mine[-1].id, 1_000_000)
            node.send(LINK, {"text": "mine again", "lang": "en"})
            again = await feed.next(1.0)
            assert again == events_after(theirs[-1].id, 1_000_000)

        asyncio.run(scenario())
