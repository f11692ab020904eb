"""The console's routers, one per area; :func:`~..app.create_console` includes them all."""

from __future__ import annotations

from fastapi import APIRouter

from . import actions, board, calls, drafts, login, records, rules, stream

ROUTERS: tuple[APIRouter, ...] = (
    login.router,
    board.router,
    actions.router,
    drafts.router,
    rules.router,
    calls.router,
    records.router,
    stream.router,
)

__all__ = ["ROUTERS"]
