"""Relaying for others: store a sealed batch, forward it, hand back the answer.

A relay node holds, per relayed link, the two parties' pinned TLS certificates
and endpoints (``hotline relay add``). A party whose direct paths are all down
pushes its already-sealed batch to ``POST /peer/v1/relay/{link}``; the relay
stores the bytes (it cannot read them: envelopes are end-to-end encrypted and
signed) and forwards them at once to the other party's
``POST /peer/v1/links/{link}/relayed``. The receiver's answer, with its signed
receipts and signed progress, goes back to the sender unchanged. A batch that
cannot be forwarded now stays stored and is retried in the background.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import Callable
from functools import partial

import httpx
from anyio import to_thread

from ...storage.models import RelayRoute
from ..metrics import NodeMetrics
from ..runtime import NodeRuntime
from .relay_store import relay_done, relay_pending, relay_prune, relay_routes
from .wire import CONTENT_TYPE

log = logging.getLogger("hotline.relay")

FORWARD_TIMEOUT = httpx.Timeout(5.0, connect=1.0)
SCAN_SECONDS = 1.0
PRUNE_SECONDS = 3_600.0
RETAIN_MS = 7 * 86_400_000  # forwarded batches are kept a week, then forgotten


class RelayForwarder:
    def __init__(
        self,
        node: NodeRuntime,
        metrics: NodeMetrics,
        client_context: Callable[[bytes], ssl.SSLContext],
    ) -> None:
        self.node = node
        self.metrics = metrics
        self.client_context = client_context
        self._clients: dict[bytes, httpx.AsyncClient] = {}
        self._stopping = asyncio.Event()

    def stop(self) -> None:
        self._stopping.set()

    async def forward(
        self, batch_id: int, route: RelayRoute, body: bytes
    ) -> tuple[int, bytes] | None:
        """Forward one stored batch to ``route``'s party: its answer (status and body), or
        None when it could not be reached (the batch is kept and retried)."""
        client = self._client(route.certificate)
        error = "no endpoint"
        for endpoint in route.endpoints:
            try:
                response = await client.post(
                    f"{endpoint}/peer/v1/links/{route.link_id}/relayed",
                    content=body,
                    headers={"content-type": CONTENT_TYPE},
                )
            except httpx.TransportError as exc:
                error = f"{type(exc).__name__}: {exc}"
                continue
            if 400 <= response.status_code < 500:
                # The receiver refused the batch itself: sending it again cannot help.
                detail = f"refused: HTTP {response.status_code}"
                await to_thread.run_sync(
                    partial(relay_done, self.node, batch_id, detail, final=True)
                )
                self.metrics.relay_forwards.labels("refused").inc()
                return response.status_code, response.content
            if response.status_code != 200:
                error = f"HTTP {response.status_code}"
                break
            await to_thread.run_sync(relay_done, self.node, batch_id, None)
            self.metrics.relay_forwards.labels("forwarded").inc()
            return response.status_code, response.content
        self.metrics.relay_forwards.labels("deferred").inc()
        await to_thread.run_sync(relay_done, self.node, batch_id, error)
        log.info("relay batch %d for %s not forwarded yet: %s", batch_id, route.party, error)
        return None

    async def run(self) -> None:
        """Forward stored batches whose first attempt failed, with backoff; forget
        forwarded ones after RETAIN_MS."""
        loop = asyncio.get_running_loop()
        next_prune = loop.time()
        try:
            while not self._stopping.is_set():
                try:
                    if loop.time() >= next_prune:
                        next_prune = loop.time() + PRUNE_SECONDS
                        await to_thread.run_sync(relay_prune, self.node, RETAIN_MS)
                    pending = await to_thread.run_sync(relay_pending, self.node)
                    if pending:
                        routes = {
                            (r.link_id, r.party): r
                            for r in await to_thread.run_sync(relay_routes, self.node)
                        }
                        for batch in pending:
                            route = routes.get((batch.link_id, batch.to_party))
                            if route is not None:
                                await self.forward(batch.id, route, bytes(batch.body))
                except Exception:  # a failed round is retried; the loop must outlive it
                    log.exception("relay forwarding round failed")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), SCAN_SECONDS)
        finally:
            for client in self._clients.values():
                await client.aclose()

    def _client(self, certificate: bytes) -> httpx.AsyncClient:
        client = self._clients.get(certificate)
        if client is None:
            client = httpx.AsyncClient(
                verify=self.client_context(certificate), timeout=FORWARD_TIMEOUT
            )
            self._clients[certificate] = client
        return client
