"""The background sender: pushes each link's outbox to the peer, in order.

One task per link keeps its chain in order; a lease keeps a second process
serving the same node from pushing the same link. Failures back off
exponentially with jitter (state kept in the outbox, so it survives restarts).
New commits wake the task at once; other processes' commits are seen by polling.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import uuid
from collections.abc import Callable

import httpx
from anyio import to_thread

from ..protocol.errors import Code, ProtocolError
from ..storage.models import Link
from .clock import now_ms
from .metrics import NodeMetrics
from .service import Node
from .wire import (
    CONTENT_TYPE,
    MAX_BATCH,
    Push,
    decode_entries,
    decode_reply,
    encode_push,
)

log = logging.getLogger("hotline.deliverer")

POLL_SECONDS = 0.25
LINK_SCAN_SECONDS = 1.0


class Deliverer:
    def __init__(
        self,
        node: Node,
        metrics: NodeMetrics,
        client_context: Callable[[bytes], ssl.SSLContext],
    ) -> None:
        self.node = node
        self.metrics = metrics
        self.client_context = client_context
        self.holder = f"{node.party}-{uuid.uuid4().hex[:12]}"
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._pull_requested: set[str] = set()
        self._stopping = asyncio.Event()

    def request_pull(self, link_id: str) -> None:
        """Ask the link's task to fetch the peer's entries we are missing."""
        self._pull_requested.add(link_id)
        self.node.committed.notify()

    async def run(self) -> None:
        try:
            while not self._stopping.is_set():
                links = await to_thread.run_sync(self.node.links)
                for link in links:
                    task = self._tasks.get(link.id)
                    if task is None or task.done():
                        self._tasks[link.id] = asyncio.create_task(
                            self._serve_link(link), name=f"deliver-{link.name}"
                        )
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), LINK_SCAN_SECONDS)
        finally:
            for task in self._tasks.values():
                task.cancel()
            await asyncio.gather(*self._tasks.values(), return_exceptions=True)

    def stop(self) -> None:
        self._stopping.set()

    async def _serve_link(self, link: Link) -> None:
        context = self.client_context(link.peer_tls_certificate)
        lease_name = f"deliver:{link.id}"
        lease_until = 0
        async with httpx.AsyncClient(verify=context, timeout=10.0) as client:
            while not self._stopping.is_set():
                seen = self.node.committed.generation
                if now_ms() > lease_until - 4_000:
                    if await to_thread.run_sync(self.node.acquire_lease, lease_name, self.holder):
                        lease_until = now_ms() + 10_000
                    else:
                        lease_until = 0
                        await asyncio.sleep(2)
                        continue
                worked = False
                try:
                    if link.id in self._pull_requested:
                        self._pull_requested.discard(link.id)
                        await self._pull(client, link)
                    worked = await self._push(client, link)
                except (httpx.HTTPError, ProtocolError, OSError) as exc:
                    reason = type(exc).__name__
                    self.metrics.delivery_failures.labels(link.name, reason).inc()
                    delay = await to_thread.run_sync(
                        self.node.delivery_failed, link.id, f"{reason}: {exc}"
                    )
                    log.info(
                        "delivery to %s failed (%s); retry in %d ms", link.peer_party, exc, delay
                    )
                    continue
                if not worked:
                    await self.node.committed.wait(seen, POLL_SECONDS)

    async def _push(self, client: httpx.AsyncClient, link: Link) -> bool:
        batch = await to_thread.run_sync(lambda: self.node.push_batch(link.id, limit=MAX_BATCH))
        if batch is None:
            return False
        body = encode_push(Push(have=batch.peer_seq, envelopes=batch.envelopes))
        sent_ms = now_ms()
        response = await self._post(client, link, f"/peer/v1/links/{link.id}/push", body)
        reply = decode_reply(response)
        result = await to_thread.run_sync(
            lambda: self.node.delivered(link.id, reply.have, reply.entries, sent_ms=sent_ms)
        )
        refused = [r for r in reply.results if r.get("status") == "refused"]
        if refused:
            raise _refusal(refused[0])
        stamp = now_ms()
        latencies = [
            stamp - committed
            for seq, committed in zip(batch.seqs, batch.committed_ms, strict=True)
            if seq <= reply.have
        ]
        if latencies:
            self.metrics.deliveries.labels(link.name).inc(len(latencies))
            histogram = self.metrics.delivery_latency.labels(link.name)
            for latency in latencies:
                histogram.observe(max(0, latency) / 1000)
        if reply.missing or result.missing:
            self._pull_requested.add(link.id)
        return True

    async def _pull(self, client: httpx.AsyncClient, link: Link) -> None:
        fresh = await to_thread.run_sync(self.node.find_link, link.id)
        response = await self._get(
            client,
            link,
            f"/peer/v1/links/{link.id}/entries?after={fresh.peer_seq}&limit={MAX_BATCH}",
        )
        entries = decode_entries(response)
        if entries:
            await to_thread.run_sync(self.node.delivered, link.id, fresh.peer_has_seq, entries)

    async def _post(self, client: httpx.AsyncClient, link: Link, path: str, body: bytes) -> bytes:
        last: Exception | None = None
        for endpoint in link.peer_endpoints:
            try:
                response = await client.post(
                    endpoint.rstrip("/") + path,
                    content=body,
                    headers={"content-type": CONTENT_TYPE},
                )
            except httpx.TransportError as exc:
                last = exc
                continue
            response.raise_for_status()
            return response.content
        raise last or httpx.ConnectError("no endpoint")

    async def _get(self, client: httpx.AsyncClient, link: Link, path: str) -> bytes:
        last: Exception | None = None
        for endpoint in link.peer_endpoints:
            try:
                response = await client.get(endpoint.rstrip("/") + path)
            except httpx.TransportError as exc:
                last = exc
                continue
            response.raise_for_status()
            return response.content
        raise last or httpx.ConnectError("no endpoint")


def _refusal(result: dict[str, object]) -> ProtocolError:
    try:
        code = Code(str(result.get("code")))
    except ValueError:
        code = Code.MALFORMED
    return ProtocolError(code, f"peer refused {result.get('id')}: {result.get('detail')}")
