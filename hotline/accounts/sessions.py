"""Console sessions: the browser's cookie and form token, from login to logout.

Only a token's SHA-256 is stored, never the token. A session ends when it goes idle,
at its absolute timeout, when revoked, when its user is disabled, or when its user's
password changes; a revocation in one server process is seen by all at once. A lookup
is a read, and writes a session's last activity only once a touch interval has passed.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from ..storage.account_models import User, WebSession
from .audit import OK, record
from .errors import AccountError, ErrorCode
from .policy import MINUTE_MS, AccountPolicy
from .profile import clean_text, normalise_username
from .results import NewSession, SessionInfo
from .store import AccountStore, lock_user, user_info

_MAX_TOKEN_CHARS = 256


class ConsoleSessions:
    """The live sessions, and their time limits (``policy``)."""

    def __init__(self, store: AccountStore, policy: AccountPolicy) -> None:
        self._store = store
        self._policy = policy

    def create_session(
        self, user_id: int, *, address: str | None = None, user_agent: str | None = None
    ) -> NewSession:
        """Start a browser session for a user who just authenticated.

        Returns the token for the cookie (only its SHA-256 is stored) and the CSRF token
        for forms. The session ends after ``policy.idle_timeout_ms`` without a request, at
        ``policy.absolute_timeout_ms`` after creation, or when revoked."""
        token = secrets.token_urlsafe(32)
        csrf_token = secrets.token_urlsafe(32)
        session_id = session_id_of(token)
        with self._store.transaction() as session:
            now = self._store.clock()
            user = session.scalars(select(User).where(User.id == user_id).with_for_update()).first()
            if user is None:
                raise AccountError(ErrorCode.UNKNOWN_USER, f"no user with id {user_id}")
            if user.disabled:
                raise AccountError(ErrorCode.DISABLED, f"user {user.username!r} is disabled")
            session.add(
                WebSession(
                    id=session_id,
                    user_id=user.id,
                    csrf_token=csrf_token,
                    created_ms=now,
                    last_seen_ms=now,
                    expires_ms=now + self._policy.absolute_timeout_ms,
                    revoked_ms=None,
                    user_agent=clean_text(user_agent, 512),
                    address=clean_text(address, 128),
                )
            )
            detail = {"session": session_id[:16]}
            record(
                session, now, user.username, "session.create", user.username, OK, detail, address
            )
        return NewSession(token, csrf_token)

    def lookup_session(self, token: str | None) -> SessionInfo | None:
        """The live session for a cookie's token, or None (unknown, expired, revoked, or
        its user disabled). Records activity at most once per ``policy.touch_interval_ms``
        (the only write, and a rare one: a lookup is otherwise a read)."""
        if not token or len(token) > _MAX_TOKEN_CHARS:
            return None
        session_id = session_id_of(token)
        policy = self._policy
        with self._store.reading() as session:
            now = self._store.clock()
            row = session.execute(
                select(WebSession, User)
                .join(User, WebSession.user_id == User.id)
                .where(WebSession.id == session_id)
            ).one_or_none()
            if row is None:
                return None
            web, user = row
            if (
                web.revoked_ms is not None
                or now >= web.expires_ms
                or now >= web.last_seen_ms + policy.idle_timeout_ms
                or user.disabled
                or user.password_changed_ms > web.created_ms
            ):
                return None
            info = user_info(user, now)
        last_seen = web.last_seen_ms
        if now - last_seen >= policy.touch_interval_ms:
            with self._store.transaction() as session:
                # Conditional, so the time only moves forward and a revocation that came
                # in between is not undone (it is in another column and stays).
                session.execute(
                    update(WebSession)
                    .where(
                        WebSession.id == session_id,
                        WebSession.last_seen_ms <= now - policy.touch_interval_ms,
                    )
                    .values(last_seen_ms=now)
                    .execution_options(synchronize_session=False)
                )
            last_seen = now
        return SessionInfo(
            id=web.id,
            user=info,
            csrf_token=web.csrf_token,
            created_ms=web.created_ms,
            last_seen_ms=last_seen,
            expires_ms=web.expires_ms,
            idle_expires_ms=min(web.expires_ms, last_seen + policy.idle_timeout_ms),
            address=web.address,
            user_agent=web.user_agent,
        )

    def revoke_session(self, token: str, *, address: str | None = None) -> bool:
        """End the session (logout). False if it was unknown or already ended."""
        if not token or len(token) > _MAX_TOKEN_CHARS:
            return False
        session_id = session_id_of(token)
        with self._store.transaction() as session:
            now = self._store.clock()
            row = session.execute(
                select(WebSession, User.username)
                .join(User, WebSession.user_id == User.id)
                .where(WebSession.id == session_id)
                .with_for_update(of=WebSession)
            ).one_or_none()
            if row is None:
                return False
            web, username = row
            if web.revoked_ms is not None or now >= web.expires_ms:
                return False
            web.revoked_ms = now
            detail = {"session": session_id[:16]}
            record(session, now, username, "session.revoke", username, OK, detail, address)
            return True

    def revoke_all_sessions_for(
        self, username: str, *, actor: str | None = None, address: str | None = None
    ) -> int:
        """End every live session of the user; returns how many there were."""
        with self._store.audited("session.revoke_all", username, actor, address) as target:
            name = target.value = normalise_username(username)
            with self._store.transaction() as session:
                now = self._store.clock()
                user = lock_user(session, name)
                revoked = revoke_all(session, user.id, now)
                detail = {"sessions_revoked": revoked}
                record(session, now, actor, "session.revoke_all", name, OK, detail, address)
                return revoked

    def prune_sessions(self, *, keep_ms: int = 24 * 60 * MINUTE_MS) -> int:
        """Delete sessions that ended more than ``keep_ms`` ago; returns how many."""
        with self._store.transaction() as session:
            now = self._store.clock()
            cutoff = now - keep_ms
            result = session.execute(
                delete(WebSession)
                .where(
                    or_(
                        WebSession.expires_ms < cutoff,
                        WebSession.revoked_ms < cutoff,
                        WebSession.last_seen_ms < cutoff - self._policy.idle_timeout_ms,
                    )
                )
                .execution_options(synchronize_session=False)
            )
            count: int = getattr(result, "rowcount", 0)
            if count:
                record(session, now, None, "session.prune", None, OK, {"deleted": count}, None)
            return count


def revoke_all(session: Session, user_id: int, now: int) -> int:
    """End every live session of the user, in the caller's transaction; returns how many."""
    result = session.execute(
        update(WebSession)
        .where(
            WebSession.user_id == user_id,
            WebSession.revoked_ms.is_(None),
            WebSession.expires_ms > now,
        )
        .values(revoked_ms=now)
        .execution_options(synchronize_session=False)
    )
    count: int = getattr(result, "rowcount", 0)
    return count


def check_csrf(session: SessionInfo, submitted: str | None) -> bool:
    """Whether a form's CSRF token is the session's (compared in constant time)."""
    if not submitted:
        return False
    return hmac.compare_digest(session.csrf_token.encode(), submitted.encode())


def session_id_of(token: str) -> str:
    """What a session is stored under: the SHA-256 (hex) of its token."""
    return hashlib.sha256(token.encode()).hexdigest()


__all__ = ["ConsoleSessions", "check_csrf", "revoke_all", "session_id_of"]
