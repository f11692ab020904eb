"""Passwords: the policy a new password must meet, and argon2id hashing.

Hashing uses argon2-cffi's :class:`PasswordHasher`, whose defaults are argon2id with
RFC 9106's low-memory profile (3 passes over 64 MiB, 4 lanes). Production code calls
:func:`make_hasher` with no arguments; tests pass small parameters to run fast.

Passwords are NFKC-normalised before anything else, so the same passphrase typed with
a different input method (full-width digits, composed or decomposed accents) matches.
"""

from __future__ import annotations

import unicodedata

from argon2 import PasswordHasher
from argon2 import profiles as _profiles
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from .errors import AccountError, ErrorCode

MIN_LENGTH = 12
MAX_LENGTH = 1024

PRODUCTION = _profiles.RFC_9106_LOW_MEMORY
# What make_hasher() uses for parameters not given. Production code never changes it;
# tests that drive the CLI in-process lower it so that argon2 runs in milliseconds.
DEFAULT = PRODUCTION

__all__ = [
    "DEFAULT",
    "MAX_LENGTH",
    "MIN_LENGTH",
    "PRODUCTION",
    "PasswordHasher",
    "check_policy",
    "hash_password",
    "make_hasher",
    "needs_rehash",
    "normalise",
    "verify_password",
]


def make_hasher(
    *,
    time_cost: int | None = None,
    memory_cost: int | None = None,
    parallelism: int | None = None,
) -> PasswordHasher:
    """An argon2id hasher; the defaults are for production (``memory_cost`` is in KiB)."""
    return PasswordHasher(
        time_cost=time_cost or DEFAULT.time_cost,
        memory_cost=memory_cost or DEFAULT.memory_cost,
        parallelism=parallelism or DEFAULT.parallelism,
    )


def normalise(password: str) -> str:
    return unicodedata.normalize("NFKC", password)


def check_policy(password: str, username: str) -> None:
    """Raise ``AccountError(weak_password)`` with the reason if ``password`` is not acceptable."""
    value = normalise(password)
    if len(value) < MIN_LENGTH:
        raise AccountError(
            ErrorCode.WEAK_PASSWORD,
            f"the password is too short: use at least {MIN_LENGTH} characters "
            "(a few unrelated words make a good one)",
        )
    if len(value) > MAX_LENGTH:
        raise AccountError(
            ErrorCode.WEAK_PASSWORD, f"the password is too long: at most {MAX_LENGTH} characters"
        )
    if value.strip().casefold() == username.strip().casefold():
        raise AccountError(ErrorCode.WEAK_PASSWORD, "the password must not be the username")


def hash_password(hasher: PasswordHasher, password: str) -> str:
    return hasher.hash(normalise(password))


def verify_password(hasher: PasswordHasher, password_hash: str, password: str) -> bool:
    """Whether ``password`` matches ``password_hash``; never raises for a mismatch."""
    if len(password) > 4 * MAX_LENGTH:
        password = ""  # still hash something, so the time taken does not tell
    try:
        return hasher.verify(password_hash, normalise(password))
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(hasher: PasswordHasher, password_hash: str) -> bool:
    """Whether the hash was made with other parameters than ``hasher``'s (rehash on login)."""
    try:
        return hasher.check_needs_rehash(password_hash)
    except InvalidHashError:
        return True
