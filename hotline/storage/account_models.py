"""Tables of the operator console's accounts: users, their browser sessions, and the
audit log of everything done to them (and of every login, allowed or refused).

No secret is stored in a form that can be replayed: passwords are argon2id hashes and a
session is stored under the SHA-256 of its token. The one exception is the TOTP secret,
which the server needs in clear to compute codes; it is readable only by whoever can
read the database.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .models import Base


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64))
    display_name: Mapped[str] = mapped_column(String(128))
    role: Mapped[str] = mapped_column(String(32))
    language: Mapped[str] = mapped_column(String(16))  # en | zh-Hans
    timezone: Mapped[str] = mapped_column(String(64))  # IANA name
    password_hash: Mapped[str] = mapped_column(String(256))
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    # The time step of the last accepted code: a code is never accepted twice.
    totp_last_step: Mapped[int | None]
    disabled: Mapped[bool] = mapped_column(default=False)
    failed_logins: Mapped[int] = mapped_column(default=0)
    locked_until_ms: Mapped[int | None]
    created_ms: Mapped[int]
    password_changed_ms: Mapped[int]
    __table_args__ = (UniqueConstraint("username", name="uq_users_username"),)


class WebSession(Base):
    """A signed-in browser. ``id`` is the SHA-256 (hex) of the cookie's token."""

    __tablename__ = "web_sessions"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_ms: Mapped[int]
    last_seen_ms: Mapped[int]
    expires_ms: Mapped[int]  # the absolute end, whatever the activity
    revoked_ms: Mapped[int | None]
    user_agent: Mapped[str | None] = mapped_column(String(512))
    address: Mapped[str | None] = mapped_column(String(128))


class AuditLog(Base):
    """Who did what to which account, allowed or refused. Rows are only ever added."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    at_ms: Mapped[int]
    username: Mapped[str | None] = mapped_column(String(128), index=True)
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str | None] = mapped_column(String(256))
    outcome: Mapped[str] = mapped_column(String(8))  # ok | refused
    detail: Mapped[dict[str, Any]]
    address: Mapped[str | None] = mapped_column(String(128))
