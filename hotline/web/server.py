"""Running a node: the peer listener (mutual TLS), the local listener, the deliverer.

Both listeners bound what a client may hold (:mod:`.bounded_http`); the peer listener,
reachable by anyone, also caps connections before TLS (:mod:`.peer_listener`)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
import ssl
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass, field
from typing import Any

import uvicorn

from ..node.delivery.deliverer import Deliverer
from ..node.delivery.relay import RelayForwarder
from ..node.desk.desk import Desk
from ..node.desk.rules import watch
from ..node.home import NodeHome
from ..node.language.translator import NodeTranslator
from ..node.metrics import NodeMetrics
from ..node.paths.connections import listener_keepalive_s
from ..node.rules.metrics import RulesCollector
from ..node.service import Node
from ..storage.checkpoints import WalCheckpointer
from ..storage.database import upgrade
from ..transport.tls import client_context, server_context, trust_peer
from .bounded_http import BoundedConfig, RequestBounds
from .local_api import create_local_app
from .peer_api import create_peer_app
from .peer_listener import PeerListener, fit_to_descriptors, raise_descriptor_limit

log = logging.getLogger("hotline.server")

# Local requests are small (a message is at most 32,000 characters) and come from the
# node's own side: their headers and bodies get less time than a peer's.
LOCAL_BOUNDS = RequestBounds(headers_timeout_s=10.0, body_timeout_s=30.0)


class _Server(uvicorn.Server):
    """A uvicorn server that leaves signal handling to :class:`NodeServer`."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@dataclass
class NodeServer:
    home: NodeHome
    database_url: str | None = None
    peer_socket: socket.socket | None = None
    local_socket: socket.socket | None = None
    peer_port: int | None = None
    local_port: int | None = None
    node: Node = field(init=False)
    ready: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self.node = Node(self.home, database_url=self.database_url, background_checkpoints=True)
        upgrade(self.node.engine)  # a node upgraded in place starts on the newest schema
        self.metrics = NodeMetrics(lambda: float(self.node.outbox_depth()))
        self.checkpointer = (
            WalCheckpointer(self.node.engine, observe=self.metrics.checkpoint_seconds.observe)
            if self.node.engine.dialect.name == "sqlite"
            else None
        )
        self.metrics.registry.register(RulesCollector(self.node))
        config = self.node.config
        # Linked peers, the relays our links accepted, and the parties we relay for.
        pins = self.node.pinned_certificates()
        self.tls = server_context(self.home.cert_path, self.home.key_path, sorted(pins))
        self._trusted = set(pins)

        def make_client_context(der: bytes) -> ssl.SSLContext:
            return client_context(self.home.cert_path, self.home.key_path, der)

        self.deliverer = Deliverer(self.node, self.metrics, make_client_context)
        self.relay = RelayForwarder(self.node, self.metrics, make_client_context)
        self.translator = NodeTranslator(self.node, config.translation)
        peer_app = create_peer_app(
            self.node, self.metrics, on_gap=self.deliverer.request_pull, relay=self.relay
        )
        local_app = create_local_app(self.node, self.metrics)
        # The listener does TLS itself, on the very context we keep, so trust_peer()
        # on it reaches the running listener.
        limits = fit_to_descriptors(config.peer_limits, raise_descriptor_limit())
        self.peer_listener = PeerListener(
            self.tls,
            limits,
            self.metrics.registry,
            keep_alive_s=listener_keepalive_s(config.heartbeats),
        )
        peer_config = self.peer_listener.config(
            peer_app,
            host=config.peer_host,
            port=self.peer_port if self.peer_port is not None else config.peer_port,
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=2,
        )
        self.peer_server = _Server(peer_config)
        local_config = BoundedConfig(
            local_app,
            bounds=LOCAL_BOUNDS,
            host=config.local_host,
            port=self.local_port if self.local_port is not None else config.local_port,
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=2,
        )
        self.local_server = _Server(local_config)

    def trust_new_links(self) -> None:
        """Pin the certificates of links completed since start (e.g. by the CLI)."""
        for certificate in sorted(self.node.pinned_certificates() - self._trusted):
            trust_peer(self.tls, certificate)
            self._trusted.add(certificate)
            log.info("now accepting a new pinned certificate (link, relay or relayed party)")

    async def _housekeeping(self) -> None:
        """Every second: pin new certificates (links, relays); calls that rang out become
        missed; the watch sends due link tests, marks ours missed and the other side's
        lapsed, and takes due escalation steps; memory a flood left is handed back."""
        desk = Desk(self.node)
        while True:
            try:
                await self.peer_listener.return_memory()
                await asyncio.to_thread(self.trust_new_links)
                await asyncio.to_thread(desk.expire_calls)
                await asyncio.to_thread(watch, self.node)
            except Exception:  # a failed round is retried; the loop must outlive it
                log.exception("housekeeping round failed")
            await asyncio.sleep(1.0)

    def stop(self) -> None:
        self.peer_server.should_exit = True
        self.local_server.should_exit = True
        self.peer_listener.close_handshakes()
        self.deliverer.stop()
        self.relay.stop()
        self.translator.stop()

    async def serve(self, *, handle_signals: bool = True) -> None:
        loop = asyncio.get_running_loop()
        if handle_signals:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, self.stop)
        if self.checkpointer is not None:
            self.checkpointer.start()
        watcher = asyncio.create_task(self._housekeeping())
        deliverer = asyncio.create_task(self.deliverer.run())
        relay = asyncio.create_task(self.relay.run())
        translator = asyncio.create_task(
            self.translator.run() if self.node.config.translation.enabled else asyncio.sleep(0)
        )
        peer = asyncio.create_task(
            self.peer_server.serve(sockets=[self.peer_socket] if self.peer_socket else None)
        )
        local = asyncio.create_task(
            self.local_server.serve(sockets=[self.local_socket] if self.local_socket else None)
        )
        while not (self.peer_server.started and self.local_server.started):
            if peer.done() or local.done():
                break
            await asyncio.sleep(0.01)
        self.ready.set()
        try:
            await asyncio.gather(peer, local)
        finally:
            self.deliverer.stop()
            self.relay.stop()
            self.translator.stop()
            watcher.cancel()
            translator.cancel()
            await asyncio.gather(deliverer, relay, watcher, translator, return_exceptions=True)
            if self.checkpointer is not None:
                self.checkpointer.stop()
            self.node.close()


def run_event_loop(main: Coroutine[Any, Any, None]) -> None:
    """Run the node on uvloop where it is installed (not on Windows), else on
    asyncio's own loop. The node behaves the same on both; uvloop's loop and TLS
    spend less CPU a request, so it is preferred (bench/RESULTS.md)."""
    try:
        import uvloop
    except ImportError:
        asyncio.run(main)
        return
    uvloop.run(main)
