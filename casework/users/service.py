"""Account management (admins only): create, list, read, change role, deactivate."""
from __future__ import annotations

from typing import Any

from sqlalchemy import select

from casework.auth import passwords
from casework.auth.policy import authorize, load_authorized, load_with_event
from casework.auth.service import revoke_all_credentials
from casework.auth.target import Target
from casework.db import db
from casework.errors import ProblemError
from casework.pagination import Page, keyset_page
from casework.users.models import User


def new_user(username: str, password: str, role: str, display_name: str | None = None) -> User:
    """Insert a user (no authorization: callers are ``create_user`` and the operator CLI)."""
    if db.session.execute(select(User.id).where(User.username == username)).first():
        raise ProblemError(409, "That username is taken.", errors={"json": {"username": ["Already exists."]}})
    user = User(username=username, password_hash=passwords.hash_password(password), role=role,
                display_name=display_name)
    db.session.add(user)
    db.session.flush()
    return user


def create_user(data: dict[str, Any]) -> User:
    event = authorize("user.create", Target("user"))
    user = new_user(data["username"], data["password"], data["role"], data.get("display_name"))
    event.resource_id = str(user.id)
    event.details = {"role": user.role}
    return user


def list_users(args: dict[str, Any]) -> Page:
    authorize("user.list", Target("user"))
    statement = select(User)
    if "role" in args:
        statement = statement.where(User.role == args["role"])
    if "active" in args:
        statement = statement.where(User.active == args["active"])
    return keyset_page(statement, User.id, args)


def get_user(user_id: int) -> User:
    return load_authorized(User, user_id, "user.read")


def update_user(user_id: int, changes: dict[str, Any]) -> User:
    user, event = load_with_event(User, user_id, "user.update")
    event.details["changed"] = sorted(changes)
    if "password" in changes:
        user.password_hash = passwords.hash_password(changes.pop("password"))
        revoke_all_credentials(user.id)
    for name, value in changes.items():
        setattr(user, name, value)
    if changes.get("active") is False:
        revoke_all_credentials(user.id)
    return user
