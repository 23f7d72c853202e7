"""Creating the flask-smorest API at ``/api/v1`` and registering the resource blueprints."""

from __future__ import annotations

from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Blueprint, Flask, Response, send_from_directory
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_smorest import Api
from marshmallow import Schema
from swagger_ui_bundle import swagger_ui_path

from bitewing.core.accounts.api import login_blp, session_blp, tokens_blp, users_blp
from bitewing.core.api.schemas import ProblemSchema
from bitewing.core.audit.api import blp as audit_blp
from bitewing.core.config import Settings
from bitewing.core.deliveries.api import blp as deliveries_blp
from bitewing.core.devices.api import blp as machines_blp
from bitewing.core.images.api import blp as images_blp
from bitewing.core.images.api import patient_images_blp
from bitewing.core.ingest.api import blp as ingest_blp
from bitewing.core.patients.api import blp as patients_blp
from bitewing.core.routing.api import dry_run_blp, rules_blp, targets_blp, types_blp
from bitewing.core.tenancy.api import blp as locations_blp
from bitewing.core.tenancy.settings_api import blp as settings_blp

API_PREFIX = "/api/v1"
RESOURCE_BLUEPRINTS = (
    session_blp,
    login_blp,
    settings_blp,
    locations_blp,
    users_blp,
    machines_blp,
    patients_blp,
    patient_images_blp,
    images_blp,
    ingest_blp,
    types_blp,
    targets_blp,
    rules_blp,
    dry_run_blp,
    deliveries_blp,
    tokens_blp,
    audit_blp,
)


class BitewingApi(Api):
    """The API with problem-details errors documented as the default error body."""

    ERROR_SCHEMA = ProblemSchema


def schema_name(schema: type[Schema] | Schema) -> str | None:
    """Component name of a schema; variants (partial, only, exclude) are inlined instead of renamed."""
    if isinstance(schema, Schema) and (schema.partial or schema.only or schema.exclude):
        return None
    cls = schema if isinstance(schema, type) else type(schema)
    return cls.__name__.removesuffix("Schema")


def api_config(app: Flask) -> None:
    """The flask-smorest settings: OpenAPI 3.1 at /api/v1/openapi.json and Swagger UI at /api/v1/docs, its
    assets served from the installed swagger-ui-bundle (no CDN)."""
    app.config.update(
        API_TITLE="Bitewing API",
        API_VERSION="v1",
        OPENAPI_VERSION="3.1.0",
        OPENAPI_URL_PREFIX=API_PREFIX,
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="docs",
        OPENAPI_SWAGGER_UI_URL=f"{API_PREFIX}/docs-assets/",
        API_SPEC_OPTIONS={
            "info": {
                "description": "REST API of Bitewing. Authenticate with `Authorization: Bearer <token>`."
            },
            "security": [{"bearerAuth": []}, {"sessionCookie": []}],
            "components": {
                "securitySchemes": {
                    "bearerAuth": {"type": "http", "scheme": "bearer"},
                    "sessionCookie": {"type": "apiKey", "in": "cookie", "name": "bitewing_session"},
                }
            },
        },
        PAGINATION_PAGE_SIZE_MAX=100,
    )


docs_assets = Blueprint("api_docs_assets", __name__, url_prefix=f"{API_PREFIX}/docs-assets")


@docs_assets.get("/<path:filename>")
def docs_asset(filename: str) -> Response:
    """A Swagger UI file from the swagger-ui-bundle package."""
    return send_from_directory(swagger_ui_path, filename, max_age=86400)


def init_api(app: Flask, settings: Settings, connector_types: list[str]) -> Api:
    """Build the API, rate-limit sign-in (in Redis when configured) and register every resource.

    `connector_types` (the installed ones) are documented as the allowed values of a target's type.
    """
    api_config(app)
    api = BitewingApi(
        app, spec_kwargs={"marshmallow_plugin": MarshmallowPlugin(schema_name_resolver=schema_name)}
    )
    limiter = Limiter(
        key_func=get_remote_address,
        app=app,
        storage_uri=settings.redis_url or "memory://",
        default_limits=[],
        headers_enabled=True,
    )
    limiter.limit(settings.login_rate_limit)(login_blp)
    app.register_blueprint(docs_assets)
    for blueprint in RESOURCE_BLUEPRINTS:
        api.register_blueprint(blueprint, url_prefix=API_PREFIX + blueprint.url_prefix)
    _document_problem_responses(api)
    api.spec.components.schemas["Target"]["properties"]["connector_type"]["enum"] = connector_types
    app.extensions["bitewing_limiter"] = limiter
    return api


def _document_problem_responses(api: Api) -> None:
    """Errors are served as ``application/problem+json``; the pagination header is a JSON string."""
    for response in api.spec.components.responses.values():
        content = response.get("content", {})
        if "application/json" in content:
            content["application/problem+json"] = content.pop("application/json")
    api.spec.components.headers["PAGINATION"] = {
        "description": "Pagination metadata as a JSON object: total, total_pages, first_page, last_page, page,"
        " previous_page, next_page",
        "schema": {"type": "string"},
    }
