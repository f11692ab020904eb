"""Signing in and out, and the operator's language."""

from __future__ import annotations

import hmac
from typing import Annotated

from anyio import to_thread
from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from ..auth import (
    LANGUAGE_COOKIE,
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    client_address,
    new_login_csrf,
    request_language,
    secure_cookies,
)
from ..context import Console, console
from ..forms import ActionForm, Posted, action_form, posted
from ..i18n import LANGUAGES, N_

router = APIRouter()

LANGUAGE_COOKIE_SECONDS = 31_536_000


@router.get("/login", response_class=HTMLResponse)
async def login_page(
    request: Request, lang: str | None = None, ended: str = "", c: Console = Depends(console)
) -> Response:
    language = lang if lang in LANGUAGES else request_language(request)
    token = new_login_csrf()
    notice = N_("Your session has ended. Please log in again.") if ended else None
    response = c.render(
        request, "login.html", None, language=language, login_csrf=token, notice=notice
    )
    _set_cookie(request, response, LOGIN_CSRF_COOKIE, token, max_age=3600)
    response.set_cookie(
        LANGUAGE_COOKIE, language, max_age=LANGUAGE_COOKIE_SECONDS, samesite="strict"
    )
    return response


@router.post("/login")
async def login(
    request: Request,
    username: Annotated[str, Form(max_length=128)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    totp: Annotated[str, Form(max_length=16)] = "",
    csrf: Annotated[str, Form(max_length=128)] = "",
    c: Console = Depends(console),
) -> Response:
    # No session yet: the form's CSRF token is checked against the one the login
    # page set in a cookie.
    language = request_language(request)
    expected = request.cookies.get(LOGIN_CSRF_COOKIE)
    if not expected or not csrf or not hmac.compare_digest(expected.encode(), csrf.encode()):
        await c.gate.refuse(request, None, "csrf", "login without its CSRF token")
        return c.render(
            request,
            "login.html",
            None,
            status=403,
            language=language,
            login_csrf=expected or "",
            error=N_("The form has expired. Please try again."),
        )
    address = client_address(request)
    agent = request.headers.get("user-agent")
    result = await to_thread.run_sync(
        lambda: c.accounts.authenticate(username, password, totp or None, address, agent)
    )
    if result.user is None:
        return c.render(
            request,
            "login.html",
            None,
            status=401,
            language=language,
            login_csrf=expected,
            error=N_("Wrong name, password or code, or the account is locked."),
            username=username[:64],
        )
    user = result.user
    new = await to_thread.run_sync(
        lambda: c.accounts.create_session(user.id, address=address, user_agent=agent)
    )
    response = RedirectResponse("/", status_code=303)
    _set_cookie(request, response, SESSION_COOKIE, new.token, max_age=12 * 3600)
    response.delete_cookie(LOGIN_CSRF_COOKIE)
    return response


@router.post("/logout")
async def logout(form: Posted = Depends(posted), c: Console = Depends(console)) -> Response:
    operator = await c.operator(form, None)
    token = form.request.cookies.get(SESSION_COOKIE, "")
    address = client_address(form.request)
    await to_thread.run_sync(lambda: c.accounts.revoke_session(token, address=address))
    response = RedirectResponse(f"/login?lang={operator.user.language}", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.post("/language")
async def set_language(
    language: Annotated[str, Form()] = "",
    form: ActionForm = Depends(action_form),
    c: Console = Depends(console),
) -> Response:
    operator = await c.operator(form, None)
    if language not in LANGUAGES:
        raise HTTPException(400, "unknown language")
    address = client_address(form.request)
    await to_thread.run_sync(
        lambda: c.accounts.update_user(
            operator.user.username, language=language, actor=operator.user.username, address=address
        )
    )
    response = RedirectResponse(form.back, status_code=303)
    response.set_cookie(
        LANGUAGE_COOKIE, language, max_age=LANGUAGE_COOKIE_SECONDS, samesite="strict"
    )
    return response


def _set_cookie(
    request: Request, response: Response, name: str, value: str, *, max_age: int
) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        httponly=True,
        samesite="strict",
        secure=secure_cookies(request),
        path="/",
    )
