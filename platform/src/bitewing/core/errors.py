"""Domain errors raised by services; the HTTP layer maps each to one status in one place."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class DomainError(Exception):
    """Base of the errors a service raises for a caller's mistake or a refused action."""

    def __init__(self, message: str, *, errors: Mapping[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.errors = dict(errors or {})


class NotFound(DomainError):
    """The record does not exist for this tenant (another tenant's record is reported the same way)."""


class Conflict(DomainError):
    """The write clashes with existing data (a duplicate chart number, e-mail, name)."""


class Invalid(DomainError):
    """The request is well-formed but its values are not acceptable."""


class Unauthenticated(DomainError):
    """No valid credentials were presented."""


class Forbidden(DomainError):
    """The caller is known but may not do this."""


class RateLimited(DomainError):
    """Too many attempts; try again later."""
