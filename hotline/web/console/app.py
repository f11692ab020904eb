"""The duty officer's console: server-rendered pages (Jinja2), in the operator's
language, kept live by a Server-Sent Events stream and small HTML fragments.

Mounted on the node's local listener beside the local API. Every endpoint checks
the session and the permission it needs on the server; every action is audited.
The routes live in :mod:`.routes`, one module per area; what they share is the
:class:`~.context.Console` built here.
"""

from __future__ import annotations

from importlib.resources import files

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from ...node.service import Node
from .context import Console
from .errors import add_exception_handlers
from .routes import ROUTERS


def create_console(app: FastAPI, node: Node) -> None:
    """Add the console's routes to the local app."""
    app.state.console = Console.build(node)
    static = files("hotline.web").joinpath("static")
    app.mount("/static", StaticFiles(directory=str(static)), name="static")
    add_exception_handlers(app)
    for router in ROUTERS:
        app.include_router(router)


__all__ = ["create_console"]
