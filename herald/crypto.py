"""Secrets at rest: token encryption and API-token hashing."""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

API_TOKEN_PREFIX = "hld_"


def _fernet(secret_key: str) -> Fernet:
    key = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"herald social tokens v1"
    ).derive(secret_key.encode())
    return Fernet(base64.urlsafe_b64encode(key))


class TokenCipher:
    """Encrypts platform tokens with a key derived from HERALD_SECRET_KEY.

    `old_keys` (HERALD_OLD_SECRET_KEYS) still decrypt what they encrypted; everything new
    is encrypted with the current key, and `rotate` re-encrypts an old value with it.
    """

    def __init__(self, secret_key: str, old_keys: Sequence[str] = ()) -> None:
        self._current = _fernet(secret_key)
        self._fernet = MultiFernet([self._current, *(_fernet(k) for k in old_keys)])

    def encrypt(self, value: str) -> str:
        return self._current.encrypt(value.encode()).decode()

    def decrypt(self, value: str) -> str:
        try:
            return self._fernet.decrypt(value.encode()).decode()
        except InvalidToken:
            raise ValueError(
                "a stored token cannot be decrypted: HERALD_SECRET_KEY differs from the one "
                "it was saved with (the key before it belongs in HERALD_OLD_SECRET_KEYS)"
            ) from None

    def is_current(self, value: str) -> bool:
        """Whether the current key encrypted `value` (else an old key did, or none)."""
        try:
            self._current.decrypt(value.encode())
        except InvalidToken:
            return False
        return True

    def rotate(self, value: str) -> str:
        """`value` encrypted with the current key (decrypted with whichever key made it)."""
        try:
            return self._fernet.rotate(value.encode()).decode()
        except InvalidToken:
            raise ValueError("a stored value cannot be decrypted with HERALD_SECRET_KEY or "
                             "any of HERALD_OLD_SECRET_KEYS") from None


def new_api_token() -> str:
    return API_TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_api_token(token: str) -> str:
    # API tokens are 256 random bits, so a fast hash is enough; a slow KDF guards
    # low-entropy secrets like passwords, and would cost every API request.
    return hashlib.sha256(token.encode()).hexdigest()
