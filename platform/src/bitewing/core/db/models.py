"""Imports every model module so `Base.metadata` is complete (alembic, tests)."""

from bitewing.core.accounts import models as accounts_models
from bitewing.core.audit import models as audit_models
from bitewing.core.db.base import Base
from bitewing.core.deliveries import models as deliveries_models
from bitewing.core.devices import models as devices_models
from bitewing.core.images import models as images_models
from bitewing.core.ingest import models as ingest_models
from bitewing.core.patients import models as patients_models
from bitewing.core.routing import models as routing_models
from bitewing.core.tenancy import models as tenancy_models

MODEL_MODULES = (
    tenancy_models,
    accounts_models,
    patients_models,
    audit_models,
    devices_models,
    ingest_models,
    images_models,
    routing_models,
    deliveries_models,
)
metadata = Base.metadata

__all__ = ["MODEL_MODULES", "metadata"]
