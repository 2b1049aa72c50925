"""Operator commands: ``flask --app wsgi users create USERNAME --role ROLE``.

The operator's shell creates the first (bootstrap) admin: its password is the operator's own
choice, so, unlike an account an admin creates through the API, it need not be changed at the
first login. It must still be hard to guess.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import click
from flask.cli import AppGroup
from marshmallow import ValidationError

from casework.access import door
from casework.access.roles import Role
from casework.access.targets import Target
from casework.errors import DomainError
from casework.users.schemas import PASSWORD, USERNAME
from casework.users.service import new_user

users_cli = AppGroup("users", help="Manage user accounts from the operator's shell.")


def _read_password() -> str:
    password = os.environ.get("CASEWORK_PASSWORD")
    if password:
        return password
    if sys.stdin.isatty():
        return str(click.prompt("Password", hide_input=True, confirmation_prompt=True))
    return sys.stdin.readline().rstrip("\n")


def _messages(errors: Any) -> list[str]:
    """Field errors ({"json": {"password": [...]}}) as plain sentences."""
    if isinstance(errors, dict):
        return [message for value in errors.values() for message in _messages(value)]
    if isinstance(errors, list):
        return [str(message) for message in errors]
    return []


@users_cli.command("create")
@click.argument("username")
@click.option("--role", required=True, type=click.Choice([r.value for r in Role]))
@click.option("--display-name", default=None)
def create(username: str, role: str, display_name: str | None) -> None:
    """Create a user; the password comes from $CASEWORK_PASSWORD or standard input."""
    password = _read_password()
    try:
        USERNAME(username)
        PASSWORD(password)
    except ValidationError as exc:
        raise click.ClickException(" ".join(exc.messages)) from None
    try:
        user = new_user(username, password, role, display_name)
    except DomainError as exc:
        raise click.ClickException(" ".join([exc.detail, *_messages(exc.errors)])) from None
    door.system_access("user.create", Target("user"), role=role, created_user_id=user.id, via="cli")
    door.commit()
    click.echo(f"created user {user.id} {username} ({role})")
