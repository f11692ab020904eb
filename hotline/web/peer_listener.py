"""The peer listener's front door: who may hold a connection, and for how long before
its TLS handshake completes.

uvicorn hands TLS to the event loop (``create_server(ssl=...)``), which waits 60 s for
a handshake, counts nothing and caps nothing: idle connections from anyone exhaust the
process's descriptors, and the local API with them. Here the listening socket is plain
TCP. Each accepted connection meets a :class:`PeerGate`, which

1. admits it or hangs up at once, before any TLS work: at most ``max_per_source``
   connections per source address (an IPv6 source counts by its /64), at most
   ``max_handshake_rate`` new connections a second from addresses no pinned peer has
   completed a handshake from in the last day (answering a ClientHello is the costly
   part of a flood, and it runs on the event loop the local API shares), at most
   ``max_connections`` in all, at most ``max_handshakes`` in handshake, the oldest
   handshake pushed out when a new connection needs the room;
2. upgrades it with ``loop.start_tls`` under ``handshake_timeout_s``;
3. hands the TLS transport to uvicorn's HTTP protocol (:class:`PeerCertHttpProtocol`),
   whose requests are bounded in turn (:mod:`.bounded_http`).

Pushing out the oldest handshake rather than refusing the newest keeps a real peer's
fresh connection from waiting behind a flood: it needs a few milliseconds to finish,
the flood would have to fill the whole queue in that time to displace it. Connections
that completed the handshake come from pinned peers only, and are never pushed out.

Descriptors: :func:`raise_descriptor_limit` lifts the soft limit to the hard one, and
``max_connections`` is lowered to leave :data:`RESERVED_DESCRIPTORS` for the local
listener, the database and outgoing connections. Memory: a handshake holds buffers
of a few hundred KiB in OpenSSL and the loop's TLS protocol; glibc keeps freed heap
for reuse, so after a flood :meth:`PeerListener.return_memory` hands it back.
"""

from __future__ import annotations

import asyncio
import ctypes
import ipaddress
import logging
import resource
import ssl
import time
from collections import Counter
from typing import Any, cast

import uvicorn
from prometheus_client import CollectorRegistry, Gauge
from prometheus_client import Counter as MetricCounter
from uvicorn.server import ServerState

from ..transport.limits import PeerLimits
from .bounded_http import BoundedConfig, RequestBounds
from .peer_protocol import PeerCertHttpProtocol

log = logging.getLogger("hotline.peer_listener")

# Descriptors kept free of peer connections: local API clients and event streams, the
# database's connections and files, connections to peers and relays, logs.
RESERVED_DESCRIPTORS = 256
# How long a pinned peer's connection may stay idle between requests, at least: far
# longer than the heartbeat interval (1 s by default), so that heartbeats, and pushes
# after a quiet spell, find their connection warm instead of paying for a new TLS
# handshake. A node with slower heartbeats keeps them longer (the server passes
# hotline.node.paths.connections.listener_keepalive_s). Only connections whose handshake
# completed, from pinned peers, are kept alive this long.
PEER_KEEP_ALIVE_S = 75.0
# How long an address a pinned peer completed a handshake from skips the handshake rate.
KNOWN_SOURCE_S = 24 * 3600.0
# Memory is handed back once this many handshakes ended since the last time and fewer
# than QUIET_HANDSHAKES are in flight (the flood has passed), at most every TRIM_EVERY_S.
TRIM_AFTER_HANDSHAKES = 64
QUIET_HANDSHAKES = 8
TRIM_EVERY_S = 5.0


def raise_descriptor_limit() -> int:
    """Raise the soft limit on open descriptors to the hard limit; return the soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError):  # a sandbox may forbid it; keep what there is
            log.warning("could not raise the descriptor limit from %d to %d", soft, hard)
    return soft if soft != resource.RLIM_INFINITY else 1 << 20


def fit_to_descriptors(limits: PeerLimits, descriptors: int) -> PeerLimits:
    """``limits`` with the connection caps lowered to what ``descriptors`` leaves."""
    room = max(8, descriptors - RESERVED_DESCRIPTORS)
    if limits.max_connections <= room:
        return limits
    log.warning(
        "peer connections capped at %d (descriptor limit %d, %d reserved), not %d",
        room,
        descriptors,
        RESERVED_DESCRIPTORS,
        limits.max_connections,
    )
    return limits.model_copy(
        update={
            "max_connections": room,
            "max_per_source": min(limits.max_per_source, room),
            "max_handshakes": min(limits.max_handshakes, room),
        }
    )


def source_of(peername: Any) -> str:
    """The address a connection counts against: IPv4 as is, IPv6 by its /64."""
    if not isinstance(peername, tuple) or not peername:
        return ""
    try:
        address = ipaddress.ip_address(peername[0])
    except ValueError:
        return str(peername[0])
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


def _malloc_trim() -> Any:
    """glibc's malloc_trim, from the symbols the process already has; None elsewhere."""
    try:
        return ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError, TypeError):  # not glibc
        return None


_TRIM = _malloc_trim()


class PeerListener:
    """The peer listener's counts and caps, shared by all its :class:`PeerGate` s."""

    def __init__(
        self,
        context: ssl.SSLContext,
        limits: PeerLimits,
        registry: CollectorRegistry | None = None,
        keep_alive_s: float = PEER_KEEP_ALIVE_S,
    ) -> None:
        self.context = context
        self.limits = limits
        self.keep_alive_s = max(PEER_KEEP_ALIVE_S, keep_alive_s)
        self._handshaking: dict[PeerGate, None] = {}  # oldest first
        self._sources: Counter[str] = Counter()
        self._known: dict[str, float] = {}  # source -> when a pinned peer last completed
        self._tokens = limits.max_handshake_rate
        self._tokens_at = time.monotonic()
        self._established = 0
        self._ended_since_trim = 0
        self._trimmed_at = time.monotonic()
        self._trimming = False
        self._trim_again = False
        self.connections = Gauge(
            "hotline_peer_connections",
            "Connections to the peer listener, in TLS handshake or established",
            ["stage"],
            registry=registry,
        )
        self.connections.labels("handshake").set_function(lambda: len(self._handshaking))
        self.connections.labels("established").set_function(lambda: self._established)
        self.refused = MetricCounter(
            "hotline_peer_connections_refused",
            "Peer connections hung up on at once, before TLS: per_source, rate or full",
            ["reason"],
            registry=registry,
        )
        self.handshakes = MetricCounter(
            "hotline_peer_handshakes",
            "TLS handshakes on the peer listener by outcome: completed, timed_out, "
            "failed (refused certificate, not TLS, hung up) or pushed_out",
            ["outcome"],
            registry=registry,
        )

    def config(self, app: Any, **kwargs: Any) -> uvicorn.Config:
        """A uvicorn configuration whose connections pass through this listener."""
        return PeerListenerConfig(app, listener=self, **kwargs)

    @property
    def open(self) -> int:
        return len(self._handshaking) + self._established

    def admit(self, gate: PeerGate) -> bool:
        limits = self.limits
        if self._sources[gate.source] >= limits.max_per_source:
            self.refused.labels("per_source").inc()
            return False
        if not self._known_source(gate.source) and not self._take_token():
            self.refused.labels("rate").inc()
            return False
        if self.open >= limits.max_connections or len(self._handshaking) >= limits.max_handshakes:
            if not self._handshaking:
                self.refused.labels("full").inc()
                return False
            next(iter(self._handshaking)).close()
        self._handshaking[gate] = None
        self._sources[gate.source] += 1
        gate.counted = True
        return True

    def established(self, gate: PeerGate) -> None:
        del self._handshaking[gate]
        self._established += 1
        self._known[gate.source] = time.monotonic()
        self.handshakes.labels("completed").inc()

    def _known_source(self, source: str) -> bool:
        since = self._known.get(source)
        if since is None:
            return False
        if time.monotonic() - since <= KNOWN_SOURCE_S:
            return True
        del self._known[source]
        return False

    def _take_token(self) -> bool:
        """A token bucket: ``max_handshake_rate`` a second, as many at once."""
        now = time.monotonic()
        rate = self.limits.max_handshake_rate
        self._tokens = min(rate, self._tokens + (now - self._tokens_at) * rate)
        self._tokens_at = now
        if self._tokens < 1:
            return False
        self._tokens -= 1
        return True

    def release(self, gate: PeerGate, outcome: str = "failed") -> None:
        """Forget a connection (once, however often it is called); ``outcome`` is how
        its handshake ended, if it was still in one."""
        if not gate.counted:
            return
        gate.counted = False
        if gate in self._handshaking:
            del self._handshaking[gate]
            self._ended_since_trim += 1
            self.handshakes.labels(outcome).inc()
        else:
            self._established -= 1
        self._sources[gate.source] -= 1
        if self._sources[gate.source] <= 0:
            del self._sources[gate.source]

    def close_handshakes(self) -> None:
        """Hang up on every connection still in handshake (at shutdown)."""
        for gate in list(self._handshaking):
            gate.close()

    async def return_memory(self) -> None:
        """Once a flood of handshakes has passed, hand the heap glibc keeps for reuse
        back to the system (during one, the caps bound it). Done twice, TRIM_EVERY_S
        apart: the loop frees a closed connection's buffers a little after it ends."""
        now = time.monotonic()
        flood_passed = (
            self._ended_since_trim >= TRIM_AFTER_HANDSHAKES
            and len(self._handshaking) < QUIET_HANDSHAKES
        )
        if (
            _TRIM is None
            or self._trimming
            or not (flood_passed or self._trim_again)
            or now - self._trimmed_at < TRIM_EVERY_S
        ):
            return
        self._trim_again = flood_passed
        self._ended_since_trim = 0
        self._trimmed_at = now
        self._trimming = True
        try:
            await asyncio.to_thread(_TRIM, 0)
        finally:
            self._trimming = False


class PeerListenerConfig(BoundedConfig):
    def __init__(self, app: Any, *, listener: PeerListener, **kwargs: Any) -> None:
        limits = listener.limits
        super().__init__(
            app,
            http=PeerGate,
            bounds=RequestBounds(limits.headers_timeout_s, limits.body_timeout_s),
            timeout_keep_alive=listener.keep_alive_s,
            **kwargs,
        )
        self.listener = listener


class PeerGate(asyncio.Protocol):
    """One accepted connection, from the accept until uvicorn's protocol has it.

    It is the plain transport's protocol until ``start_tls`` takes the transport over,
    then the TLS transport's until the hand-over, keeping what arrives in between (the
    request may follow the client's Finished at once)."""

    def __init__(
        self,
        config: PeerListenerConfig,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        self._config = config
        self._listener = config.listener
        self._server_state = server_state
        self._app_state = app_state
        self._loop = _loop or asyncio.get_running_loop()
        self.source = ""
        self.counted = False
        self._raw: asyncio.Transport | None = None
        self._tls_started = False
        self._unread: list[bytes] = []  # plain bytes read before start_tls took over
        self._early: list[bytes] = []  # decrypted bytes read before the hand-over
        self._http: PeerCertHttpProtocol | None = None
        self._lost = False
        self._lost_because: Exception | None = None
        self._task: asyncio.Task[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        raw = cast(asyncio.Transport, transport)
        self._raw = raw
        self.source = source_of(raw.get_extra_info("peername"))
        if not self._listener.admit(self):
            raw.abort()
            return
        # asyncio's loop starts reading after this call, so pausing here keeps the
        # ClientHello for start_tls; uvloop starts reading anyway (see data_received).
        raw.pause_reading()
        self._task = self._loop.create_task(self._handshake(raw))

    async def _handshake(self, raw: asyncio.Transport) -> None:
        listener = self._listener
        if self._lost or not self.counted:
            return
        self._tls_started = True
        if self._unread:
            # Queued before start_tls queues the TLS protocol's connection_made, and
            # start_tls pauses reading until after both: the bytes keep their order.
            self._loop.call_soon(_replay, raw, b"".join(self._unread))
            self._unread = []
        try:
            tls = await self._loop.start_tls(
                raw,
                self,
                listener.context,
                server_side=True,
                ssl_handshake_timeout=listener.limits.handshake_timeout_s,
            )
        except Exception as exc:  # every failure means the same: hang up
            self._lost_because = self._lost_because or exc
            tls = None
        # uvloop's start_tls may return a closed transport, having told this protocol
        # (connection_lost) why.
        if tls is None or tls.is_closing() or self._lost or not self.counted:
            if tls is not None:
                tls.abort()
            raw.abort()
            # Both loops abort a handshake that is too slow, and only that, this way.
            late = isinstance(self._lost_because, ConnectionAbortedError)
            listener.release(self, "timed_out" if late else "failed")
            return
        http = PeerCertHttpProtocol(
            config=self._config,
            server_state=self._server_state,
            app_state=self._app_state,
            _loop=self._loop,
        )
        http.on_connection_lost = lambda: listener.release(self)
        listener.established(self)
        self._http = http
        tls.set_protocol(http)
        http.connection_made(tls)
        if self._early:
            early, self._early = b"".join(self._early), []
            http.data_received(early)

    def close(self) -> None:
        """Hang up now (pushed out, or the listener is stopping)."""
        self._listener.release(self, "pushed_out")
        if self._raw is not None:
            self._raw.abort()

    # The loop may call these on this object as the plain transport's protocol (before
    # start_tls), as the TLS transport's (until the hand-over), and even after the
    # hand-over (callbacks the TLS protocol queued earlier).

    def data_received(self, data: bytes) -> None:
        if not self._tls_started:
            # uvloop: read before the handshake task ran; kept for the TLS protocol.
            self._unread.append(data)
            if self._raw is not None:
                self._raw.pause_reading()
        elif self._http is not None:
            self._http.data_received(data)
        else:
            self._early.append(data)

    def eof_received(self) -> None:
        if self._http is not None:
            self._http.eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._http is not None:
            self._http.connection_lost(exc)
            return
        self._lost = True
        self._lost_because = exc
        if not self._tls_started:  # else the handshake task, about to wake, releases it
            self._listener.release(self)


def _replay(raw: asyncio.Transport, data: bytes) -> None:
    """Give the transport's (TLS) protocol bytes read before it took the transport over."""
    protocol: Any = raw.get_protocol()
    if hasattr(protocol, "get_buffer"):  # a buffered protocol, as both loops' TLS ones are
        view = memoryview(data)
        while view:
            buffer = memoryview(protocol.get_buffer(len(view)))
            size = min(len(buffer), len(view))
            buffer[:size] = view[:size]
            protocol.buffer_updated(size)
            view = view[size:]
    else:
        protocol.data_received(data)
