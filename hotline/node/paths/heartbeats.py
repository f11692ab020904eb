"""Heartbeats on every direct path of a link, every second by default (the node's
``heartbeats`` timings), while we deliver it.

Run by the process that holds the link's delivery lease. Each heartbeat is a
signed message POSTed to the peer on that path; only the peer's signed echo of
that very heartbeat counts as good. Results drive :class:`LinkPaths`, which is
persisted (one write per round) so that every process and the console see the
same state, and feeds the Prometheus metrics.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable

import httpx
from anyio import to_thread

from ...clock import now_ms
from ...protocol.errors import ProtocolError
from ...protocol.heartbeat import NONCE_SIZE, make_heartbeat, read_echo
from ...storage.models import Link
from ..metrics import NodeMetrics
from ..runtime import NodeRuntime
from .connections import LinkConnections
from .liveness import (
    DOWN,
    GAUGE_VALUE,
    UP,
    LinkPaths,
    PathHealth,
)
from .store import read_paths, save_path_states

log = logging.getLogger("hotline.liveness")

TICK_S = 0.1
RETRY_S = 0.25
RELOAD_EVERY_S = 5.0
HEARTBEAT_CONTENT_TYPE = "application/cbor"


class HeartbeatMonitor:
    def __init__(
        self,
        node: NodeRuntime,
        metrics: NodeMetrics,
        link: Link,
        paths: LinkPaths,
        connections: LinkConnections,  # shared with the link's pushes: heartbeats keep them warm
        on_recovered: Callable[[str], None] | None = None,  # retry the outbox now
    ) -> None:
        self.node = node
        self.on_recovered = on_recovered
        self.metrics = metrics
        self.link = link
        self.paths = paths
        self.connections = connections
        self._counters: dict[int, int] = {}
        self._due: dict[int, float] = {}
        self._dirty = True

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        next_reload = loop.time() + RELOAD_EVERY_S
        beats: dict[int, asyncio.Task[None]] = {}
        try:
            while True:
                now = loop.time()
                for path in self.paths.direct:
                    running = beats.get(path.id)
                    if (running is None or running.done()) and now >= self._due.get(path.id, 0):
                        # Every interval; sooner after a miss, until the path is declared down.
                        self._due[path.id] = now + self.paths.timings.interval_s
                        beats[path.id] = asyncio.create_task(self._beat(path))
                try:
                    if now >= next_reload:
                        next_reload = now + RELOAD_EVERY_S
                        rows = await to_thread.run_sync(read_paths, self.node, self.link.id)
                        self.paths.reload(rows)
                    await self.flush()
                except Exception:  # e.g. the database briefly away: keep beating
                    log.exception("link %s: saving path states failed", self.link.name)
                    self._dirty = True
                await asyncio.sleep(TICK_S)
        finally:
            for task in beats.values():
                task.cancel()
            await asyncio.gather(*beats.values(), return_exceptions=True)

    async def flush(self) -> None:
        """Expire silent paths, switch if the active one is down, persist what changed."""
        stamp = now_ms()
        self.paths.expire(stamp)
        self.paths.choose(stamp)
        events = self.paths.take_events()
        for reason, _ in self.paths.failovers:
            self.metrics.failovers.labels(self.link.name, reason).inc()
        self.paths.failovers.clear()
        for type_, data in events:
            if type_ == "link.failover":
                log.warning(
                    "link %s: failover from %s to %s (%s)",
                    self.link.name,
                    data["from"],
                    data["to"],
                    data["reason"],
                )
            elif type_ == "path.state":
                log.info(
                    "link %s: path %s is %s (was %s)",
                    self.link.name,
                    data["url"],
                    data["state"],
                    data["previous"],
                )
            elif type_ == "link.relay":
                log.warning("link %s: relay in use: %s", self.link.name, data["using"])
        self._export_metrics()
        if not (self._dirty or events):
            return
        self._dirty = False
        updates = self.paths.updates()
        await to_thread.run_sync(lambda: save_path_states(self.node, self.link.id, updates, events))
        recovered = any(
            type_ == "path.state" and data["previous"] == DOWN and data["state"] == UP
            for type_, data in events
        )
        # The last direct path just went down and a relay is accepted: do not wait
        # out the outbox's backoff, go through the relay now.
        to_relay = (
            bool(self.paths.relays)
            and self.paths.all_direct_down()
            and any(type_ == "path.state" and data["state"] == DOWN for type_, data in events)
        )
        if (recovered or to_relay) and self.on_recovered is not None:
            await to_thread.run_sync(self.on_recovered, self.link.id)

    def _export_metrics(self) -> None:
        for path in self.paths.paths:
            self.metrics.path_state.labels(self.link.name, path.url).set(GAUGE_VALUE[path.state])
            self.metrics.path_active.labels(self.link.name, path.url).set(
                1 if path.id == self.paths.active_id and not self.paths.via_relay else 0
            )
        self.metrics.link_state.labels(self.link.name).set(GAUGE_VALUE[self.paths.state])

    async def _beat(self, path: PathHealth) -> None:
        stamp = now_ms()
        counter = max(self._counters.get(path.id, 0) + 1, stamp)
        self._counters[path.id] = counter
        beat, wire = make_heartbeat(
            self.node.identity,
            link=self.link.id,
            to=self.link.peer_party,
            path=path.url,
            counter=counter,
            time_ms=stamp,
            nonce=os.urandom(NONCE_SIZE),
        )
        started = time.monotonic()
        try:
            timings = self.paths.timings
            response = await self.connections.path(path).request(
                "POST",
                f"{path.url}/peer/v1/links/{self.link.id}/heartbeat",
                content=wire,
                headers={"content-type": HEARTBEAT_CONTENT_TYPE},
                timeout=httpx.Timeout(timings.timeout_s, connect=timings.connect_s),
                heartbeat=True,
            )
            response.raise_for_status()
            read_echo(response.content, peer_key=self.link.peer_signing_key, beat=beat)
        except (httpx.HTTPError, ProtocolError, OSError) as exc:
            self.metrics.heartbeat_failures.labels(self.link.name, path.url).inc()
            self.paths.heartbeat_failed(path, now_ms(), f"{type(exc).__name__}: {exc}")
            self._dirty = True
            # The next try opens a new connection (a kept-alive one may be dead
            # without knowing it; a transport failure closed it already) and comes
            # sooner while the path is only suspect.
            await self.connections.reset(path)
            if path.state != DOWN:
                loop = asyncio.get_running_loop()
                self._due[path.id] = min(self._due.get(path.id, 0), loop.time() + RETRY_S)
            return
        rtt = time.monotonic() - started
        self.metrics.heartbeat_rtt.labels(self.link.name).observe(rtt)
        self.paths.heartbeat_ok(path, now_ms(), round(rtt * 1000))
        self._dirty = True
