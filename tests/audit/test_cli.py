"""Operator commands run against the real database."""

from __future__ import annotations

from sqlalchemy import select

from casework.auth.models import User
from casework.db import db
from tests.helpers import all_events


def test_users_create_reads_password_from_env_or_stdin(app):
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=["users", "create", "amira", "--role", "admin"],
        env={"CASEWORK_PASSWORD": "a sufficiently long passphrase"},
    )
    assert result.exit_code == 0, result.output
    result = runner.invoke(
        args=["users", "create", "bohdan", "--role", "interviewer"], input="another long passphrase\n"
    )
    assert result.exit_code == 0, result.output
    with app.app_context():
        users = {u.username: u for u in db.session.scalars(select(User))}
    assert users["amira"].role == "admin" and users["bohdan"].role == "interviewer"
    assert users["amira"].password_hash.startswith("$argon2id$")
    login = app.test_client().post(
        "/api/v1/auth/login", json={"username": "bohdan", "password": "another long passphrase"}
    )
    assert login.status_code == 200
    creations = [e for e in all_events(app) if e["action"] == "user.create"]
    assert [e["actor_username"] for e in creations] == ["system", "system"]


def test_users_create_refuses_bad_input(app):
    runner = app.test_cli_runner()
    short = runner.invoke(args=["users", "create", "chen", "--role", "legal"], env={"CASEWORK_PASSWORD": "short"})
    assert short.exit_code != 0 and "12" in short.output
    weak = runner.invoke(args=["users", "create", "chen", "--role", "legal"], env={"CASEWORK_PASSWORD": "x" * 20})
    assert weak.exit_code != 0 and "too easy to guess" in weak.output
    strong = "granite willow seventy ferns"
    bad_role = runner.invoke(args=["users", "create", "chen", "--role", "root"], env={"CASEWORK_PASSWORD": strong})
    assert bad_role.exit_code != 0
    ok = runner.invoke(args=["users", "create", "chen", "--role", "legal"], env={"CASEWORK_PASSWORD": strong})
    assert ok.exit_code == 0
    again = runner.invoke(args=["users", "create", "chen", "--role", "legal"], env={"CASEWORK_PASSWORD": strong})
    assert again.exit_code != 0 and "taken" in again.output
