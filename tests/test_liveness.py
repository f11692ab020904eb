"""Path states and the choice of the active path, driven with explicit times."""

from __future__ import annotations

from hotline.node.liveness import (
    DEGRADED,
    DOWN,
    DOWN_AFTER_MS,
    FAILBACK_SUCCESSES,
    SLOW_RTT_MS,
    UNKNOWN,
    UP,
    LinkPaths,
    PathHealth,
)


def two_paths() -> LinkPaths:
    paths = [
        PathHealth(id=1, url="https://a:1", position=0, kind="direct"),
        PathHealth(id=2, url="https://b:1", position=1, kind="direct"),
        PathHealth(id=3, url="https://relay:1", position=2, kind="relay"),
    ]
    return LinkPaths("L", "defence", paths, active_id=1)


def test_states_follow_heartbeats_and_time() -> None:
    path = PathHealth(id=1, url="https://a:1", position=0, kind="direct")
    assert path.state == UNKNOWN
    assert path.succeeded(1_000, 5) == UNKNOWN
    assert path.state == UP
    path.failed(2_000)
    assert path.state == DEGRADED  # one miss, a good heartbeat 1 s ago
    path.failed(2_500)
    assert path.state == DOWN  # two misses in a row
    path.succeeded(3_000, SLOW_RTT_MS + 1)
    assert path.state == DEGRADED  # answered, but slowly
    path.succeeded(4_000, 3)
    assert path.state == UP
    assert path.expire(4_000 + DOWN_AFTER_MS) is None
    assert path.expire(4_001 + DOWN_AFTER_MS) == UP
    assert path.state == DOWN


def test_failover_when_the_active_path_goes_down_and_failback_after_it_recovers() -> None:
    link = two_paths()
    for t in (1_000, 2_000):
        for p in link.direct:
            link.heartbeat_ok(p, t, 2)
    assert link.choose(2_000).id == 1
    link.take_events()
    # path 1 goes silent; path 2 keeps answering
    link.heartbeat_ok(link.direct[1], 3_000, 2)
    link.expire(2_000 + DOWN_AFTER_MS + 1)
    assert link.direct[0].state == DOWN
    assert link.choose(3_900).id == 2
    events = link.take_events()
    failover = [data for type_, data in events if type_ == "link.failover"]
    assert failover == [
        {
            "from": "https://a:1",
            "from_path": 1,
            "to": "https://b:1",
            "to_path": 2,
            "reason": "path down",
            "from_state": DOWN,
            "to_state": UP,
        }
    ]
    assert any(type_ == "path.state" and data["state"] == DOWN for type_, data in events)
    # path 1 answers again: no failback until it has answered FAILBACK_SUCCESSES times
    for n in range(FAILBACK_SUCCESSES):
        assert link.choose(5_000 + n * 1_000).id == 2
        link.heartbeat_ok(link.direct[0], 5_000 + n * 1_000, 2)
    assert link.choose(9_000).id == 1
    assert [d["reason"] for t, d in link.take_events() if t == "link.failover"] == ["failback"]


def test_a_failed_push_moves_to_the_next_path_at_once() -> None:
    link = two_paths()
    for p in link.direct:
        link.heartbeat_ok(p, 1_000, 2)
    link.heartbeat_failed(link.direct[0], 1_200, "ReadTimeout")
    assert link.direct[0].state == DEGRADED
    assert link.choose(1_200, frozenset({1})).id == 2
    assert [d["reason"] for t, d in link.take_events() if t == "link.failover"] == ["push failed"]


def test_relay_only_when_every_direct_path_is_down() -> None:
    link = two_paths()
    for p in link.direct:
        link.heartbeat_ok(p, 1_000, 2)
    link.heartbeat_failed(link.direct[0], 3_000, "x")
    assert not link.all_direct_down()
    link.heartbeat_failed(link.direct[1], 3_000, "x")
    assert link.all_direct_down()
    assert link.state == DOWN
    assert link.choose(3_000) is None
    link.use_relay(link.relays[0], 3_000)
    link.use_relay(link.relays[0], 3_100)  # recorded once
    relay_events = [d for t, d in link.take_events() if t == "link.relay"]
    assert relay_events == [{"relay": "https://relay:1", "path": 3, "using": True}]
    link.heartbeat_ok(link.direct[1], 4_000, 2)
    assert link.state == UP
    assert link.choose(4_000).id == 2
    events = link.take_events()
    assert [d["using"] for t, d in events if t == "link.relay"] == [False]


def test_link_state_is_the_best_direct_path() -> None:
    link = two_paths()
    assert link.state == UNKNOWN
    link.heartbeat_ok(link.direct[1], 1_000, SLOW_RTT_MS + 10)
    assert link.state == DEGRADED
    link.heartbeat_ok(link.direct[0], 1_000, 1)
    assert link.state == UP
