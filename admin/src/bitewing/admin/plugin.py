"""Entry point of the admin console: contributes its blueprint through the ``bitewing_blueprints`` hook."""

from __future__ import annotations

from flask import Blueprint

from bitewing.admin.views import create_blueprint
from bitewing.core.plugins import hookimpl


@hookimpl
def bitewing_blueprints() -> list[Blueprint]:
    """The staff console at ``/``."""
    return [create_blueprint()]
