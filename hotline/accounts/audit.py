"""The audit log: the row each change writes, in the change's own transaction, and
reading it back with the filters an operator may give, checked in one place, in the
query both the console's audit page and ``hotline audit`` run.

The filters arrive as text (a form, a command line) and are checked before anything is
read: an unknown outcome, a date that is not a date, a range that ends before it
starts or an oversized string is refused with :class:`AuditFilterError`, whose
``field`` tells the console which translated message to show and whose ``message``
the command line prints.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session

from ..storage.account_models import AuditLog
from .errors import AccountError, ErrorCode
from .profile import clean_text, normalise_username
from .results import PAGE_LIMIT, AuditEntry

OK = "ok"
REFUSED = "refused"
OUTCOMES = (OK, REFUSED)
MAX_USERNAME_FILTER = 128  # the column's width
MAX_ACTION_FILTER = 64
MAX_DATE_TEXT = 40


class AuditFilterError(AccountError):
    """A filter that cannot be used; nothing was read. ``field`` is one of ``user``,
    ``action``, ``outcome``, ``since``, ``until``, ``range``, ``before``, ``limit``."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(ErrorCode.INVALID_FILTER, message)
        self.field = field


@dataclass(frozen=True)
class AuditFilter:
    """Which rows to read. ``action`` is a prefix (``user.`` finds every account change);
    ``since_ms`` is inclusive and ``until_ms`` exclusive."""

    username: str | None = None
    action: str | None = None
    outcome: str | None = None
    since_ms: int | None = None
    until_ms: int | None = None

    @property
    def empty(self) -> bool:
        return self == AuditFilter()


def record(
    session: Session,
    now: int,
    username: str | None,
    action: str,
    target: str | None,
    outcome: str,
    detail: dict[str, Any],
    address: str | None,
) -> int:
    """Add a row to the log in the caller's transaction; returns its id. Texts are made
    printable and cut to their columns; never put a password, token or secret in ``detail``."""
    if outcome not in OUTCOMES:
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


def audit_filter(
    *,
    username: str | None = None,
    action: str | None = None,
    outcome: str | None = None,
    since: str | None = None,
    until: str | None = None,
    time_zone: str = "UTC",
    until_inclusive_day: bool = True,
) -> AuditFilter:
    """Check filters given as text; empty strings mean "any".

    ``since`` and ``until`` are dates (``2026-12-01``) or times (``2026-12-01T09:30``,
    with or without an offset); without an offset they are in ``time_zone``. A date as
    ``until`` includes that whole day (unless ``until_inclusive_day`` is off)."""
    user = _text(username, MAX_USERNAME_FILTER, "user", "user name")
    prefix = _text(action, MAX_ACTION_FILTER, "action", "action")
    result = (outcome or "").strip().lower() or None
    if result is not None and result not in OUTCOMES:
        raise AuditFilterError("outcome", f"outcome must be one of {', '.join(OUTCOMES)}")
    zone = _zone(time_zone)
    since_ms = _moment(since, zone, "since", end_of_day=False)
    until_ms = _moment(until, zone, "until", end_of_day=until_inclusive_day)
    if since_ms is not None and until_ms is not None and until_ms <= since_ms:
        raise AuditFilterError("range", "the time range ends before it begins")
    return AuditFilter(user, prefix, result, since_ms, until_ms)


def parse_before(value: str | None) -> int | None:
    """The page cursor: the id of the last row of the previous page."""
    text = (value or "").strip()
    if not text:
        return None
    if not text.isdigit() or len(text) > 18:
        raise AuditFilterError("before", "the page cursor must be a row id")
    return int(text)


def read_audit(
    session: Session,
    filters: AuditFilter | None = None,
    *,
    limit: int = 100,
    before_id: int | None = None,
) -> list[AuditEntry]:
    """Newest first; pass the last id seen as ``before_id`` for the next page."""
    if not 1 <= limit <= PAGE_LIMIT:
        raise AuditFilterError("limit", f"the limit must be between 1 and {PAGE_LIMIT}")
    query = _where(select(AuditLog), filters or AuditFilter())
    if before_id is not None:
        query = query.where(AuditLog.id < before_id)
    query = query.order_by(AuditLog.id.desc()).limit(limit)
    return [
        AuditEntry(
            id=row.id,
            at_ms=row.at_ms,
            username=row.username,
            action=row.action,
            target=row.target,
            outcome=row.outcome,
            detail=dict(row.detail),
            address=row.address,
        )
        for row in session.scalars(query)
    ]


def _where(query: Select[AuditLog], f: AuditFilter) -> Select[AuditLog]:
    if f.username is not None:
        names = {f.username, normalise_username(f.username)}
        query = query.where(or_(*(AuditLog.username == n for n in sorted(names))))
    if f.action is not None:
        query = query.where(AuditLog.action.startswith(f.action, autoescape=True))
    if f.outcome is not None:
        query = query.where(AuditLog.outcome == f.outcome)
    if f.since_ms is not None:
        query = query.where(AuditLog.at_ms >= f.since_ms)
    if f.until_ms is not None:
        query = query.where(AuditLog.at_ms < f.until_ms)
    return query


def _text(value: str | None, limit: int, field: str, what: str) -> str | None:
    text = (value or "").strip()
    if not text:
        return None
    if len(text) > limit:
        raise AuditFilterError(field, f"the {what} is too long (at most {limit} characters)")
    if any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise AuditFilterError(field, f"the {what} contains control characters")
    return text


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _moment(value: str | None, zone: ZoneInfo, field: str, *, end_of_day: bool) -> int | None:
    text = (value or "").strip()
    if not text:
        return None
    problem = f"{field} must be a date (YYYY-MM-DD) or a time (YYYY-MM-DDTHH:MM), not {text[:40]!r}"
    if len(text) > MAX_DATE_TEXT:
        raise AuditFilterError(field, problem)
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            moment = datetime.combine(day, time(0), tzinfo=zone)
            if end_of_day:
                moment = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
        else:
            moment = datetime.fromisoformat(text)
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=zone)
    except (ValueError, OverflowError):
        raise AuditFilterError(field, problem) from None
    return int(moment.astimezone(UTC).timestamp() * 1000)


__all__ = [
    "OK",
    "OUTCOMES",
    "PAGE_LIMIT",
    "REFUSED",
    "AuditFilter",
    "AuditFilterError",
    "audit_filter",
    "parse_before",
    "read_audit",
    "record",
]
