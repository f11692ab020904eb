"""The users: adding, reading and changing accounts, their passwords and TOTP secrets.

Each change writes its audit row in the transaction that makes it; a refusal carries a
stable :class:`ErrorCode` and is audited on its own. A new password is hashed before its
transaction begins, so argon2 never holds the database's write lock. No change leaves
the node without an enabled administrator.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..storage.account_models import User
from . import totp
from .audit import OK, record
from .errors import AccountError, ErrorCode
from .passwords import PasswordHasher, check_policy, hash_password
from .profile import (
    check_display_name,
    check_language,
    check_timezone,
    check_username,
    normalise_username,
)
from .results import TotpEnrolment, UserInfo
from .roles import Role, parse_role
from .sessions import revoke_all
from .store import AccountStore, is_locked, lock_user, unknown_user, user_info


class Users:
    """The accounts' users. ``party`` names the issuer in TOTP URIs ("Hotline <party>")."""

    def __init__(self, store: AccountStore, hasher: PasswordHasher, party: str | None) -> None:
        self._store = store
        self._hasher = hasher
        self._party = party

    def add_user(
        self,
        username: str,
        password: str,
        *,
        role: Role | str,
        display_name: str | None = None,
        language: str = "en",
        timezone: str = "UTC",
        actor: str | None = None,
        address: str | None = None,
    ) -> UserInfo:
        with self._store.audited("user.add", username, actor, address) as target:
            target.value = normalise_username(username)
            name, role_, shown = self._check_new_user(
                username, role=role, display_name=display_name, language=language, timezone=timezone
            )
            check_policy(password, name)
            password_hash = hash_password(self._hasher, password)
            try:
                with self._store.transaction() as session:
                    now = self._store.clock()
                    if session.scalar(select(User.id).where(User.username == name)) is not None:
                        raise _taken(name)
                    user = User(
                        username=name,
                        display_name=shown,
                        role=role_.value,
                        language=language,
                        timezone=timezone,
                        password_hash=password_hash,
                        totp_secret=None,
                        totp_last_step=None,
                        disabled=False,
                        failed_logins=0,
                        locked_until_ms=None,
                        created_ms=now,
                        password_changed_ms=now,
                    )
                    session.add(user)
                    session.flush()
                    detail = {"role": role_.value, "language": language, "timezone": timezone}
                    record(session, now, actor, "user.add", name, OK, detail, address)
                    return user_info(user, now)
            except IntegrityError:  # another process added the same name meanwhile
                raise _taken(name) from None

    def check_new_user(
        self,
        username: str,
        *,
        role: Role | str,
        display_name: str | None = None,
        language: str = "en",
        timezone: str = "UTC",
    ) -> str:
        """Raise the AccountError ``add_user`` would raise for these (all but the password),
        without recording anything: for forms and prompts, before asking for a password.
        Returns the normalised username."""
        name, _, _ = self._check_new_user(
            username, role=role, display_name=display_name, language=language, timezone=timezone
        )
        with self._store.reading() as session:
            if session.scalar(select(User.id).where(User.username == name)) is not None:
                raise _taken(name)
        return name

    def _check_new_user(
        self,
        username: str,
        *,
        role: Role | str,
        display_name: str | None,
        language: str,
        timezone: str,
    ) -> tuple[str, Role, str]:
        name = check_username(username)
        role_ = parse_role(role)
        shown = check_display_name(display_name if display_name is not None else name)
        check_language(language)
        check_timezone(timezone)
        return name, role_, shown

    def list_users(self) -> list[UserInfo]:
        with self._store.reading() as session:
            now = self._store.clock()
            return [
                user_info(user, now)
                for user in session.scalars(select(User).order_by(User.username))
            ]

    def get_user(self, username: str) -> UserInfo:
        """The user, or ``AccountError(unknown_user)``."""
        name = normalise_username(username)
        with self._store.reading() as session:
            user = session.scalar(select(User).where(User.username == name))
            if user is None:
                raise unknown_user(username)
            return user_info(user, self._store.clock())

    def update_user(
        self,
        username: str,
        *,
        display_name: str | None = None,
        role: Role | str | None = None,
        language: str | None = None,
        timezone: str | None = None,
        actor: str | None = None,
        address: str | None = None,
    ) -> UserInfo:
        """Change any of the profile fields given (the others stay)."""
        with self._store.audited("user.update", username, actor, address) as target:
            name = target.value = normalise_username(username)
            new: dict[str, str] = {}
            if display_name is not None:
                new["display_name"] = check_display_name(display_name)
            if role is not None:
                new["role"] = parse_role(role).value
            if language is not None:
                new["language"] = check_language(language)
            if timezone is not None:
                new["timezone"] = check_timezone(timezone)
            with self._store.transaction() as session:
                now = self._store.clock()
                if new.get("role", Role.ADMINISTRATOR) != Role.ADMINISTRATOR:
                    user = _lock_keeping_an_administrator(session, name)
                else:
                    user = lock_user(session, name)
                changes: dict[str, Any] = {}
                for field, value in new.items():
                    old = getattr(user, field)
                    if old != value:
                        changes[field] = [old, value]
                        setattr(user, field, value)
                record(session, now, actor, "user.update", name, OK, {"changes": changes}, address)
                return user_info(user, now)

    def disable_user(
        self, username: str, *, actor: str | None = None, address: str | None = None
    ) -> UserInfo:
        """Refuse the user's logins and end all their sessions (not the last administrator)."""
        with self._store.audited("user.disable", username, actor, address) as target:
            name = target.value = normalise_username(username)
            with self._store.transaction() as session:
                now = self._store.clock()
                user = _lock_keeping_an_administrator(session, name)
                was = user.disabled
                user.disabled = True
                revoked = revoke_all(session, user.id, now)
                detail = {"was_disabled": was, "sessions_revoked": revoked}
                record(session, now, actor, "user.disable", name, OK, detail, address)
                return user_info(user, now)

    def enable_user(
        self, username: str, *, actor: str | None = None, address: str | None = None
    ) -> UserInfo:
        """Allow the user's logins again, and lift any lockout."""
        with self._store.audited("user.enable", username, actor, address) as target:
            name = target.value = normalise_username(username)
            with self._store.transaction() as session:
                now = self._store.clock()
                user = lock_user(session, name)
                detail = {"was_disabled": user.disabled, "was_locked": is_locked(user, now)}
                user.disabled = False
                user.failed_logins = 0
                user.locked_until_ms = None
                record(session, now, actor, "user.enable", name, OK, detail, address)
                return user_info(user, now)

    def set_password(
        self,
        username: str,
        password: str,
        *,
        actor: str | None = None,
        address: str | None = None,
    ) -> UserInfo:
        """Set a new password, lift any lockout, and end all the user's sessions.

        For users changing their own password, re-check who they are first with
        ``authenticate(..., action="reauthenticate")`` (password and TOTP code)."""
        with self._store.audited("user.password", username, actor, address) as target:
            name = target.value = normalise_username(username)
            check_policy(password, name)
            password_hash = hash_password(self._hasher, password)
            with self._store.transaction() as session:
                now = self._store.clock()
                user = lock_user(session, name)
                user.password_hash = password_hash
                user.password_changed_ms = now
                user.failed_logins = 0
                user.locked_until_ms = None
                revoked = revoke_all(session, user.id, now)
                detail = {"sessions_revoked": revoked}
                record(session, now, actor, "user.password", name, OK, detail, address)
                return user_info(user, now)

    def enable_totp(
        self, username: str, *, actor: str | None = None, address: str | None = None
    ) -> TotpEnrolment:
        """Give the user a new TOTP secret (replacing any). Show the result once."""
        with self._store.audited("user.totp.enable", username, actor, address) as target:
            name = target.value = normalise_username(username)
            secret = totp.new_secret()
            with self._store.transaction() as session:
                now = self._store.clock()
                user = lock_user(session, name)
                detail = {"replaced": user.totp_secret is not None}
                user.totp_secret = secret
                user.totp_last_step = None
                record(session, now, actor, "user.totp.enable", name, OK, detail, address)
            return TotpEnrolment(secret, totp.provisioning_uri(secret, name, self._party))

    def disable_totp(
        self, username: str, *, actor: str | None = None, address: str | None = None
    ) -> UserInfo:
        with self._store.audited("user.totp.disable", username, actor, address) as target:
            name = target.value = normalise_username(username)
            with self._store.transaction() as session:
                now = self._store.clock()
                user = lock_user(session, name)
                detail = {"was_enabled": user.totp_secret is not None}
                user.totp_secret = None
                user.totp_last_step = None
                record(session, now, actor, "user.totp.disable", name, OK, detail, address)
                return user_info(user, now)


def _lock_keeping_an_administrator(session: Session, name: str) -> User:
    """Lock the user about to stop being an enabled administrator, refusing if it is
    the last one. Locks the enabled administrators too, in id order, so two such
    changes at once cannot both pass (nor deadlock)."""
    enabled_admin = and_(User.role == Role.ADMINISTRATOR.value, User.disabled.is_(False))
    rows = list(
        session.scalars(
            select(User)
            .where(or_(User.username == name, enabled_admin))
            .order_by(User.id)
            .with_for_update()
        )
    )
    user = next((u for u in rows if u.username == name), None)
    if user is None:
        raise unknown_user(name)
    admins = [u for u in rows if u.role == Role.ADMINISTRATOR.value and not u.disabled]
    if admins == [user]:
        raise AccountError(
            ErrorCode.LAST_ADMINISTRATOR,
            f"{name!r} is the last enabled administrator: add or enable another first",
        )
    return user


def _taken(name: str) -> AccountError:
    return AccountError(ErrorCode.USERNAME_TAKEN, f"the username {name!r} is already taken")


__all__ = ["Users"]
