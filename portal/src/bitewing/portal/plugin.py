"""Entry point of the patient portal: contributes its blueprint through the ``bitewing_blueprints`` hook."""

from __future__ import annotations

from flask import Blueprint

from bitewing.core.plugins import hookimpl
from bitewing.portal.views import create_blueprint


@hookimpl
def bitewing_blueprints() -> list[Blueprint]:
    """The patient portal at ``/portal``."""
    return [create_blueprint()]
