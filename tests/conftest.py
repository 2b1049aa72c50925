"""Test fixtures: the real app on real databases (SQLite and PostgreSQL), no mocks.

Every test that takes ``app`` runs twice, once per database. PostgreSQL is the server at
127.0.0.1:5432 (trust auth); each test session creates its own database there.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_migrate import upgrade
from sqlalchemy import text

from casework import create_app
from casework.db import db
from tests.settings import settings_replaced

pytest_plugins = ["tests.browser"]  # chromium and the browser, shared by every browser test

PG_SERVER = os.environ.get("CASEWORK_TEST_PG", "postgresql://postgres@127.0.0.1:5432")
BACKENDS = [b for b in os.environ.get("CASEWORK_TEST_BACKENDS", "sqlite,postgresql").split(",") if b]


def _pg_admin_execute(sql: str) -> None:
    with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as conn:
        conn.execute(sql)


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A fresh, empty database per backend (and per xdist worker)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("sqlite") / "casework.sqlite3"
        yield {"name": "sqlite", "url": f"sqlite:///{path}"}
        return
    name = f"casework_test_{worker}_{uuid.uuid4().hex[:8]}"
    _pg_admin_execute(f'CREATE DATABASE "{name}"')
    try:
        yield {"name": "postgresql", "url": f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"}
    finally:
        _pg_admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def keyring_path(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(tmp_path_factory.mktemp("keys") / "keyring.json")


def make_app(backend: dict[str, str], keyring_path: str, **overrides: Any) -> Flask:
    settings = {
        "SQLALCHEMY_DATABASE_URI": backend["url"],
        "CASEWORK_KEYRING": keyring_path,
        # The signer remembers what it signed; each database's log is its own history.
        "CASEWORK_SIGNER_STATE": f"{keyring_path}.{backend['name']}.signer-state",
        "CASEWORK_LOGIN_LIMIT": "10000 per minute",
        "LOG_LEVEL": "WARNING",
    }
    settings.update(overrides)
    return create_app("testing", settings)


@pytest.fixture(scope="session")
def app(backend: dict[str, str], keyring_path: str) -> Iterator[Flask]:
    app = make_app(backend, keyring_path)
    with app.app_context():
        upgrade()
        db.session.remove()
    # No app context stays pushed: each request must get its own, as in production.
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture(autouse=True)
def _clean_database(request: pytest.FixtureRequest) -> Iterator[None]:
    """Empty every table after each test (and reset the custody log to size 0)."""
    yield
    if "app" not in request.fixturenames:
        return
    app: Flask = request.getfixturevalue("app")
    with app.app_context():
        reset_database()
    # The log starts again from nothing, and so does its signer's memory of what it signed.
    Path(app.config["CASEWORK_SIGNER_STATE"]).unlink(missing_ok=True)


def reset_database() -> None:
    """Empty every table, past the append-only triggers on the custody tables (as their owner would)."""
    from casework.custody import append_only

    db.session.remove()
    tables = [t.name for t in reversed(db.metadata.sorted_tables)]
    with db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            # Triggers (row and TRUNCATE ones alike) do not fire in replica mode; superuser only,
            # and LOCAL: it ends with this transaction.
            conn.execute(text("SET LOCAL session_replication_role = replica"))
            conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            # SQLite has no switch: drop the triggers and recreate them, in the same transaction.
            for statement in append_only.SQLITE_DROP:
                conn.execute(text(statement))
            for table in tables:
                conn.execute(text(f"DELETE FROM {table}"))
            for statement in append_only.SQLITE_TRIGGERS:
                conn.execute(text(statement))
        conn.execute(text("INSERT INTO custody_head (id, tree_size, frontier) VALUES (1, 0, :empty)"), {"empty": b""})


@pytest.fixture
def is_postgres(backend: dict[str, str]) -> bool:
    return backend["name"] == "postgresql"


@pytest.fixture
def pg_only(backend: dict[str, str]) -> None:
    if backend["name"] != "postgresql":
        pytest.skip("PostgreSQL-only behaviour")


# ---------------------------------------------------------------------------
# Callers: real users with real bearer tokens, talking to the app over the test client.


@dataclass
class Caller:
    client: FlaskClient
    id: int
    username: str
    role: str
    token: str
    password: str

    def _headers(self, headers: dict[str, str] | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", **(headers or {})}

    def get(self, path: str, **kw: Any):
        return self.client.get(path, headers=self._headers(kw.pop("headers", None)), **kw)

    def delete(self, path: str, **kw: Any):
        return self.client.delete(path, headers=self._headers(kw.pop("headers", None)), **kw)

    def post(self, path: str, json: Any = None, **kw: Any):
        return self.client.post(path, json=json, headers=self._headers(kw.pop("headers", None)), **kw)

    def patch(self, path: str, json: Any = None, **kw: Any):
        return self.client.patch(path, json=json, headers=self._headers(kw.pop("headers", None)), **kw)

    def put(self, path: str, json: Any = None, **kw: Any):
        return self.client.put(path, json=json, headers=self._headers(kw.pop("headers", None)), **kw)


PASSWORD = "correct horse battery staple"


def make_caller(app: Flask, username: str, role: str) -> Caller:
    from casework.auth.service import issue_token
    from casework.users.service import new_user

    with app.app_context():
        user = new_user(username, PASSWORD, role)
        _, token = issue_token(user, "tests", 30)
        db.session.commit()
        user_id = user.id
    return Caller(app.test_client(), user_id, username, role, token, PASSWORD)


@pytest.fixture
def people(app: Flask) -> dict[str, Caller]:
    """One caller per role, plus a second interviewer and a lawyer of another case."""
    return {
        name: make_caller(app, name, role)
        for name, role in (
            ("admin", "admin"),
            ("interviewer", "interviewer"),
            ("interviewer2", "interviewer"),
            ("legal", "legal"),
            ("outsider", "legal"),
            ("auditor", "auditor"),
        )
    }


@dataclass
class World:
    people: dict[str, Caller]
    case_id: int
    other_case_id: int
    incident_id: int
    witness_id: int
    interview_id: int


def add_lawyer(app: Flask, world: World, username: str = "legal2") -> Caller:
    """Another lawyer of case A (proposed by an admin, approved by the first lawyer): the second
    person of every two-lawyer rule."""
    lawyer = make_caller(app, username, "legal")
    ok(world.people["admin"].put(f"/api/v1/cases/{world.case_id}/members/{lawyer.id}"), 202)
    ok(world.people["legal"].post(f"/api/v1/cases/{world.case_id}/members/{lawyer.id}/approve"))
    world.people[username] = lawyer
    return lawyer


@pytest.fixture
def legal2(app: Flask, world: World) -> Caller:
    return add_lawyer(app, world)


@pytest.fixture
def blob_dir(app: Flask, tmp_path: Path) -> Iterator[Path]:
    """Exhibit chunks in the test's own directory (never the project's instance/)."""
    with settings_replaced(app, blobs={"directory": str(tmp_path / "blobs")}):
        app.extensions.pop("casework.blobs", None)
        yield tmp_path / "blobs"
    app.extensions.pop("casework.blobs", None)


def ok(response, status: int = 200) -> Any:
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True)[:2000])
    return response.get_json()


@pytest.fixture
def world(app: Flask, people: dict[str, Caller]) -> World:
    """Case A (interviewer, interviewer2, legal) with an incident, witness and interview; case B (outsider).

    ``people["admin2"]``: a second admin (made by the operator's shell, so independent of the first).
    """
    admin, interviewer = people["admin"], people["interviewer"]
    people["admin2"] = make_caller(app, "admin2", "admin")
    case_id = ok(admin.post("/api/v1/cases", {"title": "Executions of prisoners, sector 4"}), 201)["id"]
    other = ok(people["outsider"].post("/api/v1/cases", {"title": "Another case"}), 201)["id"]
    # Two-person rule: a second admin approves the first lawyer; the lawyer approves later members.
    ok(admin.put(f"/api/v1/cases/{case_id}/members/{people['legal'].id}"), 202)
    ok(people["admin2"].post(f"/api/v1/cases/{case_id}/members/{people['legal'].id}/approve"))
    for name in ("interviewer", "interviewer2"):
        ok(admin.put(f"/api/v1/cases/{case_id}/members/{people[name].id}"), 202)
        ok(people["legal"].post(f"/api/v1/cases/{case_id}/members/{people[name].id}/approve"))
    incident = ok(
        interviewer.post(
            f"/api/v1/cases/{case_id}/incidents",
            {
                "reference": "INC-1",
                "title": "Execution at the quarry",
                "occurred_from": "2026-03-01T05:00:00Z",
                "occurred_to": "2026-03-01T07:00:00Z",
                "time_precision": "hour",
                "location": {"name": "Quarry", "latitude": 48.5, "longitude": 37.9, "precision_m": 200},
                "victim_count": 7,
                "violation_types": ["execution-of-prisoners-of-war"],
            },
        ),
        201,
    )
    witness = ok(
        interviewer.post(f"/api/v1/cases/{case_id}/witnesses", {"witness_type": "eyewitness", "risk_level": "high"}),
        201,
    )
    interview = ok(
        interviewer.post(
            f"/api/v1/cases/{case_id}/interviews",
            {
                "witness_id": witness["id"],
                "incident_ids": [incident["id"]],
                "conducted_at": "2026-03-10T10:00:00Z",
                "language": "uk",
                "location": {"name": "Field office"},
            },
        ),
        201,
    )
    return World(people, case_id, other, incident["id"], witness["id"], interview["id"])
