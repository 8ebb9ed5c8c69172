"""Password hashing with argon2id (argon2-cffi), and a check for passwords too weak to accept."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from ..errors import BadRequest

_HASHER = PasswordHasher()
# A hash of a random password: verifying against it costs the same time as a real check, so a
# login for an unknown email takes as long as one for a known email.
_DUMMY = _HASHER.hash("not-a-real-password-0f1e2d3c")
MIN_LENGTH = 10


def hash_password(password: str) -> str:
    check_strength(password)
    return _HASHER.hash(password)


def verify(password_hash: str | None, password: str) -> bool:
    try:
        return _HASHER.verify(password_hash or _DUMMY, password) and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _HASHER.check_needs_rehash(password_hash)


def check_strength(password: str) -> None:
    if not isinstance(password, str) or len(password) < MIN_LENGTH:
        raise BadRequest(f"a password needs at least {MIN_LENGTH} characters", field="password",
                         code="weak_password")
    if len(password) > 1024:
        raise BadRequest("a password can have at most 1024 characters", field="password", code="weak_password")
