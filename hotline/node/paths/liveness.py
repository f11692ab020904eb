"""Path liveness and the choice of the active path.

:class:`PathHealth` is one path's state machine, driven by heartbeat and push
outcomes with explicit times (no clock inside, so it is tested directly):

* **up**: the last heartbeat was answered with a valid signed echo, in less
  than ``slow_rtt_ms``;
* **degraded**: the last heartbeat failed or was slow, but a good one came
  less than ``down_after_ms`` ago;
* **down**: no good heartbeat for ``down_after_ms``, or ``down_after_failures``
  failures in a row;
* **unknown**: not tried yet.

The limits are the node's :class:`HeartbeatTimings` (``heartbeats`` in
``node.json``): the defaults suit terrestrial paths; a satellite path, with
round trips near 600 ms, needs longer ones.

:class:`LinkPaths` holds a link's paths and chooses the one to push on: it
keeps the active path while it is not down, moves to the first usable path in
order when it goes down (or a push on it fails), and moves back to a preferred
path once that has answered ``failback_successes`` heartbeats in a row. Each
move is returned as an event for the node's stream. The link's state is its
best path's state.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from ...storage.models import Path
from ..heartbeat_timings import DEFAULT_TIMINGS, HeartbeatTimings
from .store import DIRECT, RELAY, PathUpdate

UP, DEGRADED, DOWN, UNKNOWN = "up", "degraded", "down", "unknown"
STATES = (UP, DEGRADED, DOWN, UNKNOWN)
RANK = {UP: 3, DEGRADED: 2, UNKNOWN: 1, DOWN: 0}
GAUGE_VALUE = {UP: 2, DEGRADED: 1, DOWN: 0, UNKNOWN: -1}


@dataclass
class PathHealth:
    id: int
    url: str
    position: int
    kind: str
    certificate: bytes | None = None
    state: str = UNKNOWN
    last_good_ms: int | None = None
    last_attempt_ms: int | None = None
    rtt_ms: int | None = None
    failures: int = 0
    successes: int = 0
    changed_ms: int = 0
    timings: HeartbeatTimings = DEFAULT_TIMINGS
    avoid_until_ms: int | None = None  # an escalation asked to keep traffic off it

    def avoided(self, now_ms: int) -> bool:
        return self.avoid_until_ms is not None and self.avoid_until_ms > now_ms

    @classmethod
    def from_row(cls, row: Path, timings: HeartbeatTimings = DEFAULT_TIMINGS) -> PathHealth:
        return cls(
            id=row.id,
            url=row.url,
            position=row.position,
            kind=row.kind,
            certificate=row.certificate,
            state=row.state if row.state in STATES else UNKNOWN,
            last_good_ms=row.last_good_ms,
            last_attempt_ms=row.last_attempt_ms,
            rtt_ms=row.rtt_ms,
            failures=row.failures,
            successes=row.successes,
            changed_ms=row.changed_ms,
            timings=timings,
            avoid_until_ms=row.avoid_until_ms,
        )

    def succeeded(self, now_ms: int, rtt_ms: int) -> str | None:
        """A valid echo came back after ``rtt_ms``. Returns the previous state if it changed."""
        self.last_attempt_ms = now_ms
        self.last_good_ms = now_ms
        self.rtt_ms = rtt_ms
        self.failures = 0
        self.successes += 1
        return self._set(DEGRADED if rtt_ms > self.timings.slow_rtt_ms else UP, now_ms)

    def failed(self, now_ms: int) -> str | None:
        """A heartbeat or push on this path failed (timeout, refused, bad echo)."""
        self.last_attempt_ms = now_ms
        self.failures += 1
        self.successes = 0
        stale = self.last_good_ms is None or now_ms - self.last_good_ms > self.timings.down_after_ms
        down = stale or self.failures >= self.timings.down_after_failures
        return self._set(DOWN if down else DEGRADED, now_ms)

    def expire(self, now_ms: int) -> str | None:
        """Called often: a path with no good heartbeat for too long is down, even while
        its current heartbeat is still waiting for an answer."""
        if self.state in (UP, DEGRADED) and (
            self.last_good_ms is None or now_ms - self.last_good_ms > self.timings.down_after_ms
        ):
            return self._set(DOWN, now_ms)
        return None

    def _set(self, state: str, now_ms: int) -> str | None:
        if state == self.state:
            return None
        previous, self.state, self.changed_ms = self.state, state, now_ms
        if state == DOWN:
            self.successes = 0  # failback counts answers since the path came back
        return previous

    def view(self, active: bool) -> dict[str, object]:
        return {
            "path": self.id,
            "url": self.url,
            "kind": self.kind,
            "position": self.position,
            "state": self.state,
            "active": active,
            "last_good_ms": self.last_good_ms,
            "rtt_ms": self.rtt_ms,
            "failures": self.failures,
        }


Event = tuple[str, dict[str, object]]


@dataclass
class LinkPaths:
    """A link's paths as the delivering process sees them."""

    link_id: str
    link_name: str
    paths: list[PathHealth] = field(default_factory=list)
    active_id: int | None = None
    via_relay: bool = False
    events: list[Event] = field(default_factory=list)
    failovers: list[tuple[str, str]] = field(default_factory=list)  # (reason, to) not yet counted
    timings: HeartbeatTimings = DEFAULT_TIMINGS

    @classmethod
    def from_rows(
        cls,
        link_id: str,
        link_name: str,
        rows: Iterable[Path],
        timings: HeartbeatTimings = DEFAULT_TIMINGS,
    ) -> LinkPaths:
        rows = list(rows)
        paths = [PathHealth.from_row(r, timings) for r in rows]
        active = next((r.id for r in rows if r.active and r.kind == DIRECT), None)
        result = cls(link_id, link_name, paths, active, timings=timings)
        if result.active_id is None and result.direct:
            result.active_id = result.direct[0].id
        return result

    @property
    def direct(self) -> list[PathHealth]:
        return sorted((p for p in self.paths if p.kind == DIRECT), key=lambda p: p.position)

    @property
    def relays(self) -> list[PathHealth]:
        return sorted((p for p in self.paths if p.kind == RELAY), key=lambda p: p.position)

    @property
    def active(self) -> PathHealth | None:
        return next((p for p in self.paths if p.id == self.active_id), None)

    @property
    def state(self) -> str:
        """The link's state: its best direct path's (a relay keeps messages moving,
        but the link itself is down while no direct path answers)."""
        direct = self.direct
        if not direct:
            return DOWN
        return max((p.state for p in direct), key=lambda s: RANK[s])

    def all_direct_down(self) -> bool:
        return all(p.state == DOWN for p in self.direct)

    def reload(self, rows: Iterable[Path]) -> None:
        """Take in paths added (or reordered) by another process; keep our health."""
        known = {p.id: p for p in self.paths}
        fresh = []
        for row in rows:
            health = known.get(row.id) or PathHealth.from_row(row, self.timings)
            health.position, health.url, health.certificate = row.position, row.url, row.certificate
            health.avoid_until_ms = row.avoid_until_ms
            fresh.append(health)
        self.paths = fresh
        if self.active is None and self.direct:
            self.active_id = self.direct[0].id

    def find(self, path_id: int) -> PathHealth | None:
        return next((p for p in self.paths if p.id == path_id), None)

    # Outcomes ---------------------------------------------------------------

    def heartbeat_ok(self, path: PathHealth, now_ms: int, rtt_ms: int) -> None:
        self._changed(path, path.succeeded(now_ms, rtt_ms), now_ms, "heartbeat answered")

    def heartbeat_failed(self, path: PathHealth, now_ms: int, error: str) -> None:
        self._changed(path, path.failed(now_ms), now_ms, error)

    def expire(self, now_ms: int) -> None:
        for path in self.paths:
            if path.kind == DIRECT:
                self._changed(path, path.expire(now_ms), now_ms, "no answer")

    def _changed(self, path: PathHealth, previous: str | None, now_ms: int, why: str) -> None:
        if previous is None:
            return
        self.events.append(
            (
                "path.state",
                {
                    **path.view(path.id == self.active_id),
                    "previous": previous,
                    "reason": why[:200],
                    "link_state": self.state,
                },
            )
        )

    # Choice -----------------------------------------------------------------

    def choose(self, now_ms: int, avoid: frozenset[int] = frozenset()) -> PathHealth | None:
        """The direct path to push on now, switching (and recording why) if needed.
        None when no direct path outside ``avoid`` is usable. A path an escalation
        asked to avoid is used only when no other one is."""
        current = self.active
        candidates = [p for p in self.direct if p.id not in avoid]
        preferred = [p for p in candidates if not p.avoided(now_ms)]
        avoided = [p for p in candidates if p.avoided(now_ms)]
        usable = current is not None and current.id not in avoid and current.state != DOWN
        if usable and current in avoided and any(p.state != DOWN for p in preferred):
            usable = False  # an escalation asked to leave it, and there is another way
        if usable and current is not None:
            for path in candidates:
                if path.position >= current.position:
                    break
                if (
                    path.state == UP
                    and path.successes >= self.timings.failback_successes
                    and not path.avoided(now_ms)
                ):
                    return self._switch(path, "failback", now_ms)
            self._leave_relay(now_ms)
            return current
        if current is not None and current.id in avoid:
            reason = "push failed"
        elif current is not None and current.state != DOWN:
            reason = "escalation"  # the only other reason to leave a path that is not down
        else:
            reason = "path down"
        for group in (preferred, avoided):
            for wanted in (UP, DEGRADED, UNKNOWN):
                for path in group:
                    if path.state == wanted:
                        if current is None or path.id != current.id:
                            return self._switch(path, reason, now_ms)
                        return path
        return None

    def use_relay(self, relay: PathHealth, now_ms: int) -> None:
        if not self.via_relay:
            self.via_relay = True
            self.events.append(
                ("link.relay", {"relay": relay.url, "path": relay.id, "using": True})
            )
            self.failovers.append(("relay", relay.url))

    def _leave_relay(self, now_ms: int) -> None:
        if self.via_relay:
            self.via_relay = False
            current = self.active
            self.events.append(
                (
                    "link.relay",
                    {"using": False, "path": current.id if current else None},
                )
            )

    def _switch(self, path: PathHealth, reason: str, now_ms: int) -> PathHealth:
        previous = self.active
        self.active_id = path.id
        self._leave_relay(now_ms)
        self.events.append(
            (
                "link.failover",
                {
                    "from": previous.url if previous else None,
                    "from_path": previous.id if previous else None,
                    "to": path.url,
                    "to_path": path.id,
                    "reason": reason,
                    "from_state": previous.state if previous else None,
                    "to_state": path.state,
                },
            )
        )
        self.failovers.append((reason, path.url))
        return path

    def take_events(self) -> list[Event]:
        events, self.events = self.events, []
        return events

    def updates(self) -> list[PathUpdate]:
        return [
            PathUpdate(
                path_id=p.id,
                state=p.state,
                active=p.id == self.active_id,
                last_good_ms=p.last_good_ms,
                last_attempt_ms=p.last_attempt_ms,
                rtt_ms=p.rtt_ms,
                failures=p.failures,
                successes=p.successes,
                changed_ms=p.changed_ms,
            )
            for p in self.paths
        ]
