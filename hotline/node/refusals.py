"""Refusals with a stable code, and the audit rows that record who did what on a link.

Every operator action on policies, channels, escalation and link tests is audited in
the accounts' audit log: a success in the same transaction as the change, a refusal
in a transaction of its own (nothing else changed) and in the log.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from ..protocol.errors import ProtocolError
from ..storage.account_models import AuditLog
from .clock import now_ms
from .home import NodeError

if TYPE_CHECKING:
    from .service import Node

log = logging.getLogger("hotline.rules")


class Refused(NodeError):
    """An operator's request refused: ``code`` is stable, ``detail`` says what to do."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"{detail} ({code})")
        self.code = code
        self.detail = detail


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
def audited(node: Node, actor: str, action: str, target: str | None) -> Iterator[None]:
    """Turn a protocol refusal into :class:`Refused`; audit and log every refusal."""
    try:
        try:
            yield
        except ProtocolError as exc:
            raise Refused(exc.code.value, exc.detail) from None
    except Refused as exc:
        log.warning("refused %s on %s by %s: %s (%s)", action, target, actor, exc.detail, exc.code)
        with node.transaction() as session:
            audit(
                session,
                actor=actor,
                action=action,
                target=target,
                outcome="refused",
                detail={"code": exc.code, "detail": exc.detail},
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
