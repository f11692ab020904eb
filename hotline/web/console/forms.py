"""The fields every console form carries, read once as a dependency.

Each form posts the session's CSRF token; most also say where to go afterwards
(``back``). A route takes them as ``form: ActionForm = Depends(action_form)`` (or
``Posted`` and :func:`posted` when it has no ``back``) and declares only its own
fields. The form keeps its request, so the gate and the audit see who asked.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Form, Request


@dataclass(frozen=True)
class Posted:
    """A posted console form: its request and the CSRF token it carried."""

    request: Request
    csrf: str


@dataclass(frozen=True)
class ActionForm(Posted):
    """A posted form with somewhere to go afterwards: ``back`` is always a path on
    this console."""

    back: str


def posted(request: Request, csrf: Annotated[str, Form()] = "") -> Posted:
    return Posted(request, csrf)


def action_form(
    request: Request,
    back: Annotated[str, Form()] = "/",
    csrf: Annotated[str, Form()] = "",
) -> ActionForm:
    return ActionForm(request, csrf, local_path(back))


def local_path(back: str) -> str:
    """Only paths on this console: never an open redirect."""
    return back if back.startswith("/") and not back.startswith("//") else "/"


def wants_json(request: Request) -> bool:
    """The console's own script asked (it reads the answer); a form gets a page."""
    return "application/json" in request.headers.get("accept", "")


__all__ = ["ActionForm", "Posted", "action_form", "local_path", "posted", "wants_json"]
