"""Secrets the platform must be able to read back (payment keys, webhook signing secrets) are sealed
with a key derived from TESSERA_SECRET_KEY for their purpose, never stored in clear: a copy of a
database alone does not give them away."""

from __future__ import annotations

import base64
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

__all__ = ["InvalidToken", "seal", "unseal", "fernet"]


@lru_cache(maxsize=16)
def fernet(secret_key: str, purpose: bytes) -> Fernet:
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(secret_key.encode())
    return Fernet(base64.urlsafe_b64encode(derived))


def seal(secret_key: str, purpose: bytes, text: str) -> str:
    return fernet(secret_key, purpose).encrypt(text.encode()).decode()


def unseal(secret_key: str, purpose: bytes, token: str) -> str:
    """Raises ``InvalidToken`` when the token was sealed with another key (or altered)."""
    return fernet(secret_key, purpose).decrypt(token.encode()).decode()
