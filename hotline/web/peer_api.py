"""The peer API: the only thing other nodes can reach, over mutual TLS.

Every request must come with the client certificate pinned for the link it
names; the TLS layer already refuses any certificate not pinned for some link.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from anyio import to_thread
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..node.metrics import NodeMetrics
from ..node.record_store import LinkNotFound
from ..node.service import Node
from ..node.wire import (
    CONTENT_TYPE,
    MAX_BATCH,
    MAX_BODY_BYTES,
    decode_push,
    encode_entries,
    encode_error,
    encode_reply,
)
from ..protocol.errors import Code, ProtocolError
from ..storage.models import Link

log = logging.getLogger("hotline.peer")


def _error(status: int, code: str, detail: str) -> Response:
    log.warning("peer request refused: %s %s", code, detail)
    return Response(encode_error(code, detail), status_code=status, media_type=CONTENT_TYPE)


def create_peer_app(
    node: Node, metrics: NodeMetrics, on_gap: Callable[[str], None] | None = None
) -> Starlette:
    async def authorised_link(request: Request) -> Link | Response:
        link_id = request.path_params["link_id"]
        try:
            link = await to_thread.run_sync(node.find_link, link_id)
        except Exception:
            return _error(404, Code.WRONG_LINK.value, f"no link {link_id} here")
        tls = (request.scope.get("extensions") or {}).get("tls") or {}
        if tls.get("client_cert") != link.peer_tls_certificate:
            return _error(
                403, Code.UNKNOWN_SENDER.value, "certificate is not the one pinned for this link"
            )
        return link

    async def push(request: Request) -> Response:
        link = await authorised_link(request)
        if isinstance(link, Response):
            return link
        declared = request.headers.get("content-length")
        if declared is not None and int(declared) > MAX_BODY_BYTES:
            return _error(413, Code.TOO_LARGE.value, "request body is too large")
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY_BYTES:
                return _error(413, Code.TOO_LARGE.value, "request body is too large")
        try:
            message = decode_push(bytes(body))
            result = await to_thread.run_sync(
                node.receive, link.id, message.envelopes, message.have
            )
        except ProtocolError as exc:
            metrics.refused.labels(exc.code.value).inc()
            return _error(400, exc.code.value, exc.detail)
        except LinkNotFound:
            return _error(404, Code.WRONG_LINK.value, f"no link {link.id} here")
        for outcome in result.outcomes:
            metrics.received.labels(link.name, outcome.status).inc()
            if outcome.code:
                metrics.refused.labels(outcome.code).inc()
        if result.missing and on_gap is not None:
            on_gap(link.id)
        return Response(encode_reply(result), media_type=CONTENT_TYPE)

    async def entries(request: Request) -> Response:
        link = await authorised_link(request)
        if isinstance(link, Response):
            return link
        try:
            after = int(request.query_params.get("after", "0"))
            limit = min(int(request.query_params.get("limit", str(MAX_BATCH))), MAX_BATCH)
        except ValueError:
            return _error(400, Code.MALFORMED.value, "after and limit must be integers")
        if after < 0 or limit < 1:
            return _error(400, Code.MALFORMED.value, "after must be >= 0 and limit >= 1")
        rows = await to_thread.run_sync(node.own_entries_after, link.id, after, limit)
        return Response(encode_entries(rows), media_type=CONTENT_TYPE)

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok", "party": node.party})

    return Starlette(
        routes=[
            Route("/peer/v1/links/{link_id}/push", push, methods=["POST"]),
            Route("/peer/v1/links/{link_id}/entries", entries, methods=["GET"]),
            Route("/healthz", healthz, methods=["GET"]),
        ]
    )
