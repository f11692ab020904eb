"""uvicorn's httptools protocol with the bounds it lacks, for both listeners.

uvicorn times out only a kept-alive connection between requests: once a request's
first byte arrives nothing limits how long its headers or its body take, and the
parser keeps headers of any size. Here a request's headers must be complete within
``headers_timeout_s`` of its first byte and at most ``max_header_bytes`` long, and
its body must be complete within ``body_timeout_s`` of its headers. A connection that
never sends a first request is closed after the keep-alive time, as an idle one is
between requests. Deadlines cover receiving a request, never the application's work
on it or the response (a Server-Sent Events stream lasts as long as it likes).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

log = logging.getLogger("hotline.http")

MAX_HEADER_BYTES = 64 * 1024


@dataclass(frozen=True)
class RequestBounds:
    headers_timeout_s: float = 10.0
    body_timeout_s: float = 60.0
    max_header_bytes: int = MAX_HEADER_BYTES


class BoundedConfig(uvicorn.Config):
    """A uvicorn configuration that serves with :class:`BoundedHttpProtocol`."""

    def __init__(self, app: Any, *, bounds: RequestBounds, **kwargs: Any) -> None:
        kwargs.setdefault("http", BoundedHttpProtocol)
        # No endpoint of the node is a WebSocket (the console's live view is an event
        # stream): an upgrade request is answered as plain HTTP, and uvicorn does not
        # import a WebSocket implementation (some 30 ms of a node's start-up CPU).
        kwargs.setdefault("ws", "none")
        super().__init__(app, **kwargs)
        self.bounds = bounds


def _response(status: int, phrase: str, text: str) -> bytes:
    body = text.encode()
    return (
        f"HTTP/1.1 {status} {phrase}\r\n"
        "content-type: text/plain; charset=utf-8\r\n"
        f"content-length: {len(body)}\r\n"
        "connection: close\r\n\r\n"
    ).encode() + body


class BoundedHttpProtocol(HttpToolsProtocol):
    def __init__(
        self,
        config: uvicorn.Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.bounds = config.bounds if isinstance(config, BoundedConfig) else RequestBounds()
        # Called once when the connection is gone (the peer listener counts connections).
        self.on_connection_lost: Callable[[], None] | None = None
        self._deadline: asyncio.TimerHandle | None = None
        self._in_head = False  # between a request's first byte and the end of its headers
        self._head_bytes = 0
        self._refused = False  # answered here; the rest of the connection is ignored

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        # A connection that never sends a request is as idle as a kept-alive one.
        self.timeout_keep_alive_task = self.loop.call_later(
            self.timeout_keep_alive, self.timeout_keep_alive_handler
        )

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_deadline()
        super().connection_lost(exc)
        self._unset_keepalive_if_required()  # uvicorn leaves it armed when exc is set
        if self.on_connection_lost is not None:
            on_lost, self.on_connection_lost = self.on_connection_lost, None
            on_lost()

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        super().data_received(data)
        if self._in_head:
            # Counted per read while the head is incomplete, so what the parser keeps
            # is at most one read over the cap; a complete head is measured below.
            self._head_bytes += len(data)
            if self._head_bytes > self.bounds.max_header_bytes:
                self._too_large()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head = True
        self._head_bytes = 0
        self._arm(self.bounds.headers_timeout_s, self._headers_late)

    def on_headers_complete(self) -> None:
        self._in_head = False
        head = len(self.url) + sum(len(name) + len(value) + 4 for name, value in self.headers)
        if head > self.bounds.max_header_bytes:
            self._too_large()
            return
        self._arm(self.bounds.body_timeout_s, self._body_late)
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        if not self._refused:
            super().on_body(body)

    def on_message_complete(self) -> None:
        self._cancel_deadline()
        if not self._refused:
            super().on_message_complete()

    def _arm(self, seconds: float, late: Callable[[], None]) -> None:
        self._cancel_deadline()
        self._deadline = self.loop.call_later(seconds, late)

    def _cancel_deadline(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _headers_late(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        log.warning("request headers incomplete after %s s", self.bounds.headers_timeout_s)
        self._refuse(408, "Request Timeout", "request headers took too long")

    def _body_late(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        # The application is already reading the body: it sees the client gone.
        log.warning("request body incomplete after %s s", self.bounds.body_timeout_s)
        self.transport.close()

    def _too_large(self) -> None:
        if not self._refused:
            log.warning("request headers over %d bytes", self.bounds.max_header_bytes)
            self._refuse(431, "Request Header Fields Too Large", "request headers too large")

    def _refuse(self, status: int, phrase: str, text: str) -> None:
        """Answer a request that never reached the application, and hang up."""
        self._refused = True
        self._in_head = False
        self._cancel_deadline()
        if self.cycle is None or self.cycle.response_complete:
            self.transport.write(_response(status, phrase, text))
        self.transport.close()
