"""The console's routers, one per area; :func:`~..app.create_console` includes them all."""

from __future__ import annotations

from fastapi import APIRouter

from . import board, calls, drafts, login, records, rules, stream, translations

ROUTERS: tuple[APIRouter, ...] = (
    login.router,
    board.router,
    drafts.router,
    rules.router,
    calls.router,
    records.router,
    translations.router,
    stream.router,
)

__all__ = ["ROUTERS"]
