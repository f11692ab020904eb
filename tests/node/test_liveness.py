"""Path states and the choice of the active path, driven with explicit times."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from hotline.node.heartbeat_timings import DEFAULT_TIMINGS, HeartbeatTimings
from hotline.node.paths.liveness import DEGRADED, DOWN, UNKNOWN, UP, LinkPaths, PathHealth

DOWN_AFTER_MS = DEFAULT_TIMINGS.down_after_ms
FAILBACK_SUCCESSES = DEFAULT_TIMINGS.failback_successes
SLOW_RTT_MS = DEFAULT_TIMINGS.slow_rtt_ms


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


def test_a_satellite_path_with_its_own_timings_stays_up_where_the_defaults_fail_it() -> None:
    """Round trips near 600 ms and a heartbeat every 5 s: with the defaults such a
    path is degraded at every answer and down between two heartbeats."""
    satellite = HeartbeatTimings(
        interval_s=5, timeout_s=3, connect_s=2, slow_rtt_ms=1_500, down_after_ms=12_000
    )
    tuned = PathHealth(id=1, url="https://sat:1", position=0, kind="direct", timings=satellite)
    default = PathHealth(id=2, url="https://sat:2", position=1, kind="direct")
    for path in (tuned, default):
        path.succeeded(1_000, 620)
    assert (tuned.state, default.state) == (UP, DEGRADED)
    for path in (tuned, default):
        path.expire(6_000)  # the next heartbeat is not due yet
    assert (tuned.state, default.state) == (UP, DOWN)
    tuned.failed(6_500)
    assert tuned.state == DEGRADED  # one miss within the window
    assert tuned.expire(13_001) == DEGRADED and tuned.state == DOWN

    # The link's failback and the paths it loads from the database use them too.
    link = LinkPaths("L", "defence", [], timings=HeartbeatTimings(failback_successes=1))
    link.paths = [
        PathHealth(id=1, url="https://a:1", position=0, kind="direct", timings=link.timings),
        PathHealth(id=2, url="https://b:1", position=1, kind="direct", timings=link.timings),
    ]
    link.active_id = 2
    link.heartbeat_ok(link.direct[0], 1_000, 2)
    assert link.choose(1_000).id == 1  # one answer is enough here (the default is 3)


def test_timings_that_contradict_each_other_are_refused() -> None:
    with pytest.raises(ValidationError, match="between two heartbeats"):
        HeartbeatTimings(interval_s=5, down_after_ms=4_000)
    with pytest.raises(ValidationError, match="connect_s"):
        HeartbeatTimings(timeout_s=1, connect_s=2)
    with pytest.raises(ValidationError):
        HeartbeatTimings(interval_s=0)
    with pytest.raises(ValidationError):
        HeartbeatTimings.model_validate({"interval": 2})  # a misspelt field is not ignored


def test_a_path_to_avoid_is_left_and_not_failed_back_to_until_its_time_is_up() -> None:
    """An escalation's "switch_path": the active path answers heartbeats but does not
    take pushes. Traffic moves off it and stays off until the mark expires, unless
    nothing else is usable."""
    link = two_paths()
    for t in (1_000, 2_000, 3_000, 4_000):
        for p in link.direct:
            link.heartbeat_ok(p, t, 2)
    assert link.choose(4_000).id == 1
    link.take_events()
    link.direct[0].avoid_until_ms = 60_000
    assert link.choose(5_000).id == 2
    [failover] = [data for type_, data in link.take_events() if type_ == "link.failover"]
    assert failover["reason"] == "escalation" and failover["to_path"] == 2
    for t in range(6_000, 60_000, 1_000):  # path 1 keeps answering: no failback
        link.heartbeat_ok(link.direct[0], t, 2)
        assert link.choose(t).id == 2
    assert link.choose(60_001).id == 1  # the mark has expired: back to the preferred path
    assert ("failback", "https://a:1") in link.failovers

    # With the other path down, the avoided one is still better than nothing.
    link.direct[0].avoid_until_ms = 200_000
    link.direct[1].failed(70_000)
    link.direct[1].failed(70_001)
    assert link.direct[1].state == DOWN
    assert link.choose(70_002).id == 1
    # And a push that failed on the other path falls back to the avoided one.
    link.active_id = 2
    assert link.choose(70_003, avoid=frozenset({2})).id == 1
