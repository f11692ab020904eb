"""Leases: at most one process delivers a given link's outbox at a time."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ...storage.models import Lease

LEASE_MS = 10_000


def acquire(session: Session, name: str, holder: str, now_ms: int) -> bool:
    """Take or renew the lease; True if ``holder`` has it until ``now_ms + LEASE_MS``."""
    taken = session.execute(
        update(Lease)
        .where(Lease.name == name, (Lease.holder == holder) | (Lease.expires_ms < now_ms))
        .values(holder=holder, expires_ms=now_ms + LEASE_MS)
    )
    if taken.rowcount:  # type: ignore[attr-defined]
        return True
    if session.get(Lease, name) is not None:
        return False
    try:
        with session.begin_nested():
            session.add(Lease(name=name, holder=holder, expires_ms=now_ms + LEASE_MS))
    except IntegrityError:
        return False
    return True
