"""API schemas of users, sessions and API tokens."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from bitewing.core.accounts.models import Role
from bitewing.core.api.fields import text
from bitewing.core.auth.passwords import MIN_PASSWORD_LENGTH


class UserSchema(Schema):
    """A staff member (the password is write-only)."""

    id = fields.UUID(dump_only=True)
    email = fields.Email(required=True, validate=validate.Length(max=254))
    full_name = text(required=True, min_length=1, max_length=200)
    role = fields.Enum(Role, by_value=True, required=True)
    password = fields.String(load_only=True, validate=validate.Length(min=MIN_PASSWORD_LENGTH, max=256))
    active = fields.Boolean(dump_only=True)
    location_ids = fields.List(
        fields.UUID(), load_default=list, metadata={"description": "empty: all locations"}
    )
    created_at = fields.DateTime(dump_only=True)


class UserUpdateSchema(UserSchema):
    """Changes to a staff member; every field optional."""

    active = fields.Boolean()
    location_ids = fields.List(fields.UUID())


class UserQuerySchema(Schema):
    """Filters of the user list."""

    role = fields.Enum(Role, by_value=True)
    q = text(max_length=200, metadata={"description": "part of the name or e-mail"})


class LoginSchema(Schema):
    """Staff credentials."""

    email = fields.Email(required=True)
    password = fields.String(required=True, load_only=True, validate=validate.Length(min=1, max=256))


class SessionSchema(Schema):
    """The signed-in user and the CSRF token to send as ``X-CSRF-Token`` on writes."""

    user = fields.Nested(UserSchema, allow_none=True, metadata={"description": "null for API tokens"})
    csrf_token = fields.String(allow_none=True, metadata={"description": "null for API tokens"})


class ApiTokenSchema(Schema):
    """An API token (the secret is returned once, on creation)."""

    id = fields.UUID(dump_only=True)
    name = text(required=True, min_length=1, max_length=120)
    role = fields.Enum(Role, by_value=True, required=True)
    prefix = fields.String(dump_only=True)
    created_at = fields.DateTime(dump_only=True)
    last_used_at = fields.DateTime(dump_only=True, allow_none=True)
    revoked_at = fields.DateTime(dump_only=True, allow_none=True)


class IssuedTokenSchema(ApiTokenSchema):
    """A new token with its secret: store it now, it is never shown again."""

    token = fields.String(dump_only=True)
