"""Refusals with a stable code, and the audit rows that record who did what on a link.

Every operator action on policies, channels, escalation and link tests is audited in
the accounts' audit log: a success in the same transaction as the change, a refusal
in a transaction of its own (nothing else changed) and in the log.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any, Protocol

from sqlalchemy.orm import Session

from .. import errors
from ..clock import now_ms
from ..errors import Reason
from ..protocol.errors import ProtocolError
from ..storage.account_models import AuditLog
from .home import NodeError

log = logging.getLogger("hotline.rules")


class Refused(errors.Refused, NodeError):
    """:class:`hotline.errors.Refused`, also caught where callers still catch
    NodeError (the name the node's errors had before the vocabulary was one)."""


class Transactional(Protocol):
    """What :func:`audited` needs of the node: a write transaction of its own."""

    def transaction(self) -> AbstractContextManager[Session]: ...


def audit(
    session: Session,
    *,
    actor: str,
    action: str,
    target: str | None,
    outcome: str,
    detail: dict[str, Any],
    now: int,
) -> None:
    session.add(
        AuditLog(
            at_ms=now,
            username=actor[:128],
            action=action[:64],
            target=None if target is None else target[:256],
            outcome=outcome,
            detail=detail,
            address=None,
        )
    )


@contextmanager
def audited(node: Transactional, actor: str, action: str, target: str | None) -> Iterator[None]:
    """Turn a protocol refusal into :class:`Refused`; audit and log every refusal."""
    try:
        try:
            yield
        except ProtocolError as exc:
            raise Refused(Reason(exc.code.value), exc.detail) from None
    except Refused as exc:
        log.warning("refused %s on %s by %s: %s (%s)", action, target, actor, exc.detail, exc.code)
        with node.transaction() as session:
            audit(
                session,
                actor=actor,
                action=action,
                target=target,
                outcome="refused",
                detail={"code": exc.reason.value, "detail": exc.detail},
                now=now_ms(),
            )
        raise


def jsonable(value: Any) -> Any:
    """A CBOR value as JSON (bytes as hex), for storing a peer's document as received."""
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, list):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    return value
