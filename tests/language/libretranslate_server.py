"""A small server speaking LibreTranslate's API, on 127.0.0.1 in a thread, for provider tests.

It is a real Starlette app under a real uvicorn server: the provider talks HTTP to it as it
would to LibreTranslate. Its "translation" marks the text with the target code
(``"[zh-Hans] text"``), so a test can see which codes the provider sent and that the text (and
any placeholder in it) came back. ``mode`` makes it misbehave in one chosen way.
"""

from __future__ import annotations

import asyncio
import re
import socket
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

Mode = Literal[
    "echo",
    "error",
    "garbage",
    "wrong-shape",
    "rate-limited",
    "hang",
    "trickle",
    "drop-placeholders",
]
CURRENT_LANGUAGES = [
    {"code": "en", "name": "English", "targets": ["en", "zh-Hans", "zh-Hant", "fr"]},
    {"code": "zh-Hans", "name": "Chinese", "targets": ["en", "zh-Hans", "zh-Hant"]},
    {"code": "zh-Hant", "name": "Chinese (traditional)", "targets": ["en", "zh-Hans"]},
    {"code": "fr", "name": "French", "targets": ["en"]},
]
# Servers before the Chinese codes changed: "zh" for simplified, "zt" for traditional.
OLDER_LANGUAGES = [
    {"code": "en", "name": "English", "targets": ["en", "zh", "zt"]},
    {"code": "zh", "name": "Chinese", "targets": ["en", "zh"]},
    {"code": "zt", "name": "Chinese (traditional)", "targets": ["en"]},
]


@dataclass
class LibreTranslateServer:
    languages: list[dict[str, Any]] = field(default_factory=lambda: list(CURRENT_LANGUAGES))
    mode: Mode = "echo"
    api_key: str | None = None
    url: str = ""
    requests: list[dict[str, Any]] = field(default_factory=list)
    closing: bool = False

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/languages", self._languages, methods=["GET"]),
                Route("/translate", self._translate, methods=["POST"]),
            ]
        )

    async def _languages(self, request: Request) -> Response:
        return JSONResponse(self.languages)

    async def _translate(self, request: Request) -> Response:
        body = await request.json()
        self.requests.append(body)
        if self.api_key is not None and body.get("api_key") != self.api_key:
            return JSONResponse({"error": "Invalid API key"}, status_code=403)
        if self.mode == "error":
            return JSONResponse({"error": "Internal error: model crashed"}, status_code=500)
        if self.mode == "garbage":
            return PlainTextResponse("<html>not json", status_code=200)
        if self.mode == "rate-limited":
            return JSONResponse({"error": "Too many request limits violations"}, 429)
        if self.mode == "hang":
            while not self.closing:
                await asyncio.sleep(0.05)
            return JSONResponse({"error": "shutting down"}, status_code=503)
        if self.mode == "trickle":
            return StreamingResponse(self._trickle(), media_type="application/json")
        texts = body["q"] if isinstance(body["q"], list) else [body["q"]]
        if self.mode == "wrong-shape":
            return JSONResponse({"translatedText": texts[:-1]})
        out = [f"[{body['target']}] {text}" for text in texts]
        if self.mode == "drop-placeholders":
            out = [re.sub(r"[A-Z]{3}\d+", "", text) for text in out]
        translated: str | list[str] = out if isinstance(body["q"], list) else out[0]
        return JSONResponse({"translatedText": translated})

    async def _trickle(self) -> AsyncIterator[bytes]:
        # A byte now and then, each soon enough for a per-read timeout, never a whole answer.
        while not self.closing:
            yield b" "
            await asyncio.sleep(0.05)


@contextmanager
def running(server: LibreTranslateServer | None = None) -> Iterator[LibreTranslateServer]:
    """Serve ``server`` (a default echo server if None) on a free port until the block ends."""
    server = server or LibreTranslateServer()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(server.app(), log_level="warning", lifespan="off")
    config.timeout_graceful_shutdown = 2
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        for _ in range(1000):
            if uv.started or not thread.is_alive():
                break
            threading.Event().wait(0.01)
        assert uv.started, "the LibreTranslate stand-in did not start"
        server.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        yield server
    finally:
        server.closing = True
        uv.should_exit = True
        thread.join(timeout=10)
        sock.close()


@contextmanager
def silent_listener() -> Iterator[str]:
    """A port that accepts connections and never answers: a server that hangs."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


def refused_url() -> str:
    """An address where nothing listens: connections are refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"
