"""API schemas of users, sessions and API tokens."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from bitewing.core.accounts.models import Role


class UserSchema(Schema):
    """A staff member (the password is write-only)."""

    id = fields.UUID(dump_only=True)
    email = fields.Email(required=True, validate=validate.Length(max=254))
    full_name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    role = fields.Enum(Role, by_value=True, required=True)
    password = fields.String(load_only=True, validate=validate.Length(min=1, max=256))
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
    q = fields.String(metadata={"description": "part of the name or e-mail"})


class LoginSchema(Schema):
    """Staff credentials."""

    email = fields.Email(required=True)
    password = fields.String(required=True, load_only=True, validate=validate.Length(min=1, max=256))


class SessionSchema(Schema):
    """The signed-in user and the CSRF token to send as ``X-CSRF-Token`` on writes."""

    user = fields.Nested(UserSchema)
    csrf_token = fields.String()


class ApiTokenSchema(Schema):
    """An API token (the secret is returned once, on creation)."""

    id = fields.UUID(dump_only=True)
    name = fields.String(required=True, validate=validate.Length(min=1, max=120))
    role = fields.Enum(Role, by_value=True, required=True)
    prefix = fields.String(dump_only=True)
    created_at = fields.DateTime(dump_only=True)
    last_used_at = fields.DateTime(dump_only=True, allow_none=True)
    revoked_at = fields.DateTime(dump_only=True, allow_none=True)


class IssuedTokenSchema(ApiTokenSchema):
    """A new token with its secret: store it now, it is never shown again."""

    token = fields.String(dump_only=True)
