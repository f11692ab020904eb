"""One link's delivery state, inside the deliverer's task that holds the link's lease
(:mod:`.deliverer`): its connections, what the peer holds, and the reply being recorded."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable

from ...storage.models import Link
from ..paths.connections import LinkConnections
from ..paths.liveness import LinkPaths, PathHealth


class Decision(asyncio.Event):
    """Set when the link's task knows what it does next; ``pushing``: another push."""

    pushing = False


class LinkRun:
    """One link's delivery state inside the task that holds its lease."""

    def __init__(
        self, link: Link, paths: LinkPaths, client_context: Callable[[bytes], ssl.SSLContext]
    ) -> None:
        self.link = link
        self.paths = paths
        # Shared with the link's heartbeats, which keep them warm.
        self.connections = LinkConnections(client_context, link.peer_tls_certificate, paths.timings)
        # The peer holds our chain up to here (its latest reply), recorded or not yet.
        self.acked = 0
        # How much of the peer's chain we hold, as last read or recorded.
        self.peer_seq = 0
        # The last push went through: the next may come from fresh.py, not the outbox.
        self.flowing = False
        # The outbox signal's generation when we last knew everything due here (from
        # the outbox or fresh.py); -1 after a poll timeout: read the outbox again.
        self.looked = -1
        # Recording the latest reply, and why the last recording failed.
        self.settling: asyncio.Task[None] | None = None
        self.failure: Exception | None = None
        # Set when the next push has gone out, or the task found nothing to push: a
        # reply waits for it (at most SETTLE_GRACE_SECONDS) before it is recorded.
        self.next_push = Decision()

    def decided(self, *, pushing: bool) -> None:
        """The next push is on its way, or there is none: record the latest reply now."""
        self.next_push.pushing = pushing
        self.next_push.set()
        self.next_push = Decision()

    async def settled(self) -> None:
        if self.settling is not None:
            await asyncio.gather(self.settling, return_exceptions=True)

    def raise_failure(self) -> None:
        """Raise, once, why recording the last reply failed (if it did)."""
        if self.failure is not None:
            failure, self.failure = self.failure, None
            raise failure

    async def drop(self, path: PathHealth) -> None:
        """Forget the path's kept-alive connections: the next request connects anew."""
        await self.connections.reset(path)

    async def aclose(self) -> None:
        await self.connections.aclose()
