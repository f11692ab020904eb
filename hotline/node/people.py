"""Who acts on the node: a :class:`Person` at a console, or an actor string such as
``"cli:alice"`` (the command line, the local API's token: the node's custodian).
:func:`actor_of` is the name an action is recorded under, and :func:`require` refuses
a person whose role lacks the permission (an actor string holds every one)."""

from __future__ import annotations

from dataclasses import dataclass

from ..accounts.roles import Permission, allowed
from ..errors import Reason
from .refusals import Refused


@dataclass(frozen=True)
class Person:
    """Who acts: the account's username, shown name and role (recorded in entries)."""

    username: str
    display_name: str
    role: str

    @property
    def label(self) -> str:
        return f"{self.display_name} ({self.role.replace('_', ' ')})"


def actor_of(who: Person | str) -> str:
    return who if isinstance(who, str) else who.username


def require(who: Person | str, permission: Permission) -> None:
    if not isinstance(who, str) and not allowed(who.role, permission):
        raise Refused(
            Reason.FORBIDDEN, f"the role {who.role} may not {permission.value.replace('_', ' ')}"
        )
