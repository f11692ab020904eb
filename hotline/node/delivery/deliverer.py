"""The background sender: pushes each link's outbox to the peer, in order.

One task per link keeps its chain in order; a lease keeps a second process
serving the same node from pushing the same link. The lease holder also runs
the link's heartbeats (heartbeats.py) and pushes on the link's *active path*
(liveness.py): when that path goes down, or a push on it fails, the next usable
path takes over at once; when every direct path is down and the parties
accepted a relay, the sealed batch goes through the relay. Every push is
idempotent, so a batch sent again on another path is never applied twice.

Failures with no path left back off exponentially with jitter (state kept in
the outbox, so it survives restarts). A commit that makes something in an outbox
due wakes the task at once; other processes' commits, and entries queued for
later (receipts), are seen by polling.

The peer's reply to a push (how much of our chain it holds, and its receipts) is
recorded in the background as soon as the task knows what it does next: when the
next push has gone out (recording one reply overlaps the next round trip instead
of delaying the next message), or at once when there is nothing more to push, so
that the sender's *delivered* rung appears the moment the reply is read. Until it
is recorded, the task remembers in memory what the peer holds and does not push
it again.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import ssl
import uuid
from collections.abc import Callable

import httpx
from anyio import to_thread

from ...clock import now_ms
from ...protocol.errors import Code, ProtocolError
from ...protocol.heartbeat import sign_progress, verify_progress
from ...storage.models import Link
from ..heartbeat_timings import HeartbeatTimings
from ..linking import all_links, find_link
from ..metrics import NodeMetrics
from ..paths.heartbeats import HeartbeatMonitor
from ..paths.liveness import DOWN, UP, LinkPaths, PathHealth
from ..paths.store import read_paths
from ..runtime import NodeRuntime
from .ingest import IngestResult
from .link_run import Decision, LinkRun
from .outbox import PushBatch, acquire_lease, defer_outbox, delivered, delivery_failed, push_batch
from .wire import (
    CONTENT_TYPE,
    MAX_BATCH,
    Push,
    PushReply,
    RelayPush,
    decode_entries,
    decode_relayed_reply,
    decode_reply,
    encode_push,
    encode_relay_push,
)

log = logging.getLogger("hotline.deliverer")

LINK_SCAN_SECONDS = 1.0
# Generous: a request on a path that goes silent is abandoned as soon as the
# heartbeats declare the path down (about 2 s), not when this runs out. Connecting
# takes as long as the node's heartbeat timings allow (longer on a satellite path).
PUSH_TIMEOUT_S = 10.0
SUSPECT_TIMEOUT_S = 3.0
ABANDON_CHECK_SECONDS = 0.05
# How long a reply waits at most for the task to decide on the next push (at once,
# unless sends are gathering or the outbox is read) before it is recorded anyway.
SETTLE_GRACE_SECONDS = 0.02
# How long a push waits at most for sends still being committed, to take them along.
GATHER_SECONDS = 0.02
RELAY_RETRY_MS = 3_000  # the relay forwards what it stored; no need to push it often


class _UseRelay(Exception):
    """Every direct path is down and the link has a relay."""


class _PathGone(httpx.TransportError):
    """The heartbeats declared the request's path down while it was in flight."""


class Deliverer:
    def __init__(
        self,
        node: NodeRuntime,
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
        self.node.outbox.notify()

    async def run(self) -> None:
        try:
            while not self._stopping.is_set():
                links = await to_thread.run_sync(all_links, self.node)
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
        lease_name = f"deliver:{link.id}"
        lease_until = 0
        rows = await to_thread.run_sync(read_paths, self.node, link.id)
        timings = self.node.config.heartbeats
        run = LinkRun(
            link, LinkPaths.from_rows(link.id, link.name, rows, timings), self.client_context
        )
        monitor: asyncio.Task[None] | None = None
        try:
            while not self._stopping.is_set():
                seen = self.node.outbox.generation
                if now_ms() > lease_until - 4_000:
                    if await to_thread.run_sync(acquire_lease, self.node, lease_name, self.holder):
                        if monitor is None:  # (re)gained: start from the state in the database
                            rows = await to_thread.run_sync(read_paths, self.node, link.id)
                            run.paths = LinkPaths.from_rows(link.id, link.name, rows, timings)
                        lease_until = now_ms() + 10_000
                    else:
                        lease_until = 0
                        if monitor is not None:
                            monitor.cancel()
                            monitor = None
                        await asyncio.sleep(2)
                        continue
                if monitor is None or monitor.done():
                    monitor = asyncio.create_task(
                        HeartbeatMonitor(
                            self.node,
                            self.metrics,
                            link,
                            run.paths,
                            run.connections,
                            on_recovered=self._recovered,
                        ).run(),
                        name=f"heartbeat-{link.name}",
                    )
                worked = False
                try:
                    if link.id in self._pull_requested:
                        self._pull_requested.discard(link.id)
                        await self._pull(run)
                    worked = await self._push(run)
                except (httpx.HTTPError, ProtocolError, OSError) as exc:
                    run.flowing = False
                    reason = type(exc).__name__
                    self.metrics.delivery_failures.labels(link.name, reason).inc()
                    delay = await to_thread.run_sync(
                        delivery_failed, self.node, link.id, f"{reason}: {exc}"
                    )
                    log.info(
                        "delivery to %s failed (%s); retry in %d ms", link.peer_party, exc, delay
                    )
                    continue
                poll = self.node.config.outbox_poll_s
                if not worked and await self.node.outbox.wait(seen, poll) == seen:
                    run.looked = -1
        finally:
            if monitor is not None:
                monitor.cancel()
                await asyncio.gather(monitor, return_exceptions=True)
            await run.settled()
            await run.aclose()

    def _recovered(self, link_id: str) -> None:
        """A path came back: retry the link's outbox now rather than after its backoff."""
        defer_outbox(self.node, link_id, 0)

    async def _push(self, run: LinkRun) -> bool:
        link = run.link
        run.raise_failure()
        await self._let_sends_gather()
        seen = self.node.outbox.generation
        after = run.acked
        fresh = self.node.fresh.after(link.id, after, MAX_BATCH) if run.flowing else []
        if not fresh and run.flowing and run.looked == seen:
            # Nothing became due in this process since the last look. What others
            # queue, and entries queued for later, are found by the poll.
            run.decided(pushing=False)
            return False
        run.looked = seen
        if fresh:
            batch: PushBatch | None = PushBatch(
                peer_seq=run.peer_seq,
                seqs=[e.seq for e in fresh],
                envelopes=[e.envelope for e in fresh],
                committed_ms=[e.stored_ms for e in fresh],
            )
        else:
            batch = await to_thread.run_sync(
                lambda: push_batch(self.node, link.id, limit=MAX_BATCH, after=after)
            )
            if batch is not None and len(batch.seqs) == MAX_BATCH:
                # A full batch: the outbox may hold more (a backlog after an outage).
                # Read again after this push instead of waiting for a commit or the poll.
                run.looked = -1
        if batch is None:
            run.decided(pushing=False)
            return False
        run.peer_seq = max(run.peer_seq, batch.peer_seq)
        sent_ms = now_ms()
        run.decided(pushing=True)
        try:
            body = encode_push(Push(have=batch.peer_seq, envelopes=batch.envelopes))
            reply = decode_reply(
                await self._direct(run, "POST", f"/peer/v1/links/{link.id}/push", body)
            )
        except _UseRelay:
            run.flowing = False  # through a relay, the outbox's schedule applies
            relayed = await self._push_relay(run, batch)
            if relayed is None:
                return True
            reply = relayed
        run.acked = max(run.acked, reply.have)
        # Everything taken: the reply is recorded in the background. Otherwise (a
        # refusal, a gap) it is recorded now and its failure raised, as backoff needs.
        complete = reply.have >= batch.seqs[-1]
        run.flowing = complete
        self.node.fresh.forget(link.id, run.acked)
        run.settling = asyncio.create_task(
            self._settle(
                run, run.settling, run.next_push if complete else None, batch, reply, sent_ms
            ),
            name=f"settle-{link.name}",
        )
        if not complete:
            await run.settled()
            run.raise_failure()
        return True

    async def _let_sends_gather(self) -> None:
        """While sends are still being committed here, wait for them (a little at
        most), so that they leave in this push. Under load, pushes of a few messages
        each cost more in round trips and transactions, on both nodes, than the
        messages themselves. A lone send does not wait."""
        deadline = asyncio.get_running_loop().time() + GATHER_SECONDS
        while self.node.sends_waiting:
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                return
            await self.node.outbox.wait(self.node.outbox.generation, left)

    async def _settle(
        self,
        run: LinkRun,
        previous: asyncio.Task[None] | None,
        next_push: Decision | None,
        batch: PushBatch,
        reply: PushReply,
        sent_ms: int,
    ) -> None:
        """Record the peer's reply to a push, once the next push is on its way (or
        after a short grace), and after the reply before it."""
        link = run.link
        if previous is not None:
            await asyncio.gather(previous, return_exceptions=True)
        if next_push is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(next_push.wait(), SETTLE_GRACE_SECONDS)
        # Nothing else to push: recorded on the event loop if the database is free (as
        # a lone send is), sparing two hand-offs to a worker thread on the way to the
        # delivered rung. Else (a push in flight, other writers) in a worker thread.
        idle = next_push is not None and next_push.is_set() and not next_push.pushing
        try:

            def record() -> IngestResult:
                return delivered(self.node, link.id, reply.have, reply.entries, sent_ms=sent_ms)

            result = self.node.write_if_idle(record) if idle else None
            if result is None:
                result = await to_thread.run_sync(record)
        except Exception as exc:
            run.acked = 0  # what the database holds is the truth again
            self._failed(run, exc)
            return
        run.peer_seq = max(run.peer_seq, result.have)
        refused = [r for r in reply.results if r.get("status") == "refused"]
        if refused:
            self._failed(run, _refusal(refused[0]))
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
            self.request_pull(link.id)

    def _failed(self, run: LinkRun, failure: Exception) -> None:
        """Recording a reply failed: the link's task raises it on its next push (and
        backs off), reading the outbox from then on."""
        run.flowing = False
        run.failure = failure
        self.node.outbox.notify()

    async def _push_relay(self, run: LinkRun, batch: PushBatch) -> PushReply | None:
        """Send the sealed batch through the link's relay. The reply, or None when
        the relay stored the batch but could not forward it yet."""
        link, me = run.link, self.node.identity
        body = encode_relay_push(
            RelayPush(
                to=link.peer_party,
                have=batch.peer_seq,
                have_sig=sign_progress(me, link=link.id, to=link.peer_party, have=batch.peer_seq),
                envelopes=batch.envelopes,
            )
        )
        # Relays in order (a relay that failed last goes last), the next on a failure.
        relays = sorted(run.paths.relays, key=lambda p: (p.failures > 0, p.position))
        if not relays:
            raise httpx.ConnectError("this link has no relay")
        for index, relay in enumerate(relays):
            run.paths.use_relay(relay, now_ms())
            started = now_ms()
            try:
                response = await run.connections.path(relay).request(
                    "POST",
                    f"{relay.url}/peer/v1/relay/{link.id}",
                    content=body,
                    headers={"content-type": CONTENT_TYPE},
                    timeout=_timeouts(run.paths.timings)[0],
                )
                response.raise_for_status()
                break
            except httpx.HTTPError as exc:
                self.metrics.relay_pushes.labels(link.name, "failed").inc()
                run.paths.heartbeat_failed(relay, now_ms(), f"relay push failed: {exc!r}")
                await run.drop(relay)
                if index == len(relays) - 1:
                    raise
        run.paths.heartbeat_ok(relay, now_ms(), now_ms() - started)
        if response.status_code == 202:
            self.metrics.relay_pushes.labels(link.name, "stored").inc()
            await to_thread.run_sync(defer_outbox, self.node, link.id, RELAY_RETRY_MS)
            return None
        reply, signature = decode_relayed_reply(response.content)
        # The relay passes the peer's answer on; only the peer's signature makes
        # its "have" (which empties our outbox) believable.
        verify_progress(
            signature,
            signer_key=link.peer_signing_key,
            link=link.id,
            signer=link.peer_party,
            to=me.party,
            have=reply.have,
        )
        self.metrics.relay_pushes.labels(link.name, "delivered").inc()
        return reply

    async def _pull(self, run: LinkRun) -> None:
        link = run.link
        run.decided(pushing=True)
        await run.settled()
        fresh = await to_thread.run_sync(find_link, self.node, link.id)
        try:
            response = await self._direct(
                run,
                "GET",
                f"/peer/v1/links/{link.id}/entries?after={fresh.peer_seq}&limit={MAX_BATCH}",
            )
        except _UseRelay:
            return  # pulls need a direct path; the peer's pushes carry its entries meanwhile
        entries = decode_entries(response)
        if entries:
            await to_thread.run_sync(delivered, self.node, link.id, fresh.peer_has_seq, entries)

    async def _direct(
        self, run: LinkRun, method: str, suffix: str, body: bytes | None = None
    ) -> bytes:
        """Send on the active path; on a transport failure move to the next usable
        path and send again. Raises _UseRelay when every direct path is down."""
        tried: set[int] = set()
        last: Exception | None = None
        while True:
            path = run.paths.choose(now_ms(), frozenset(tried))
            if path is None:
                if run.paths.relays and run.paths.all_direct_down():
                    raise _UseRelay
                path = next((p for p in run.paths.direct if p.id not in tried), None)
                if path is None:
                    raise last or httpx.ConnectError("this link has no path")
            tried.add(path.id)
            try:
                response = await self._request(run, path, method, suffix, body)
            except httpx.TransportError as exc:
                last = exc
                run.paths.heartbeat_failed(path, now_ms(), f"{method} failed: {exc!r}")
                await run.drop(path)
                continue
            response.raise_for_status()
            return response.content

    async def _request(
        self, run: LinkRun, path: PathHealth, method: str, suffix: str, body: bytes | None
    ) -> httpx.Response:
        """One request, abandoned if the heartbeats declare its path down meanwhile
        (a silent path would otherwise hold the batch until the timeout)."""
        headers = {"content-type": CONTENT_TYPE} if body is not None else None
        # A path not known to be up gets a short timeout: it is a last resort tried
        # while the others fail, and must not hold the batch.
        up, suspect = _timeouts(run.paths.timings)
        timeout = up if path.state == UP else suspect
        request = asyncio.ensure_future(
            run.connections.path(path).request(
                method, path.url + suffix, content=body, headers=headers, timeout=timeout
            )
        )
        was_down = path.state == DOWN
        try:
            while True:
                done, _ = await asyncio.wait({request}, timeout=ABANDON_CHECK_SECONDS)
                if done:
                    return request.result()
                if path.state == DOWN and not was_down:
                    raise _PathGone(f"path {path.url} went down during the request")
        finally:
            if not request.done():
                request.cancel()
                await asyncio.gather(request, return_exceptions=True)


@functools.cache
def _timeouts(timings: HeartbeatTimings) -> tuple[httpx.Timeout, httpx.Timeout]:
    """A request's timeouts on a path that is up, and on one that is not, for the
    node's heartbeat timings (built once: pushes are frequent)."""
    return (
        httpx.Timeout(PUSH_TIMEOUT_S, connect=timings.connect_s),
        httpx.Timeout(max(SUSPECT_TIMEOUT_S, timings.timeout_s), connect=timings.connect_s),
    )


def _refusal(result: dict[str, object]) -> ProtocolError:
    try:
        code = Code(str(result.get("code")))
    except ValueError:
        code = Code.MALFORMED
    return ProtocolError(code, f"peer refused {result.get('id')}: {result.get('detail')}")
