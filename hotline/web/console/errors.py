"""How a refused request is answered on the local listener: people get a page in
their language, scripts (the API, the console's own fetches) get JSON."""

from __future__ import annotations

import json

from fastapi import FastAPI, Request
from fastapi.exception_handlers import (
    http_exception_handler,
    request_validation_exception_handler,
)
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from .auth import FETCH_HEADER, LoginRequired, request_language
from .context import console
from .i18n import translate
from .refusals import status_text


def add_exception_handlers(app: FastAPI) -> None:
    app.exception_handler(StarletteHTTPException)(refused)
    app.exception_handler(RequestValidationError)(invalid_form)
    app.exception_handler(LoginRequired)(login_required)


async def refused(request: Request, exc: StarletteHTTPException) -> Response:
    if not _for_people(request):
        return await http_exception_handler(request, exc)
    return await _refusal_page(request, exc.status_code)


async def invalid_form(request: Request, exc: RequestValidationError) -> Response:
    if not _for_people(request):
        return await request_validation_exception_handler(request, exc)
    return await _refusal_page(request, 422)


async def login_required(request: Request, exc: LoginRequired) -> Response:
    """Pages and forms go to the login page (saying why); the page's own fetches
    get 401 so its script can send the whole page there."""
    if request.headers.get(FETCH_HEADER) or "text/html" not in request.headers.get("accept", ""):
        return Response(
            json.dumps({"error": "login required"}),
            status_code=401,
            media_type="application/json",
        )
    return RedirectResponse("/login?ended=1", status_code=303)


def _for_people(request: Request) -> bool:
    return not request.url.path.startswith(
        ("/api/", "/peer/")
    ) and "text/html" in request.headers.get("accept", "")


async def _refusal_page(request: Request, status: int) -> Response:
    """In the operator's language, with the navigation, the alarm and the call bar
    when someone is signed in: a call rings on an error page too."""
    c = console(request)
    operator = await c.signed_in(request)
    language = operator.user.language if operator else request_language(request)
    shown = translate(language, status_text(status))
    return c.render(
        request,
        "error.html",
        operator,
        status=status,
        message=shown,
        back="/",
        **await c.page_bars(operator),
    )


__all__ = ["add_exception_handlers"]
