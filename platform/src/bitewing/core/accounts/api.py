"""HTTP endpoints of staff users, API tokens and sign-in sessions."""

from __future__ import annotations

import uuid
from typing import Any

from flask import g, make_response
from flask_smorest import Blueprint

from bitewing.core.accounts import services
from bitewing.core.accounts.models import Role
from bitewing.core.accounts.schemas import (
    ApiTokenSchema,
    IssuedTokenSchema,
    LoginSchema,
    SessionSchema,
    UserQuerySchema,
    UserSchema,
    UserUpdateSchema,
)
from bitewing.core.api.auth import SESSION_COOKIE, TenantView, anonymous_uow, client_ip, runtime

users_blp = Blueprint("users", __name__, url_prefix="/users", description="Staff of the practice group")
tokens_blp = Blueprint("tokens", __name__, url_prefix="/tokens", description="API tokens (owners)")
session_blp = Blueprint("session", __name__, url_prefix="/session", description="Staff sessions")
login_blp = Blueprint("login", __name__, url_prefix="/session", description="Staff sign-in (rate-limited)")


@users_blp.route("")
class Users(TenantView):
    @users_blp.arguments(UserQuerySchema, location="query")
    @users_blp.response(200, UserSchema(many=True))
    @users_blp.paginate()
    def get(self, query: dict[str, Any], pagination_parameters: Any) -> list[Any]:
        """List staff"""
        page = services.list_users(
            self.uow, page=pagination_parameters.page, per_page=pagination_parameters.page_size, **query
        )
        pagination_parameters.item_count = page.total
        return page.items

    @users_blp.arguments(UserSchema)
    @users_blp.response(201, UserSchema)
    def post(self, data: dict[str, Any]) -> Any:
        """Add a staff member (owners)"""
        return services.create_user(self.uow, self.actor, **data)


@users_blp.route("/<uuid:user_id>")
class UserItem(TenantView):
    @users_blp.response(200, UserSchema)
    def get(self, user_id: uuid.UUID) -> Any:
        """Get a staff member"""
        return services.get_user(self.uow, user_id)

    @users_blp.arguments(UserUpdateSchema(partial=True))
    @users_blp.response(200, UserSchema)
    def patch(self, data: dict[str, Any], user_id: uuid.UUID) -> Any:
        """Change a staff member (owners); deactivating or a new password ends their sessions"""
        return services.update_user(self.uow, self.actor, user_id, **data)


@tokens_blp.route("")
class Tokens(TenantView):
    @tokens_blp.response(200, ApiTokenSchema(many=True))
    @tokens_blp.paginate()
    def get(self, pagination_parameters: Any) -> list[Any]:
        """List API tokens"""
        self.actor.require({Role.OWNER})
        page = services.list_api_tokens(
            self.uow, page=pagination_parameters.page, per_page=pagination_parameters.page_size
        )
        pagination_parameters.item_count = page.total
        return page.items

    @tokens_blp.arguments(ApiTokenSchema)
    @tokens_blp.response(201, IssuedTokenSchema)
    def post(self, data: dict[str, Any]) -> Any:
        """Issue an API token (owners); the secret is in the response only"""
        issued = services.create_api_token(self.uow, self.actor, **data)
        return {name: getattr(issued.token, name) for name in ApiTokenSchema().fields} | {
            "token": issued.secret
        }


@tokens_blp.route("/<uuid:token_id>")
class TokenItem(TenantView):
    @tokens_blp.response(200, ApiTokenSchema)
    def delete(self, token_id: uuid.UUID) -> Any:
        """Revoke an API token (owners)"""
        return services.revoke_api_token(self.uow, self.actor, token_id)


def _cookie_secure() -> bool:
    return runtime().settings.public_url.startswith("https://")


@session_blp.route("")
class Session(TenantView):
    @session_blp.response(200, SessionSchema)
    def get(self) -> Any:
        """The signed-in user"""
        user = services.get_user(self.uow, self.actor.id) if self.actor.kind == "user" else None
        return {"user": user, "csrf_token": g.user_session.csrf_token if "user_session" in g else None}

    @session_blp.response(204)
    def delete(self) -> Any:
        """Sign out; ends the session and clears its cookie"""
        if "user_session" in g:
            services.logout(self.uow, g.user_session)
        response = make_response("", 204)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response


@login_blp.route("/login", methods=["POST"])
@login_blp.arguments(LoginSchema)
@login_blp.response(200, SessionSchema)
def login(data: dict[str, Any]) -> Any:
    """Sign in with e-mail and password; sets the session cookie"""
    uow = anonymous_uow(login_email=services.normalize_email(data["email"]))
    result = services.login(uow, data["email"], data["password"], client_ip())
    body = SessionSchema().dump({"user": result.user, "csrf_token": result.csrf_token})
    response = make_response(body, 200)
    response.set_cookie(
        SESSION_COOKIE, result.session_token, httponly=True, samesite="Lax", secure=_cookie_secure(), path="/"
    )
    return response
