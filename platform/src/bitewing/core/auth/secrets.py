"""Random bearer secrets (API tokens, session tokens, share links) and their stored hashes."""

from __future__ import annotations

import hashlib
import secrets


def new_secret(prefix: str) -> str:
    """A new secret with 256 bits of randomness, prefixed for recognisability (``bwt_...``)."""
    return f"{prefix}_{secrets.token_urlsafe(32)}"


def secret_hash(secret: str) -> str:
    """The SHA-256 hex digest stored in place of `secret` (secrets are high-entropy: no slow hash needed)."""
    return hashlib.sha256(secret.encode()).hexdigest()
