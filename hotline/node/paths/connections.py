"""Warm connections to a link's paths, shared by heartbeats, pushes and pulls.

A push after a quiet hour should leave at once on a connection that is open and
authenticated, not pay a TCP and a TLS handshake first (two round trips: over a
geostationary satellite more than a second). Heartbeats cross every path every
interval anyway, so they keep the connections that pushes use warm.

Each path gets :data:`LANES` HTTP/1.1 connections ("lanes"), each an httpx client
of its own, all made with one TLS client context for the path: a connection that
must be remade resumes the TLS session of an earlier one (see
:class:`hotline.transport.tls.ResumingContext`). Heartbeats take the idle lane used
least recently, so every lane carries a heartbeat every ``LANES`` intervals and
stays open; pushes and pulls take the idle lane used most recently. One heartbeat
at a time goes out on a path, and one push or pull at a time on a link, so a push
always finds an idle warm lane, even while a heartbeat is in flight (one pool
shared by both would let heartbeats keep only its first connection warm, and a
push that meets a heartbeat in flight would connect anew).

An idle connection is kept :func:`keepalive_s` — a few times the time between two
heartbeats on one lane; the peer listener keeps it longer still
(:func:`listener_keepalive_s`), so that it is never the server that closes a
connection a client is about to use.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from ..heartbeat_timings import HeartbeatTimings
from .liveness import PathHealth

LANES = 2
# An idle lane's connection is kept this many times the time between two of its
# heartbeats (LANES intervals), and at least MIN_KEEPALIVE_S.
KEEPALIVE_MARGIN = 4
MIN_KEEPALIVE_S = 10.0
# The peer listener keeps an idle connection at least this long, and this much longer
# than its own node's clients keep theirs (a peer with the same timings).
MIN_LISTENER_KEEPALIVE_S = 75.0
LISTENER_KEEPALIVE_EXTRA_S = 15.0


def keepalive_s(timings: HeartbeatTimings) -> float:
    """How long a client keeps an idle connection to a peer's path."""
    return max(MIN_KEEPALIVE_S, KEEPALIVE_MARGIN * LANES * timings.interval_s)


def listener_keepalive_s(timings: HeartbeatTimings) -> float:
    """How long the peer listener keeps a pinned peer's idle connection."""
    return max(MIN_LISTENER_KEEPALIVE_S, keepalive_s(timings) + LISTENER_KEEPALIVE_EXTRA_S)


@dataclass
class _Lane:
    keepalive: float
    context: ssl.SSLContext
    client: httpx.AsyncClient | None = None
    busy: int = 0
    used: float = field(default=0.0)

    def open(self) -> httpx.AsyncClient:
        if self.client is None:
            self.client = httpx.AsyncClient(
                verify=self.context,
                limits=httpx.Limits(
                    max_connections=None,
                    max_keepalive_connections=1,
                    keepalive_expiry=self.keepalive,
                ),
            )
        return self.client

    async def close(self) -> None:
        client, self.client = self.client, None
        if client is not None:
            await client.aclose()


class PathConnections:
    """The warm connections to one path (a peer's endpoint, or a relay)."""

    def __init__(self, context: ssl.SSLContext, keepalive: float) -> None:
        self.context = context
        self._lanes = [_Lane(keepalive, context) for _ in range(LANES)]

    async def request(
        self,
        method: str,
        url: str,
        *,
        timeout: httpx.Timeout,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
        heartbeat: bool = False,
    ) -> httpx.Response:
        """One request on a lane; a transport failure closes the lane's connection
        (and those of idle lanes: they may be as dead without knowing it yet)."""
        lane = self._pick(heartbeat)
        lane.busy += 1
        lane.used = asyncio.get_running_loop().time()
        try:
            return await lane.open().request(
                method, url, content=content, headers=headers, timeout=timeout
            )
        except httpx.TransportError:
            await lane.close()
            await self.reset()
            raise
        finally:
            lane.busy -= 1

    def _pick(self, heartbeat: bool) -> _Lane:
        idle = [lane for lane in self._lanes if lane.busy == 0]
        if not idle:  # not in the deliverer's use; another connection on the least busy
            return min(self._lanes, key=lambda lane: lane.busy)
        if heartbeat:
            return min(idle, key=lambda lane: lane.used)
        return max(idle, key=lambda lane: lane.used)

    async def reset(self) -> None:
        """Close the idle lanes' connections: the next request on them connects anew
        (resuming the TLS session). A request in flight keeps its own."""
        for lane in self._lanes:
            if lane.busy == 0:
                await lane.close()

    async def aclose(self) -> None:
        for lane in self._lanes:
            await lane.close()


class LinkConnections:
    """The warm connections to each of a link's paths, for the task delivering it
    (its pushes and pulls) and the heartbeats it runs."""

    def __init__(
        self,
        client_context: Callable[[bytes], ssl.SSLContext],
        pinned: bytes,
        timings: HeartbeatTimings,
    ) -> None:
        self._client_context = client_context
        self._pinned = pinned  # the link's peer certificate: a path without its own
        self._keepalive = keepalive_s(timings)
        self._paths: dict[tuple[int, bytes], PathConnections] = {}

    def path(self, path: PathHealth) -> PathConnections:
        pin = path.certificate or self._pinned
        key = (path.id, pin)
        connections = self._paths.get(key)
        if connections is None:
            connections = PathConnections(self._client_context(pin), self._keepalive)
            self._paths[key] = connections
        return connections

    async def reset(self, path: PathHealth) -> None:
        await self.path(path).reset()

    async def aclose(self) -> None:
        paths, self._paths = self._paths, {}
        for connections in paths.values():
            await connections.aclose()
