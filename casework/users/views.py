from __future__ import annotations

from casework.http import Blueprint
from casework.pagination import page_of
from casework.users import schemas, service

blp = Blueprint("users", __name__, url_prefix="/api/v1/users", description="User accounts (admins)")

UserPage = page_of(schemas.UserSchema, "UserPage")


@blp.route("", methods=["POST"])
@blp.arguments(schemas.UserCreateSchema)
@blp.response(201, schemas.UserSchema)
def create_user(data):
    """Create an account (admins).

    Its user must change the password you chose at their first login.
    """
    return service.create_user(data)


@blp.route("", methods=["GET"])
@blp.arguments(schemas.UserListArgs, location="query")
@blp.response(200, UserPage)
def list_users(args):
    """List accounts (admins)."""
    return service.list_users(args)


@blp.route("/<int:user_id>", methods=["GET"])
@blp.response(200, schemas.UserSchema)
def get_user(user_id):
    """Read an account (admins)."""
    return service.get_user(user_id)


@blp.route("/<int:user_id>", methods=["PATCH"])
@blp.arguments(schemas.UserUpdateSchema)
@blp.response(200, schemas.UserSchema)
def update_user(changes, user_id):
    """Change an account (admins).

    A new password ends the user's sessions and tokens, and they must change it
    at their next login (their second factor, if any, stays). A new password, making the account a
    lawyer, deactivation and reactivation suspend each of its case memberships until a second person
    approves it again (a lawyer of the case, or a second admin)."""
    return service.update_user(user_id, changes)


@blp.route("/<int:user_id>/mfa", methods=["DELETE"])
@blp.response(200, schemas.UserSchema)
def reset_mfa(user_id):
    """Reset an account's second factor after a lost device (admins).

    Its sessions and tokens end, and each of its case memberships waits for a second person: a
    lawyer of the case, or a second admin.
    """
    return service.reset_second_factor(user_id)
