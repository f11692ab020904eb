"""Where the accounts live: the node's database, written and read in short transactions.

Nothing lives in the process, so any number of server processes may serve one node
over one PostgreSQL database. A change locks the rows it changes (``SELECT ... FOR
UPDATE``) and writes its audit row in the same transaction; a refused change writes a
``refused`` row in a transaction of its own, as nothing changed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ..storage.account_models import User
from .audit import REFUSED, AuditFilter, read_audit, record
from .errors import AccountError, ErrorCode
from .results import AuditEntry, UserInfo
from .roles import Role


@dataclass
class AuditTarget:
    """What a refusal's audit row names: the target as given, until it is normalised."""

    value: str | None


@dataclass(frozen=True)
class AccountStore:
    """``writers`` makes write transactions, ``readers`` read-only ones (the same on
    PostgreSQL; on SQLite a read then does not take the write lock). ``clock`` returns
    milliseconds since the epoch."""

    writers: sessionmaker[Session]
    readers: sessionmaker[Session]
    clock: Callable[[], int]

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        with self.writers.begin() as session:
            yield session

    @contextmanager
    def reading(self) -> Iterator[Session]:
        with self.readers.begin() as session:
            yield session

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
        with self.transaction() as session:
            return record(
                session, self.clock(), username, action, target, outcome, detail or {}, address
            )

    @contextmanager
    def audited(
        self, action: str, target: str | None, actor: str | None, address: str | None
    ) -> Iterator[AuditTarget]:
        """Record a refused change (AccountError) with its code, then re-raise it."""
        holder = AuditTarget(target)
        try:
            yield holder
        except AccountError as exc:
            self.audit(actor, action, holder.value, REFUSED, {"code": exc.code.value}, address)
            raise

    def audit_entries(
        self,
        limit: int = 100,
        before_id: int | None = None,
        filters: AuditFilter | None = None,
    ) -> list[AuditEntry]:
        """Newest first; pass the last id seen as ``before_id`` for the next page.
        ``filters`` come from :func:`audit_filter`; a ``limit`` outside ``1..PAGE_LIMIT``
        is refused (:class:`AuditFilterError`)."""
        with self.reading() as session:
            return read_audit(session, filters, limit=limit, before_id=before_id)


def lock_user(session: Session, name: str) -> User:
    """The user's row, locked until the transaction ends; or ``AccountError(unknown_user)``."""
    user = session.scalars(
        select(User).where(User.username == name).with_for_update()
    ).one_or_none()
    if user is None:
        raise unknown_user(name)
    return user


def user_info(user: User, now: int) -> UserInfo:
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
        locked_until_ms=user.locked_until_ms if is_locked(user, now) else None,
        locked=is_locked(user, now),
        created_ms=user.created_ms,
        password_changed_ms=user.password_changed_ms,
    )


def is_locked(user: User, now: int) -> bool:
    return user.locked_until_ms is not None and user.locked_until_ms > now


def unknown_user(name: str) -> AccountError:
    return AccountError(ErrorCode.UNKNOWN_USER, f"no user named {name!r}; see 'hotline user list'")


__all__ = ["AccountStore", "AuditTarget", "is_locked", "lock_user", "unknown_user", "user_info"]
