"""Logins: checking a name, password and TOTP code, counting failures, locking out.

The password is checked outside any transaction, so a login does not hold the SQLite
write lock while argon2 runs; the row is then re-read under ``SELECT ... FOR UPDATE``
to count a failure, check and burn a TOTP step, or reset the counter. A lockout
counted by one server process is seen by all, and a TOTP code accepted by one is
refused by all. An unknown name or a locked account costs the same hashing as a real
check, so a refusal's timing tells nothing.
"""

from __future__ import annotations

import secrets
from typing import Any

from sqlalchemy import select

from ..storage.account_models import User
from . import totp
from .audit import OK, REFUSED, record
from .errors import ErrorCode
from .passwords import PasswordHasher, hash_password, needs_rehash, verify_password
from .policy import AccountPolicy
from .profile import clean_text, is_valid_username, normalise_username
from .results import LoginResult
from .store import AccountStore, user_info


class Logins:
    """Who may log in, and the lockout rule (``policy``) that guards it."""

    def __init__(self, store: AccountStore, hasher: PasswordHasher, policy: AccountPolicy) -> None:
        self._store = store
        self._hasher = hasher
        self._policy = policy
        self._dummy_hash: str | None = None  # a constant, made on first need

    def authenticate(
        self,
        username: str,
        password: str,
        totp_code: str | None = None,
        address: str | None = None,
        user_agent: str | None = None,
        *,
        action: str = "login",
    ) -> LoginResult:
        """Check a login; never raises for a refusal (see :class:`LoginResult`).

        Wrong passwords and wrong or replayed TOTP codes count towards the lockout
        (``policy.max_failures`` in a row lock the account for ``policy.lockout_ms``); a
        missing code does not (so a two-step form is possible), nor does an attempt while
        locked (so the lock cannot be extended). Success resets the count."""
        name = normalise_username(username)
        claimed = clean_text(name, 128)
        agent = clean_text(user_agent, 512)
        snapshot = self._login_snapshot(name)
        if snapshot is None:
            self._burn(password)
            unknown = {"reason": ErrorCode.UNKNOWN_USER.value, "user_agent": agent}
            self._store.audit(claimed, action, claimed, REFUSED, unknown, address)
            return LoginResult(None, ErrorCode.UNKNOWN_USER)

        user_id, known_hash, locked_until = snapshot
        evaluated = locked_until is None or locked_until <= self._store.clock()
        if evaluated:
            password_ok = verify_password(self._hasher, known_hash, password)
        else:
            self._burn(password)
            password_ok = False
        new_hash = None
        if password_ok and needs_rehash(self._hasher, known_hash):
            new_hash = hash_password(self._hasher, password)

        with self._store.transaction() as session:
            now = self._store.clock()
            user = session.scalars(select(User).where(User.id == user_id).with_for_update()).one()
            detail: dict[str, Any] = {"user_agent": agent}
            if user.locked_until_ms is not None and user.locked_until_ms <= now:
                user.failed_logins = 0  # the lockout is over: a fresh start
                user.locked_until_ms = None
            refusal, counts = _login_refusal(
                user,
                now,
                evaluated=evaluated,
                password_ok=password_ok,
                known_hash=known_hash,
                totp_code=totp_code,
            )
            if refusal is not None:
                detail["reason"] = refusal.value
                if counts:
                    self._count_failure(user, now, detail)
                record(session, now, user.username, action, name, REFUSED, detail, address)
                return LoginResult(None, refusal)
            user.failed_logins = 0
            user.locked_until_ms = None
            if new_hash is not None:
                user.password_hash = new_hash
                detail["rehashed"] = True
            detail["totp"] = user.totp_secret is not None
            record(session, now, user.username, action, name, OK, detail, address)
            return LoginResult(user_info(user, now), None)

    def _login_snapshot(self, name: str) -> Any:
        """(id, password hash, locked until) of the account, read without a lock (the
        password is checked outside the transaction); None if there is no such account."""
        if not is_valid_username(name):
            return None
        with self._store.reading() as session:
            return session.execute(
                select(User.id, User.password_hash, User.locked_until_ms).where(
                    User.username == name
                )
            ).one_or_none()

    def _count_failure(self, user: User, now: int, detail: dict[str, Any]) -> None:
        """One more failure in a row; the account locks at ``policy.max_failures``."""
        user.failed_logins += 1
        detail["failures"] = user.failed_logins
        if user.failed_logins >= self._policy.max_failures:
            user.locked_until_ms = now + self._policy.lockout_ms
            detail["locked_until_ms"] = user.locked_until_ms

    def _burn(self, password: str) -> None:
        """Spend the time a real check would, so a refusal's timing tells nothing."""
        if self._dummy_hash is None:
            self._dummy_hash = hash_password(self._hasher, secrets.token_urlsafe(16))
        verify_password(self._hasher, self._dummy_hash, password)


def _login_refusal(
    user: User,
    now: int,
    *,
    evaluated: bool,
    password_ok: bool,
    known_hash: str,
    totp_code: str | None,
) -> tuple[ErrorCode | None, bool]:
    """Why a login is refused (None if it is not), and whether that counts towards the
    lockout. An accepted TOTP code is remembered (``totp_last_step``) against replay."""
    if user.locked_until_ms is not None or not evaluated:
        return ErrorCode.LOCKED, False
    if not password_ok or user.password_hash != known_hash:
        return ErrorCode.BAD_CREDENTIALS, True
    if user.disabled:
        return ErrorCode.DISABLED, False
    if user.totp_secret is None:
        return None, False
    if not totp_code or not totp_code.strip():
        return ErrorCode.TOTP_REQUIRED, False
    check = totp.check(user.totp_secret, totp_code, at_ms=now, last_step=user.totp_last_step)
    if check.outcome is totp.TotpOutcome.ACCEPTED:
        user.totp_last_step = check.step
        return None, False
    if check.outcome is totp.TotpOutcome.REUSED:
        return ErrorCode.TOTP_REUSED, True
    return ErrorCode.TOTP_INVALID, True


__all__ = ["Logins"]
