"""Encrypting secrets at rest (VNA passwords, tokens) with a key derived from the app's secret key."""

from __future__ import annotations

import base64
import json
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_INFO = b"bitewing secrets v1"


class SecretsUnreadable(Exception):
    """Stored secrets cannot be decrypted (the secret key changed?)."""


def _fernet(secret_key: str) -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(secret_key.encode())
    return Fernet(base64.urlsafe_b64encode(key))


def encrypt_json(secret_key: str, values: dict[str, Any]) -> str:
    """An authenticated, encrypted token holding `values`."""
    return _fernet(secret_key).encrypt(json.dumps(values).encode()).decode()


def decrypt_json(secret_key: str, token: str | None) -> dict[str, Any]:
    """The values of a token made by `encrypt_json` (empty for no token)."""
    if not token:
        return {}
    try:
        return json.loads(_fernet(secret_key).decrypt(token.encode()))
    except InvalidToken as exc:
        raise SecretsUnreadable("stored connection secrets cannot be decrypted with this secret key") from exc
