"""Who is at the console: the session cookie, CSRF checks and permissions.

Every page and action goes through :func:`Gate.operator`, which refuses an unknown
or expired session, a POST without the session's CSRF token, and a role without
the permission the endpoint names. Refusals are audited.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from anyio import to_thread
from fastapi import HTTPException, Request

from ...accounts.results import SessionInfo, UserInfo
from ...accounts.roles import Permission
from ...accounts.service import AccountService
from ...node.people import Person
from .i18n import LANGUAGES

SESSION_COOKIE = "hotline_session"
LOGIN_CSRF_COOKIE = "hotline_login_csrf"
LANGUAGE_COOKIE = "hotline_lang"
CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"
FETCH_HEADER = "x-hotline-fetch"  # set by the console's own script on its requests


class LoginRequired(Exception):
    """No valid session: pages redirect to the login page, fetches get 401."""


@dataclass(frozen=True)
class Operator:
    session: SessionInfo

    @property
    def user(self) -> UserInfo:
        return self.session.user

    @property
    def label(self) -> str:
        return f"{self.user.display_name} ({self.user.role.value.replace('_', ' ')})"

    @property
    def person(self) -> Person:
        """The operator as the desk records them."""
        user = self.user
        return Person(user.username, user.display_name, user.role.value)

    def can(self, permission: Permission) -> bool:
        return self.user.can(permission)


class Gate:
    def __init__(self, accounts: AccountService) -> None:
        self.accounts = accounts

    async def operator(
        self, request: Request, permission: Permission | None, *, form_csrf: str | None = None
    ) -> Operator:
        session = await to_thread.run_sync(
            self.accounts.lookup_session, request.cookies.get(SESSION_COOKIE)
        )
        if session is None:
            raise LoginRequired()
        operator = Operator(session)
        if request.method == "POST":
            submitted = form_csrf or request.headers.get(CSRF_HEADER)
            if not AccountService.check_csrf(session, submitted):
                await self.refuse(request, operator, "csrf", "missing or wrong CSRF token")
                raise HTTPException(403, "csrf")
        if permission is not None and not operator.can(permission):
            await self.refuse(request, operator, "forbidden", permission.value)
            raise HTTPException(403, "forbidden")
        return operator

    async def refuse(
        self, request: Request, operator: Operator | None, code: str, why: str
    ) -> None:
        await to_thread.run_sync(
            lambda: self.accounts.audit(
                operator.user.username if operator else None,
                f"console.{code}",
                f"{request.method} {request.url.path}",
                "refused",
                {"reason": why},
                client_address(request),
            )
        )


def client_address(request: Request) -> str | None:
    return request.client.host if request.client else None


def new_login_csrf() -> str:
    return secrets.token_urlsafe(24)


def request_language(request: Request) -> str:
    """Before login: the language cookie, else the browser's preference."""
    chosen = request.cookies.get(LANGUAGE_COOKIE)
    if chosen in LANGUAGES:
        return chosen
    accept = request.headers.get("accept-language", "").lower()
    return "zh-Hans" if accept.startswith("zh") else "en"


def secure_cookies(request: Request) -> bool:
    return request.url.scheme == "https"


__all__ = [
    "CSRF_FIELD",
    "FETCH_HEADER",
    "LANGUAGE_COOKIE",
    "LOGIN_CSRF_COOKIE",
    "SESSION_COOKIE",
    "Gate",
    "LoginRequired",
    "Operator",
]
