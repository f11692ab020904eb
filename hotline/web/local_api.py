"""The local API, for operators and scripts on the node's own side (bearer token).

Includes ``GET /api/v1/events``: a Server-Sent Events stream of everything that
happens on the node's links, resumable with ``Last-Event-ID``.

Every refusal is 401 (token), 413 (body too large), 422 (validation) or 400 (the
node's rules), with a JSON ``detail``; a 422 names each field and why, and never
echoes the input (which may not be encodable: ``NaN``, invalid UTF-8).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Sequence
from typing import Annotated, Any

from anyio import to_thread
from fastapi import Depends, FastAPI, Header, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.routing import Route

from ..errors import Reason, Refused
from ..node.delivery.group_commit import GroupCommit
from ..node.delivery.outgoing import Outgoing
from ..node.home import NodeError
from ..node.language.agreed_messages import agreed_views
from ..node.message_text import MAX_TEXT_CHARS
from ..node.metrics import NodeMetrics
from ..node.service import Node
from ..protocol.errors import ProtocolError
from ..protocol.kinds import Kind
from .console.app import create_console
from .language_api import language_router
from .local_guard import TOKEN_REQUIRED, LocalGuard
from .params import MAX_ID, bounded_int
from .rules_api import rules_router
from .security_headers import SecurityHeaders
from .statuses import status_of
from .translation_api import translation_router
from .views import link_view, message_view, message_views, path_view, status_view

KEEPALIVE_SECONDS = 15.0
STREAM_POLL_SECONDS = 0.5


class SendRequest(BaseModel):
    text: str = Field(min_length=1, max_length=MAX_TEXT_CHARS)
    lang: str = Field(default="en", pattern=r"^[a-z]{2,3}(-[A-Za-z]{2,4})?$")
    subject: str | None = Field(default=None, max_length=200)
    ref: str | None = Field(default=None, pattern=r"^[0-9A-HJKMNP-TV-Z]{26}$")
    # Routine by default. "emergency" is refused here (with the reason): emergency
    # activations go through POST /api/v1/links/{link}/emergency.
    channel: str = Field(default="routine", max_length=16)
    criterion: str | None = Field(default=None, max_length=64)


class AgreedSendRequest(BaseModel):
    """A message from an entry of the phrasebook in force on the link (sent as
    ``message.agreed``: entry id + version + parameters)."""

    model_config = ConfigDict(extra="forbid")
    entry: str = Field(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9-]*$")
    parameters: dict[str, Any] = Field(default_factory=dict)
    version: int | None = Field(default=None, ge=1, le=2**31)
    ref: str | None = Field(default=None, pattern=r"^[0-9A-HJKMNP-TV-Z]{26}$")
    by: str | None = Field(default=None, max_length=200)


def _agreed_outgoing(link: str, raw: bytes) -> Outgoing | None:
    """The agreed-text message ``raw`` asks for, or None if it does not name an entry."""
    if b'"entry"' not in raw:
        return None
    form = AgreedSendRequest.model_validate_json(raw)
    body: dict[str, Any] = {"entry": form.entry, "parameters": form.parameters}
    if form.version is not None:
        body["version"] = form.version
    if form.by:
        body["by"] = form.by
    return Outgoing(link, body, Kind.AGREED_TEXT, ref=form.ref)


class _LocalHandlers:
    """The local API's own endpoints and refusal handlers, over one node."""

    def __init__(self, node: Node, metrics: NodeMetrics) -> None:
        self.node = node
        self.metrics = metrics
        self.sends = GroupCommit(node)

    # The token (and the body's size) are checked before any route reads a body
    # (LocalGuard); this dependency declares the header in the schema and checks it
    # again.
    # Async on purpose: FastAPI runs a sync dependency in a worker thread, and that
    # hand-off cost more than the check (a hash, against the configuration the node
    # loaded at start) on every call.
    async def authorise(self, authorization: Annotated[str | None, Header()] = None) -> None:
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token or not self.node.config.token_matches(token):
            raise HTTPException(401, TOKEN_REQUIRED, {"WWW-Authenticate": "Bearer"})

    # Sending is the hot path (every message of a flood is one request), so it is a
    # plain Starlette route, first in the table: FastAPI's dependency solving and
    # response encoding cost about three times the rest of the request. Same
    # authorisation (LocalGuard's, once), same validation (SendRequest; a 422 in
    # FastAPI's shape), same exception handlers; it is left out of the OpenAPI schema.
    async def send(self, request: Request) -> JSONResponse:
        raw = await request.body()
        try:
            form = SendRequest.model_validate_json(raw)
        except ValidationError as free_text:
            # No text: a message from the phrasebook, if the body names an entry.
            refused = free_text
            try:
                agreed = _agreed_outgoing(request.path_params["link"], raw)
            except ValidationError as agreed_text:
                refused, agreed = agreed_text, None
            if agreed is not None:
                return JSONResponse(message_view(await self.sends.send(agreed)), status_code=201)
            errors = refused.errors(include_url=False, include_context=False)
            raise RequestValidationError(
                [{**e, "loc": ("body", *e["loc"])} for e in errors]
            ) from None
        body: dict[str, Any] = {"text": form.text, "lang": form.lang}
        if form.subject:
            body["subject"] = form.subject
        if form.channel != "routine":
            body["channel"] = form.channel
            if form.criterion:
                body["criterion"] = form.criterion
        link = request.path_params["link"]
        message = await self.sends.send(Outgoing(link, body, ref=form.ref))
        return JSONResponse(message_view(message), status_code=201)

    # One table from reason to status (hotline.web.statuses), for the node's refusals
    # and the protocol's alike.
    async def refused(self, request: Request, exc: Refused) -> JSONResponse:
        return JSONResponse(
            {"detail": exc.detail, "code": exc.reason.value}, status_code=status_of(exc.reason)
        )

    async def gone(self, request: Request, exc: ClientDisconnect) -> Response:
        # The client hung up, or its body's deadline did: nobody is left to answer.
        return Response(status_code=400)

    async def node_error(self, request: Request, exc: NodeError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=400)

    async def protocol_error(self, request: Request, exc: ProtocolError) -> JSONResponse:
        reason = Reason(exc.code.value)
        return JSONResponse(
            {"detail": exc.detail, "code": reason.value}, status_code=status_of(reason)
        )

    async def healthz(self) -> dict[str, str]:
        return {"status": "ok", "party": self.node.party}

    async def prometheus(self) -> Response:
        return Response(generate_latest(self.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    async def links(self) -> list[dict[str, Any]]:
        return [link_view(link) for link in await to_thread.run_sync(self.node.links)]

    async def paths(self, link: str) -> list[dict[str, Any]]:
        return [path_view(p) for p in await to_thread.run_sync(self.node.link_paths, link)]

    async def status(self) -> dict[str, Any]:
        rows = await to_thread.run_sync(self.node.status)
        return {"party": self.node.party, "links": [status_view(s) for s in rows]}

    async def messages(
        self, link: str, limit: Annotated[int, Query(ge=1, le=1000)] = 50
    ) -> list[dict[str, Any]]:
        node = self.node

        def read() -> list[dict[str, Any]]:
            rows = node.messages(link, limit=limit)
            return message_views(rows, agreed_views(node, rows))

        return await to_thread.run_sync(read)

    async def message(self, message_id: str) -> dict[str, Any]:
        row = await to_thread.run_sync(self.node.message, message_id)
        if row is None:
            raise HTTPException(404, f"no message {message_id}")
        agreed = await to_thread.run_sync(agreed_views, self.node, [row])
        (view,) = message_views([row], agreed)
        return view

    async def export(self, link: str) -> PlainTextResponse:
        bundle = await to_thread.run_sync(self.node.export, link)
        return PlainTextResponse(bundle.to_json(), media_type="application/json")

    async def events(
        self,
        request: Request,
        after: Annotated[int | None, Query(ge=0, le=MAX_ID)] = None,
        last_event_id: Annotated[str | None, Header()] = None,
    ) -> StreamingResponse:
        start = after
        if start is None and last_event_id is not None:
            start = bounded_int(last_event_id)
        if start is None:
            start = await to_thread.run_sync(_last_id, self.node)
        return StreamingResponse(
            _stream(self.node, request, start),
            media_type="text/event-stream",
            headers={"cache-control": "no-store", "x-accel-buffering": "no"},
        )


def create_local_app(node: Node, metrics: NodeMetrics) -> FastAPI:
    # No OpenTelemetry: the node's metrics are Prometheus (/metrics), and FastAPI's
    # per-request check for a configured provider cost more than routing. No /docs
    # or /redoc: their pages load scripts from a CDN, and the node works offline
    # (the schema stays at /openapi.json).
    app = FastAPI(
        title=f"Hotline local API ({node.party})",
        version="1",
        telemetry={"tracing": False, "metrics": False, "logs": False},
        docs_url=None,
        redoc_url=None,
    )
    api = _LocalHandlers(node, metrics)
    auth = [Depends(api.authorise)]
    # The hot send route: a plain Starlette route, first in the table.
    app.router.routes.insert(0, Route("/api/v1/links/{link}/messages", api.send, methods=["POST"]))
    app.add_middleware(LocalGuard, token_matches=node.config.token_matches)
    app.exception_handler(Refused)(api.refused)
    app.exception_handler(ClientDisconnect)(api.gone)
    app.exception_handler(NodeError)(api.node_error)
    app.exception_handler(ProtocolError)(api.protocol_error)
    app.add_api_route("/healthz", api.healthz, methods=["GET"])
    app.add_api_route("/metrics", api.prometheus, methods=["GET"])
    app.add_api_route("/api/v1/links", api.links, methods=["GET"], dependencies=auth)
    app.add_api_route("/api/v1/links/{link}/paths", api.paths, methods=["GET"], dependencies=auth)
    app.add_api_route("/api/v1/status", api.status, methods=["GET"], dependencies=auth)
    app.add_api_route(
        "/api/v1/links/{link}/messages", api.messages, methods=["GET"], dependencies=auth
    )
    app.add_api_route(
        "/api/v1/messages/{message_id}", api.message, methods=["GET"], dependencies=auth
    )
    app.add_api_route("/api/v1/links/{link}/export", api.export, methods=["GET"], dependencies=auth)
    app.include_router(rules_router(node, auth))
    app.include_router(translation_router(node, auth))
    app.include_router(language_router(node, auth))
    app.add_api_route("/api/v1/events", api.events, methods=["GET"], dependencies=auth)
    create_console(app, node)
    _answer_without_input(app)
    app.add_middleware(SecurityHeaders)
    return app


def _answer_without_input(app: FastAPI) -> None:
    """Wrap the console's own handlers (so call this after ``create_console``): people get
    the console's page, scripts FastAPI's JSON, both without the input."""
    shown_invalid = app.exception_handlers[RequestValidationError]
    shown_refusal = app.exception_handlers[StarletteHTTPException]

    async def invalid(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        answer = shown_invalid(request, RequestValidationError(_without_input(exc.errors())))
        return await answer if isinstance(answer, Awaitable) else answer

    async def refusal(request: Request, exc: Exception) -> Response:
        # FastAPI answers a JSON body that is not UTF-8 with a bare 400; it is as
        # invalid as JSON that does not parse (422, json_invalid).
        if isinstance(exc, StarletteHTTPException) and isinstance(
            exc.__cause__, UnicodeDecodeError
        ):
            error = {"type": "json_invalid", "loc": ("body",), "msg": "JSON must be UTF-8"}
            return await invalid(request, RequestValidationError([error]))
        answer = shown_refusal(request, exc)
        return await answer if isinstance(answer, Awaitable) else answer

    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(StarletteHTTPException, refusal)


def _without_input(errors: Sequence[Any]) -> list[dict[str, Any]]:
    """Each validation error as where, what and why: never the input, which may not be
    encodable as JSON (NaN, invalid UTF-8) and may be large."""
    return [
        {
            "type": str(error.get("type", "")),
            "loc": [part if isinstance(part, int) else str(part) for part in error["loc"]],
            "msg": str(error.get("msg", "")).encode("utf-8", "replace").decode(),
        }
        for error in errors
    ]


def _last_id(node: Node) -> int:
    from ..node.events import last_event_id

    with node.reading() as session:
        return last_event_id(session)


async def _stream(node: Node, request: Request, after: int) -> AsyncIterator[str]:
    yield f"retry: 1000\n: connected, after {after}\n\n"
    feed = node.event_feed(after)
    while not await request.is_disconnected():
        rows = await feed.next(STREAM_POLL_SECONDS)
        for row in rows:
            data = {
                "event_id": row.id,
                "type": row.type,
                "link_id": row.link_id,
                "at_ms": row.created_ms,
            }
            data.update(row.data)
            payload = json.dumps(data, ensure_ascii=False)
            yield f"id: {row.id}\nevent: {row.type}\ndata: {payload}\n\n"
        if not rows and feed.quiet_for(KEEPALIVE_SECONDS):
            yield ": keep-alive\n\n"
