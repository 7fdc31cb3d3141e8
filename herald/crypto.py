"""Secrets at rest: token encryption and API-token hashing."""

from __future__ import annotations

import base64
import hashlib
import secrets

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

API_TOKEN_PREFIX = "hld_"


class TokenCipher:
    """Encrypts platform tokens with a key derived from HERALD_SECRET_KEY."""

    def __init__(self, secret_key: str) -> None:
        key = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None, info=b"herald social tokens v1"
        ).derive(secret_key.encode())
        self._fernet = Fernet(base64.urlsafe_b64encode(key))

    def encrypt(self, value: str) -> str:
        return self._fernet.encrypt(value.encode()).decode()

    def decrypt(self, value: str) -> str:
        try:
            return self._fernet.decrypt(value.encode()).decode()
        except InvalidToken:
            raise ValueError(
                "a stored token cannot be decrypted: HERALD_SECRET_KEY differs from the one "
                "it was saved with"
            ) from None


def new_api_token() -> str:
    return API_TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_api_token(token: str) -> str:
    # API tokens are 256 random bits, so a fast hash is enough; a slow KDF guards
    # low-entropy secrets like passwords, and would cost every API request.
    return hashlib.sha256(token.encode()).hexdigest()
