"""The accounts service: users, logins, browser sessions and the audit log.

Everything lives in the node's database and nothing in the process, so any number of
server processes may serve one node over one PostgreSQL database: a lockout counted by
one is seen by all, a session revoked in one is gone in all, a TOTP code used in one is
refused by all. Each change writes its audit row in the same transaction as the change;
a refused change writes a ``refused`` row (in its own transaction, as nothing changed).

Permissions are the caller's to check (see :mod:`hotline.accounts.roles`): the service
does what it is asked and records who asked (``actor``: a username, or ``cli:<os user>``
for the command line, ``system:init`` for ``hotline init``).

Slow work (argon2) runs outside any transaction, so a login does not hold the SQLite
write lock while it hashes; the row is then re-read under ``SELECT ... FOR UPDATE`` to
count a failure, check and burn a TOTP step, or reset the counter.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from ..clock import now_ms
from ..storage.account_models import AuditLog, User, WebSession
from . import totp
from .audit import AuditFilter, read_audit
from .errors import AccountError, ErrorCode
from .passwords import (
    PasswordHasher,
    check_policy,
    hash_password,
    make_hasher,
    needs_rehash,
    verify_password,
)
from .profile import (
    check_display_name,
    check_language,
    check_timezone,
    check_username,
    clean_text,
    is_valid_username,
    normalise_username,
)
from .results import (
    AuditEntry,
    LoginResult,
    NewSession,
    SessionInfo,
    TotpEnrolment,
    UserInfo,
)
from .roles import Role, parse_role

MINUTE_MS = 60_000
OK = "ok"
REFUSED = "refused"
_MAX_TOKEN_CHARS = 256


@dataclass(frozen=True)
class AccountPolicy:
    """Time limits and the lockout rule (the defaults are the production values)."""

    idle_timeout_ms: int = 30 * MINUTE_MS
    absolute_timeout_ms: int = 12 * 60 * MINUTE_MS
    # A session's last_seen is written at most this often, to limit writes; so the idle
    # timeout is honoured to within this much (a session may end up to a minute early).
    touch_interval_ms: int = MINUTE_MS
    max_failures: int = 5
    lockout_ms: int = 15 * MINUTE_MS


@dataclass
class _Target:
    value: str | None


class AccountService:
    """Accounts over a node's database.

    ``sessions`` makes write transactions; ``readers``, if given, read-only ones (on
    SQLite, pass ``make_sessionmaker(engine, read_only=True)``, so that a
    session lookup on every request does not take the write lock). ``clock`` returns
    milliseconds since the epoch; ``hasher`` defaults to production argon2id;
    ``party`` names the issuer in TOTP URIs ("Hotline <party>")."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        readers: sessionmaker[Session] | None = None,
        clock: Callable[[], int] = now_ms,
        hasher: PasswordHasher | None = None,
        policy: AccountPolicy | None = None,
        party: str | None = None,
    ) -> None:
        self._sessions = sessions
        self._readers = readers or sessions
        self._clock = clock
        self._hasher = hasher or make_hasher()
        self.policy = policy or AccountPolicy()
        self.party = party
        self._dummy_hash: str | None = None  # a constant, made on first need

    # Users -----------------------------------------------------------------

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
        with self._audited("user.add", username, actor, address) as target:
            target.value = normalise_username(username)
            name, role_, shown = self._check_new_user(
                username, role=role, display_name=display_name, language=language, timezone=timezone
            )
            check_policy(password, name)
            password_hash = hash_password(self._hasher, password)
            try:
                with self._transaction() as session:
                    now = self._clock()
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
                    self._record(session, now, actor, "user.add", name, OK, detail, address)
                    return self._info(user, now)
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
        with self._reading() as session:
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
        with self._reading() as session:
            now = self._clock()
            return [
                self._info(user, now)
                for user in session.scalars(select(User).order_by(User.username))
            ]

    def get_user(self, username: str) -> UserInfo:
        """The user, or ``AccountError(unknown_user)``."""
        name = normalise_username(username)
        with self._reading() as session:
            user = session.scalar(select(User).where(User.username == name))
            if user is None:
                raise _unknown(username)
            return self._info(user, self._clock())

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
        with self._audited("user.update", username, actor, address) as target:
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
            with self._transaction() as session:
                now = self._clock()
                if new.get("role", Role.ADMINISTRATOR) != Role.ADMINISTRATOR:
                    user = self._lock_keeping_an_administrator(session, name)
                else:
                    user = self._lock(session, name)
                changes: dict[str, Any] = {}
                for field, value in new.items():
                    old = getattr(user, field)
                    if old != value:
                        changes[field] = [old, value]
                        setattr(user, field, value)
                self._record(
                    session, now, actor, "user.update", name, OK, {"changes": changes}, address
                )
                return self._info(user, now)

    def disable_user(
        self, username: str, *, actor: str | None = None, address: str | None = None
    ) -> UserInfo:
        """Refuse the user's logins and end all their sessions (not the last administrator)."""
        with self._audited("user.disable", username, actor, address) as target:
            name = target.value = normalise_username(username)
            with self._transaction() as session:
                now = self._clock()
                user = self._lock_keeping_an_administrator(session, name)
                was = user.disabled
                user.disabled = True
                revoked = self._revoke_all(session, user.id, now)
                detail = {"was_disabled": was, "sessions_revoked": revoked}
                self._record(session, now, actor, "user.disable", name, OK, detail, address)
                return self._info(user, now)

    def enable_user(
        self, username: str, *, actor: str | None = None, address: str | None = None
    ) -> UserInfo:
        """Allow the user's logins again, and lift any lockout."""
        with self._audited("user.enable", username, actor, address) as target:
            name = target.value = normalise_username(username)
            with self._transaction() as session:
                now = self._clock()
                user = self._lock(session, name)
                detail = {"was_disabled": user.disabled, "was_locked": _locked(user, now)}
                user.disabled = False
                user.failed_logins = 0
                user.locked_until_ms = None
                self._record(session, now, actor, "user.enable", name, OK, detail, address)
                return self._info(user, now)

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
        with self._audited("user.password", username, actor, address) as target:
            name = target.value = normalise_username(username)
            check_policy(password, name)
            password_hash = hash_password(self._hasher, password)
            with self._transaction() as session:
                now = self._clock()
                user = self._lock(session, name)
                user.password_hash = password_hash
                user.password_changed_ms = now
                user.failed_logins = 0
                user.locked_until_ms = None
                revoked = self._revoke_all(session, user.id, now)
                detail = {"sessions_revoked": revoked}
                self._record(session, now, actor, "user.password", name, OK, detail, address)
                return self._info(user, now)

    def enable_totp(
        self, username: str, *, actor: str | None = None, address: str | None = None
    ) -> TotpEnrolment:
        """Give the user a new TOTP secret (replacing any). Show the result once."""
        with self._audited("user.totp.enable", username, actor, address) as target:
            name = target.value = normalise_username(username)
            secret = totp.new_secret()
            with self._transaction() as session:
                now = self._clock()
                user = self._lock(session, name)
                detail = {"replaced": user.totp_secret is not None}
                user.totp_secret = secret
                user.totp_last_step = None
                self._record(session, now, actor, "user.totp.enable", name, OK, detail, address)
            return TotpEnrolment(secret, totp.provisioning_uri(secret, name, self.party))

    def disable_totp(
        self, username: str, *, actor: str | None = None, address: str | None = None
    ) -> UserInfo:
        with self._audited("user.totp.disable", username, actor, address) as target:
            name = target.value = normalise_username(username)
            with self._transaction() as session:
                now = self._clock()
                user = self._lock(session, name)
                detail = {"was_enabled": user.totp_secret is not None}
                user.totp_secret = None
                user.totp_last_step = None
                self._record(session, now, actor, "user.totp.disable", name, OK, detail, address)
                return self._info(user, now)

    # Logins ----------------------------------------------------------------

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
            self.audit(claimed, action, claimed, REFUSED, unknown, address)
            return LoginResult(None, ErrorCode.UNKNOWN_USER)

        user_id, known_hash, locked_until = snapshot
        evaluated = locked_until is None or locked_until <= self._clock()
        if evaluated:
            password_ok = verify_password(self._hasher, known_hash, password)
        else:
            self._burn(password)
            password_ok = False
        new_hash = None
        if password_ok and needs_rehash(self._hasher, known_hash):
            new_hash = hash_password(self._hasher, password)

        with self._transaction() as session:
            now = self._clock()
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
                self._record(session, now, user.username, action, name, REFUSED, detail, address)
                return LoginResult(None, refusal)
            user.failed_logins = 0
            user.locked_until_ms = None
            if new_hash is not None:
                user.password_hash = new_hash
                detail["rehashed"] = True
            detail["totp"] = user.totp_secret is not None
            self._record(session, now, user.username, action, name, OK, detail, address)
            return LoginResult(self._info(user, now), None)

    def _login_snapshot(self, name: str) -> Any:
        """(id, password hash, locked until) of the account, read without a lock (the
        password is checked outside the transaction); None if there is no such account."""
        if not is_valid_username(name):
            return None
        with self._reading() as session:
            return session.execute(
                select(User.id, User.password_hash, User.locked_until_ms).where(
                    User.username == name
                )
            ).one_or_none()

    def _count_failure(self, user: User, now: int, detail: dict[str, Any]) -> None:
        """One more failure in a row; the account locks at ``policy.max_failures``."""
        user.failed_logins += 1
        detail["failures"] = user.failed_logins
        if user.failed_logins >= self.policy.max_failures:
            user.locked_until_ms = now + self.policy.lockout_ms
            detail["locked_until_ms"] = user.locked_until_ms

    # Sessions --------------------------------------------------------------

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
        with self._transaction() as session:
            now = self._clock()
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
                    expires_ms=now + self.policy.absolute_timeout_ms,
                    revoked_ms=None,
                    user_agent=clean_text(user_agent, 512),
                    address=clean_text(address, 128),
                )
            )
            detail = {"session": session_id[:16]}
            self._record(
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
        policy = self.policy
        with self._reading() as session:
            now = self._clock()
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
            info = self._info(user, now)
        last_seen = web.last_seen_ms
        if now - last_seen >= policy.touch_interval_ms:
            with self._transaction() as session:
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
        with self._transaction() as session:
            now = self._clock()
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
            self._record(session, now, username, "session.revoke", username, OK, detail, address)
            return True

    def revoke_all_sessions_for(
        self, username: str, *, actor: str | None = None, address: str | None = None
    ) -> int:
        """End every live session of the user; returns how many there were."""
        with self._audited("session.revoke_all", username, actor, address) as target:
            name = target.value = normalise_username(username)
            with self._transaction() as session:
                now = self._clock()
                user = self._lock(session, name)
                revoked = self._revoke_all(session, user.id, now)
                detail = {"sessions_revoked": revoked}
                self._record(session, now, actor, "session.revoke_all", name, OK, detail, address)
                return revoked

    def prune_sessions(self, *, keep_ms: int = 24 * 60 * MINUTE_MS) -> int:
        """Delete sessions that ended more than ``keep_ms`` ago; returns how many."""
        with self._transaction() as session:
            now = self._clock()
            cutoff = now - keep_ms
            result = session.execute(
                delete(WebSession)
                .where(
                    or_(
                        WebSession.expires_ms < cutoff,
                        WebSession.revoked_ms < cutoff,
                        WebSession.last_seen_ms < cutoff - self.policy.idle_timeout_ms,
                    )
                )
                .execution_options(synchronize_session=False)
            )
            count: int = getattr(result, "rowcount", 0)
            if count:
                self._record(
                    session, now, None, "session.prune", None, OK, {"deleted": count}, None
                )
            return count

    @staticmethod
    def check_csrf(session: SessionInfo, submitted: str | None) -> bool:
        """Whether a form's CSRF token is the session's (compared in constant time)."""
        if not submitted:
            return False
        return hmac.compare_digest(session.csrf_token.encode(), submitted.encode())

    # Audit -----------------------------------------------------------------

    def audit(
        self,
        username: str | None,
        action: str,
        target: str | None,
        outcome: str,
        detail: dict[str, Any] | None = None,
        address: str | None = None,
    ) -> int:
        """Append an audit row in its own transaction (for the web layer's own actions).
        Returns its id. Never put a password, token or TOTP secret in ``detail``."""
        with self._transaction() as session:
            return self._record(
                session, self._clock(), username, action, target, outcome, detail or {}, address
            )

    def audit_entries(
        self,
        limit: int = 100,
        before_id: int | None = None,
        filters: AuditFilter | None = None,
    ) -> list[AuditEntry]:
        """Newest first; pass the last id seen as ``before_id`` for the next page.
        ``filters`` come from :func:`audit_filter`; a ``limit`` outside 1..1000 is
        refused (:class:`AuditFilterError`)."""
        with self._reading() as session:
            return read_audit(session, filters, limit=limit, before_id=before_id)

    # Internals -------------------------------------------------------------

    @contextmanager
    def _transaction(self) -> Iterator[Session]:
        with self._sessions.begin() as session:
            yield session

    @contextmanager
    def _reading(self) -> Iterator[Session]:
        with self._readers.begin() as session:
            yield session

    @contextmanager
    def _audited(
        self, action: str, target: str | None, actor: str | None, address: str | None
    ) -> Iterator[_Target]:
        """Record a refused change (AccountError) with its code, then re-raise it."""
        holder = _Target(target)
        try:
            yield holder
        except AccountError as exc:
            self.audit(actor, action, holder.value, REFUSED, {"code": exc.code.value}, address)
            raise

    def _record(
        self,
        session: Session,
        now: int,
        username: str | None,
        action: str,
        target: str | None,
        outcome: str,
        detail: dict[str, Any],
        address: str | None,
    ) -> int:
        if outcome not in (OK, REFUSED):
            raise ValueError(f"audit outcome must be {OK!r} or {REFUSED!r}, not {outcome!r}")
        row = AuditLog(
            at_ms=now,
            username=clean_text(username, 128),
            action=action[:64],
            target=clean_text(target, 256),
            outcome=outcome,
            detail=detail,
            address=clean_text(address, 128),
        )
        session.add(row)
        session.flush()
        return row.id

    def _lock(self, session: Session, name: str) -> User:
        user = session.scalars(
            select(User).where(User.username == name).with_for_update()
        ).one_or_none()
        if user is None:
            raise _unknown(name)
        return user

    def _lock_keeping_an_administrator(self, session: Session, name: str) -> User:
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
            raise _unknown(name)
        admins = [u for u in rows if u.role == Role.ADMINISTRATOR.value and not u.disabled]
        if admins == [user]:
            raise AccountError(
                ErrorCode.LAST_ADMINISTRATOR,
                f"{name!r} is the last enabled administrator: add or enable another first",
            )
        return user

    def _revoke_all(self, session: Session, user_id: int, now: int) -> int:
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

    def _burn(self, password: str) -> None:
        """Spend the time a real check would, so a refusal's timing tells nothing."""
        if self._dummy_hash is None:
            self._dummy_hash = hash_password(self._hasher, secrets.token_urlsafe(16))
        verify_password(self._hasher, self._dummy_hash, password)

    def _info(self, user: User, now: int) -> UserInfo:
        return UserInfo(
            id=user.id,
            username=user.username,
            display_name=user.display_name,
            role=Role(user.role),
            language=user.language,
            timezone=user.timezone,
            disabled=user.disabled,
            totp_enabled=user.totp_secret is not None,
            failed_logins=user.failed_logins,
            locked_until_ms=user.locked_until_ms if _locked(user, now) else None,
            locked=_locked(user, now),
            created_ms=user.created_ms,
            password_changed_ms=user.password_changed_ms,
        )


def session_id_of(token: str) -> str:
    """What a session is stored under: the SHA-256 (hex) of its token."""
    return hashlib.sha256(token.encode()).hexdigest()


def _locked(user: User, now: int) -> bool:
    return user.locked_until_ms is not None and user.locked_until_ms > now


def _unknown(name: str) -> AccountError:
    return AccountError(ErrorCode.UNKNOWN_USER, f"no user named {name!r}; see 'hotline user list'")


def _taken(name: str) -> AccountError:
    return AccountError(ErrorCode.USERNAME_TAKEN, f"the username {name!r} is already taken")


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
