from __future__ import annotations

from flask import current_app, g, request, session
from flask_login import current_user, login_user, logout_user

from casework.auth import schemas, service
from casework.extensions import limiter
from casework.http import Blueprint
from casework.pagination import page_of

blp = Blueprint("auth", __name__, url_prefix="/api/v1/auth", description="Sessions and personal API tokens")

TokenPage = page_of(schemas.TokenSchema, "TokenPage")


def _login_limit() -> str:
    return current_app.config["CASEWORK_LOGIN_LIMIT"]


def _login_username() -> str:
    body = request.get_json(silent=True)
    name = body.get("username") if isinstance(body, dict) else None
    return f"login-user:{str(name)[:64]}" if name else f"login-ip:{request.remote_addr}"


@blp.route("/login", methods=["POST"])
@limiter.limit(_login_limit)
@limiter.limit(_login_limit, key_func=_login_username)
@blp.arguments(schemas.LoginSchema)
@blp.response(200, schemas.MeSchema)
def login(data):
    """Start a session (cookie). Failures are generic and throttled per address and per username."""
    new = service.login(data["username"], data["password"], previous_session=session.get("sid"),
                        lifetime_seconds=current_app.config["PERMANENT_SESSION_LIFETIME"])
    session.clear()  # a fresh session (and id) on every login: no fixation
    session.permanent = True
    session["sid"], session["csrf"] = new.secret, new.csrf_token
    login_user(new.user)
    g.auth_method = "session"
    return service.me(new.user, auth_method="session", csrf_token=new.csrf_token)


@blp.route("/logout", methods=["POST"])
@blp.response(204)
def logout():
    service.logout(current_user.id, session.get("sid"))
    logout_user()
    session.clear()


@blp.route("/me", methods=["GET"])
@blp.response(200, schemas.MeSchema)
def me():
    return service.whoami(current_user, auth_method=g.get("auth_method"), csrf_token=session.get("csrf"))


@blp.route("/tokens", methods=["POST"])
@blp.arguments(schemas.TokenCreateSchema)
@blp.response(201, schemas.NewTokenSchema)
def create_token(data):
    """Create a personal API token; the token is in this answer only."""
    return service.create_token(current_user, data["name"], data["expires_in_days"])


@blp.route("/tokens", methods=["GET"])
@blp.arguments(schemas.TokenListArgs, location="query")
@blp.response(200, TokenPage)
def list_tokens(args):
    """Your tokens; admins may name another user's."""
    return service.list_tokens(args.pop("user_id", current_user.id), args)


@blp.route("/tokens/<int:token_id>", methods=["DELETE"])
@blp.response(204)
def revoke_token(token_id):
    service.revoke_token(token_id)
