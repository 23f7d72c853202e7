"""HTTP endpoints of patients."""

from __future__ import annotations

import uuid
from typing import Any

from flask_smorest import Blueprint

from bitewing.core.api.auth import TenantView
from bitewing.core.patients import services
from bitewing.core.patients.schemas import PatientQuerySchema, PatientSchema

blp = Blueprint("patients", __name__, url_prefix="/patients", description="Patients of the practice group")


@blp.route("")
class Patients(TenantView):
    @blp.arguments(PatientQuerySchema, location="query")
    @blp.response(200, PatientSchema(many=True))
    @blp.paginate()
    def get(self, query: dict[str, Any], pagination_parameters: Any) -> list[Any]:
        """Search patients by name, chart number, birth date, location or dentist"""
        page = services.search_patients(
            self.uow,
            self.actor,
            page=pagination_parameters.page,
            per_page=pagination_parameters.page_size,
            **query,
        )
        pagination_parameters.item_count = page.total
        return page.items

    @blp.arguments(PatientSchema)
    @blp.response(201, PatientSchema)
    def post(self, data: dict[str, Any]) -> Any:
        """Register a patient"""
        return services.create_patient(self.uow, self.actor, **data)


@blp.route("/<uuid:patient_id>")
class PatientItem(TenantView):
    @blp.response(200, PatientSchema)
    def get(self, patient_id: uuid.UUID) -> Any:
        """Get a patient"""
        return services.get_patient(self.uow, self.actor, patient_id)

    @blp.arguments(PatientSchema(partial=True))
    @blp.response(200, PatientSchema)
    def patch(self, data: dict[str, Any], patient_id: uuid.UUID) -> Any:
        """Change a patient's details"""
        return services.update_patient(self.uow, self.actor, patient_id, **data)
