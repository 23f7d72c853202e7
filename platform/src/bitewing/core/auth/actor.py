"""The principal a request or job acts as, and role checks."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field

from bitewing.core.accounts.models import Role
from bitewing.core.errors import Forbidden

STAFF_ROLES = frozenset(Role)
CLINICAL_ROLES = frozenset({Role.OWNER, Role.DENTIST, Role.HYGIENIST})


@dataclass(frozen=True)
class Actor:
    """Who acts: a staff user (session), an API token, or the system (jobs, CLI)."""

    tenant_id: uuid.UUID
    kind: str
    id: uuid.UUID | None
    role: Role | None
    name: str = ""
    location_ids: tuple[uuid.UUID, ...] = field(default_factory=tuple)
    ip: str | None = None

    def require(self, roles: Iterable[Role]) -> None:
        """Raise `Forbidden` unless the actor has one of `roles` (the system may do anything)."""
        if self.kind == "system":
            return
        allowed = set(roles)
        if self.role not in allowed:
            names = ", ".join(sorted(r.value for r in allowed))
            raise Forbidden(f"this action needs one of the roles: {names}")


def system_actor(tenant_id: uuid.UUID, name: str = "system") -> Actor:
    """The actor of background jobs and operator commands."""
    return Actor(tenant_id=tenant_id, kind="system", id=None, role=None, name=name)
