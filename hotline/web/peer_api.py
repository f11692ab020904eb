"""The peer API: the only thing other nodes can reach, over mutual TLS.

Every request must come with the client certificate pinned for the link it
names; the TLS layer already refuses any certificate not pinned for some link.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from anyio import to_thread
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..clock import now_ms
from ..node.delivery.ingest import IngestResult
from ..node.delivery.relay import RelayForwarder
from ..node.delivery.wire import (
    CONTENT_TYPE,
    MAX_BATCH,
    MAX_BODY_BYTES,
    decode_push,
    decode_relay_push,
    encode_entries,
    encode_error,
    encode_relayed_reply,
    encode_reply,
)
from ..node.metrics import NodeMetrics
from ..node.paths.store import RELAY
from ..node.record_store import LinkNotFound
from ..node.service import Node
from ..protocol.encoding import encode
from ..protocol.errors import Code, ProtocolError
from ..protocol.heartbeat import (
    MAX_MESSAGE_BYTES,
    make_echo,
    read_heartbeat,
    sign_progress,
    verify_progress,
)
from .params import MAX_ID, bounded_int

log = logging.getLogger("hotline.peer")


def _error(status: int, code: str, detail: str) -> Response:
    log.warning("peer request refused: %s %s", code, detail)
    return Response(encode_error(code, detail), status_code=status, media_type=CONTENT_TYPE)


class _TooLarge(Exception):
    pass


class _PeerLink(Protocol):
    """The fields of a link the peer API takes its checks from."""

    @property
    def id(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def peer_party(self) -> str: ...
    @property
    def peer_signing_key(self) -> bytes: ...
    @property
    def peer_tls_certificate(self) -> bytes: ...


@dataclass(frozen=True)
class _LinkPeer:
    """What the peer API checks requests against: fixed when the link is set up, so
    looked up once per process, not on every push and heartbeat."""

    id: str
    name: str
    party: str
    signing_key: bytes
    tls_certificate: bytes

    @classmethod
    def of(cls, link: _PeerLink) -> _LinkPeer:
        return cls(
            link.id, link.name, link.peer_party, link.peer_signing_key, link.peer_tls_certificate
        )


async def _read_body(request: Request, limit: int) -> bytes:
    """The body, refused unread if its declared length is over ``limit``.

    Raises ClientDisconnect when the peer goes, or the body's deadline hangs up on it
    (:mod:`.bounded_http`)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _TooLarge
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise _TooLarge
    return bytes(body)


def _client_cert(request: Request) -> bytes | None:
    tls = (request.scope.get("extensions") or {}).get("tls") or {}
    cert = tls.get("client_cert")
    return cert if isinstance(cert, bytes) else None


class _PeerHandlers:
    """The peer API's endpoints over one node. Each checks the client certificate
    against the one pinned for the link it names before reading the body."""

    def __init__(
        self,
        node: Node,
        metrics: NodeMetrics,
        on_gap: Callable[[str], None] | None,
        relay: RelayForwarder | None,
    ) -> None:
        self.node = node
        self.metrics = metrics
        self.on_gap = on_gap
        self.relay = relay
        self.known: dict[str, _LinkPeer] = {}

    async def authorised_link(self, request: Request) -> _LinkPeer | Response:
        link_id = request.path_params["link_id"]
        link = self.known.get(link_id)
        if link is None:
            try:
                row = await to_thread.run_sync(self.node.find_link, link_id)
            except Exception:
                return _error(404, Code.WRONG_LINK.value, f"no link {link_id} here")
            link = self.known[row.id] = _LinkPeer.of(row)
        if _client_cert(request) != link.tls_certificate:
            return _error(
                403, Code.UNKNOWN_SENDER.value, "certificate is not the one pinned for this link"
            )
        return link

    def count_received(self, link_id: str, link_name: str, result: IngestResult) -> None:
        """Count each outcome of a received batch, and report a gap in it."""
        for outcome in result.outcomes:
            self.metrics.received.labels(link_name, outcome.status).inc()
            if outcome.code:
                self.metrics.refused.labels(outcome.code).inc()
        if result.missing and self.on_gap is not None:
            self.on_gap(link_id)

    async def push(self, request: Request) -> Response:
        link = await self.authorised_link(request)
        if isinstance(link, Response):
            return link
        try:
            message = decode_push(await _read_body(request, MAX_BODY_BYTES))
            result = await to_thread.run_sync(
                self.node.receive, link.id, message.envelopes, message.have
            )
        except _TooLarge:
            return _error(413, Code.TOO_LARGE.value, "request body is too large")
        except ProtocolError as exc:
            self.metrics.refused.labels(exc.code.value).inc()
            return _error(400, exc.code.value, exc.detail)
        except LinkNotFound:
            return _error(404, Code.WRONG_LINK.value, f"no link {link.id} here")
        self.count_received(link.id, link.name, result)
        return Response(encode_reply(result), media_type=CONTENT_TYPE)

    async def entries(self, request: Request) -> Response:
        link = await self.authorised_link(request)
        if isinstance(link, Response):
            return link
        after = bounded_int(request.query_params.get("after", "0"))
        limit = bounded_int(request.query_params.get("limit", str(MAX_BATCH)), low=1)
        if after is None or limit is None:
            return _error(
                400,
                Code.MALFORMED.value,
                f"after must be an integer from 0 to {MAX_ID} and limit one from 1",
            )
        limit = min(limit, MAX_BATCH)
        rows = await to_thread.run_sync(self.node.own_entries_after, link.id, after, limit)
        return Response(encode_entries(rows), media_type=CONTENT_TYPE)

    async def heartbeat(self, request: Request) -> Response:
        """Answer a signed heartbeat with a signed echo. Nothing is written."""
        link = await self.authorised_link(request)
        if isinstance(link, Response):
            return link
        try:
            body = await _read_body(request, MAX_MESSAGE_BYTES)
            beat = read_heartbeat(
                body,
                sender_key=link.signing_key,
                sender=link.party,
                me=self.node.party,
                link=link.id,
                now_ms=now_ms(),
            )
        except _TooLarge:
            return _error(413, Code.TOO_LARGE.value, "heartbeat is too large")
        except ProtocolError as exc:
            self.metrics.refused.labels(exc.code.value).inc()
            return _error(400, exc.code.value, exc.detail)
        echo = make_echo(self.node.identity, beat, time_ms=now_ms())
        return Response(echo, media_type=CONTENT_TYPE)

    async def relay_in(self, request: Request) -> Response:
        """On a relay: take a party's sealed batch, store it, forward it."""
        link_id = request.path_params["link_id"]
        routes = await to_thread.run_sync(self.node.relay_routes, link_id)
        if self.relay is None or not routes:
            return _error(404, Code.WRONG_LINK.value, f"this node relays no link {link_id}")
        cert = _client_cert(request)
        sender = next((r for r in routes if r.certificate == cert), None)
        if sender is None:
            return _error(
                403, Code.UNKNOWN_SENDER.value, "certificate is not a party of this relayed link"
            )
        try:
            body = await _read_body(request, MAX_BODY_BYTES)
            push = decode_relay_push(body)
        except _TooLarge:
            return _error(413, Code.TOO_LARGE.value, "request body is too large")
        except ProtocolError as exc:
            return _error(400, exc.code.value, exc.detail)
        target = next((r for r in routes if r.party == push.to != sender.party), None)
        if target is None:
            return _error(
                400, Code.WRONG_RECIPIENT.value, f"{push.to!r} is not the other party of this link"
            )
        batch_id = await to_thread.run_sync(
            self.node.relay_store, link_id, sender.party, target.party, body, len(push.envelopes)
        )
        answer = await self.relay.forward(batch_id, target, body)
        if answer is None:
            return Response(encode({"stored": batch_id}), status_code=202, media_type=CONTENT_TYPE)
        status, content = answer  # the receiver's own answer, passed on unchanged
        return Response(content, status_code=status, media_type=CONTENT_TYPE)

    async def relayed(self, request: Request) -> Response:
        """A batch from our peer that came through a relay this link accepted."""
        link_id = request.path_params["link_id"]
        try:
            link = await to_thread.run_sync(self.node.find_link, link_id)
            paths = await to_thread.run_sync(self.node.link_paths, link_id)
        except Exception:
            return _error(404, Code.WRONG_LINK.value, f"no link {link_id} here")
        cert = _client_cert(request)
        if cert is None or all(p.kind != RELAY or p.certificate != cert for p in paths):
            return _error(
                403, Code.UNKNOWN_SENDER.value, "certificate is not a relay accepted for this link"
            )
        try:
            body = await _read_body(request, MAX_BODY_BYTES)
            push = decode_relay_push(body)
            if push.to != self.node.party:
                raise ProtocolError(Code.WRONG_RECIPIENT, "batch is addressed to another party")
            verify_progress(
                push.have_sig,
                signer_key=link.peer_signing_key,
                link=link.id,
                signer=link.peer_party,
                to=self.node.party,
                have=push.have,
            )
            result = await to_thread.run_sync(self.node.receive, link.id, push.envelopes, push.have)
        except _TooLarge:
            return _error(413, Code.TOO_LARGE.value, "request body is too large")
        except ProtocolError as exc:
            self.metrics.refused.labels(exc.code.value).inc()
            return _error(400, exc.code.value, exc.detail)
        self.count_received(link.id, link.name, result)
        signature = sign_progress(
            self.node.identity, link=link.id, to=link.peer_party, have=result.have
        )
        return Response(encode_relayed_reply(result, signature), media_type=CONTENT_TYPE)

    async def healthz(self, request: Request) -> Response:
        return JSONResponse({"status": "ok", "party": self.node.party})

    async def gone(self, request: Request, exc: Exception) -> Response:
        # The peer hung up, or its body's deadline did: nobody is left to answer.
        log.info("peer request abandoned before its body was complete")
        return Response(status_code=400)


def create_peer_app(
    node: Node,
    metrics: NodeMetrics,
    on_gap: Callable[[str], None] | None = None,
    relay: RelayForwarder | None = None,
) -> Starlette:
    peer = _PeerHandlers(node, metrics, on_gap, relay)
    return Starlette(
        exception_handlers={ClientDisconnect: peer.gone},
        routes=[
            Route("/peer/v1/links/{link_id}/push", peer.push, methods=["POST"]),
            Route("/peer/v1/links/{link_id}/entries", peer.entries, methods=["GET"]),
            Route("/peer/v1/links/{link_id}/heartbeat", peer.heartbeat, methods=["POST"]),
            Route("/peer/v1/links/{link_id}/relayed", peer.relayed, methods=["POST"]),
            Route("/peer/v1/relay/{link_id}", peer.relay_in, methods=["POST"]),
            Route("/healthz", peer.healthz, methods=["GET"]),
        ],
    )
