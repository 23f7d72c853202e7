"""Supported presentation contexts that are cheap to copy for each association.

For every association it accepts, pynetdicom deep-copies all of the server's supported contexts. The
listener supports every storage SOP class with its transfer syntaxes (171 contexts, 2,723 UIDs), and
deep-copying a pydicom `UID` builds and validates a new one: 64-120 ms per association on a 2-core host,
more than storing an X-ray durably, and X-ray sensors often open one association per image. UIDs are
immutable strings, so a copy can share them and copy only the lists it may change.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pynetdicom.presentation import PresentationContext


class SharedUidContext(PresentationContext):
    """A presentation context whose deep copy shares its (immutable) UIDs and copies its lists."""

    def __deepcopy__(self, memo: dict[int, Any]) -> SharedUidContext:
        twin = type(self).__new__(type(self))
        twin.__dict__.update({k: list(v) if isinstance(v, list) else v for k, v in vars(self).items()})
        return twin


def shared_uid_contexts(contexts: Iterable[PresentationContext]) -> list[SharedUidContext]:
    """`contexts` as `SharedUidContext`s with the same syntaxes and roles (validated once, here)."""
    shared = []
    for context in contexts:
        twin = SharedUidContext()
        twin.abstract_syntax = context.abstract_syntax
        twin.transfer_syntax = list(context.transfer_syntax)
        twin.scu_role, twin.scp_role = context.scu_role, context.scp_role
        shared.append(twin)
    return shared
