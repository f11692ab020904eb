"""The local listener's first checks, before any route reads a request's body.

FastAPI reads and parses a body before it runs a route's dependencies, so a route's
token check comes after the whole body is in memory (and a body that is not JSON is
answered 422, not 401). :class:`LocalGuard` runs first, on the headers alone: an
``/api/`` request without the bearer token is answered 401, then a body declared
over :data:`MAX_BODY_BYTES` 413, both unread. A chunked body (no declared length)
is read up to the cap before the route sees it. (FastAPI's own ``max_body_size``
answers before the token check, and in plain text.)

A refusal carries no ``connection: close``: the server reads the rest of a refused
body and drops it (the request's body deadline bounds how long), so a client that
sends its whole body before reading the answer still sees it.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# A message is at most 32,000 characters (up to 4 bytes each in UTF-8, 12 when
# JSON-escaped); policy and escalation documents and console forms are far smaller.
MAX_BODY_BYTES = 1024 * 1024
TOKEN_REQUIRED = "a valid bearer token is required"
TOO_LARGE = f"the request body is over {MAX_BODY_BYTES} bytes"


async def refuse(send: Send, status: int, detail: str, *headers: tuple[bytes, bytes]) -> None:
    body = json.dumps({"detail": detail}).encode()
    start: Message = {
        "type": "http.response.start",
        "status": status,
        "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            *headers,
        ],
    }
    await send(start)
    await send({"type": "http.response.body", "body": body})


def bearer_token(authorization: bytes | None) -> str | None:
    """The token of an ``Authorization: Bearer`` header, if there is one."""
    if authorization is None:
        return None
    scheme, _, token = authorization.decode("latin-1").partition(" ")
    return token if scheme.lower() == "bearer" and token else None


class LocalGuard:
    def __init__(
        self,
        app: ASGIApp,
        token_matches: Callable[[str], bool],
        max_body_bytes: int = MAX_BODY_BYTES,
    ) -> None:
        self.app = app
        self.token_matches = token_matches
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        authorization = length = None
        chunked = False
        for name, value in scope["headers"]:
            if name == b"authorization":
                authorization = value
            elif name == b"content-length":
                length = value
            elif name == b"transfer-encoding":
                chunked = True
        if scope["path"].startswith("/api/"):
            token = bearer_token(authorization)
            if token is None or not self.token_matches(token):
                await refuse(send, 401, TOKEN_REQUIRED, (b"www-authenticate", b"Bearer"))
                return
        if length is not None:
            # The server holds a body to its declared length, and refuses a malformed
            # one before it gets here.
            if not length.isdigit() or int(length) > self.max_body_bytes:
                await refuse(send, 413, TOO_LARGE)
                return
        elif chunked:
            await self._whole_body(scope, receive, send)
            return
        await self.app(scope, receive, send)

    async def _whole_body(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Read a chunked body up to the cap, then hand it to the app in one piece."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                await refuse(send, 413, TOO_LARGE)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        whole: list[Message] = [{"type": "http.request", "body": b"".join(chunks)}]

        async def replay() -> Message:
            return whole.pop() if whole else await receive()

        await self.app(scope, replay, send)
