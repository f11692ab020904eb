"""The console's routers, one per area; :func:`~..app.create_console` includes them all."""

from __future__ import annotations

from fastapi import APIRouter

from . import actions, board, calls, drafts, login, phrasebook, records, rules, stream, translations

ROUTERS: tuple[APIRouter, ...] = (
    login.router,
    board.router,
    actions.router,
    drafts.router,
    phrasebook.router,
    rules.router,
    calls.router,
    records.router,
    translations.router,
    stream.router,
)

__all__ = ["ROUTERS"]
