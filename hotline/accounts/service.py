"""The accounts service: the one object the console, the local API and the command line
call for users, logins, console sessions and the audit log.

It only composes: :class:`~hotline.accounts.users.Users`,
:class:`~hotline.accounts.login.Logins` and
:class:`~hotline.accounts.sessions.ConsoleSessions` share one
:class:`~hotline.accounts.store.AccountStore`, and each public method here is theirs.

Everything lives in the node's database and nothing in the process, so any number of
server processes may serve one node over one PostgreSQL database. Each change writes
its audit row in the same transaction as the change; a refused change writes a
``refused`` row (in its own transaction, as nothing changed).

Permissions are the caller's to check (see :mod:`hotline.accounts.roles`): the service
does what it is asked and records who asked (``actor``: a username, or ``cli:<os user>``
for the command line, ``system:init`` for ``hotline init``).
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session, sessionmaker

from ..clock import now_ms
from .login import Logins
from .passwords import PasswordHasher, make_hasher
from .policy import AccountPolicy
from .sessions import ConsoleSessions
from .sessions import check_csrf as _check_csrf
from .store import AccountStore
from .users import Users


class AccountService:
    """Accounts over a node's database.

    ``sessions`` makes write transactions; ``readers``, if given, read-only ones (on
    SQLite, pass ``make_sessionmaker(engine, read_only=True)``, so that a
    session lookup on every request does not take the write lock). ``clock`` returns
    milliseconds since the epoch; ``hasher`` defaults to production argon2id;
    ``party`` names the issuer in TOTP URIs ("Hotline <party>")."""

    check_csrf = staticmethod(_check_csrf)

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
        store = AccountStore(sessions, readers or sessions, clock)
        hasher = hasher or make_hasher()
        self.policy = policy = policy or AccountPolicy()
        self.party = party

        users = Users(store, hasher, party)
        self.add_user = users.add_user
        self.check_new_user = users.check_new_user
        self.list_users = users.list_users
        self.get_user = users.get_user
        self.update_user = users.update_user
        self.disable_user = users.disable_user
        self.enable_user = users.enable_user
        self.set_password = users.set_password
        self.enable_totp = users.enable_totp
        self.disable_totp = users.disable_totp

        self.authenticate = Logins(store, hasher, policy).authenticate

        console = ConsoleSessions(store, policy)
        self.create_session = console.create_session
        self.lookup_session = console.lookup_session
        self.revoke_session = console.revoke_session
        self.revoke_all_sessions_for = console.revoke_all_sessions_for
        self.prune_sessions = console.prune_sessions

        self.audit = store.audit
        self.audit_entries = store.audit_entries


__all__ = ["AccountService"]
