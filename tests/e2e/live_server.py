"""What the end-to-end fixtures hand to the tests."""

from __future__ import annotations

from dataclasses import dataclass

from bitewing.core.runtime import Runtime


@dataclass(frozen=True)
class LiveServer:
    """The demo app served over HTTP on loopback."""

    url: str
    runtime: Runtime
