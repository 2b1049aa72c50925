"""Requests at the edges that used to be 500s: each is now the right 4xx, recorded in the custody log.

Every test runs on both databases (those through gunicorn too), but the SQLite file-mode test,
which is about SQLite's files.
"""

from __future__ import annotations

import os
import socket
import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from flask import Flask
from flask_migrate import upgrade
from marshmallow import Schema, fields
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from casework.custody.models import CustodyEvent
from casework.db import db
from tests.conftest import World, make_app, ok
from tests.helpers import assert_problem, events_of
from tests.pg_server import gunicorn

CONSENT = {"record": True, "share_with_prosecutors": True, "share_with_un_bodies": False, "disclose_identity": False}
# Whose instant in UTC is before year 1 or after year 9999.
BEYOND_UTC = ("9999-12-31T23:00:00-14:00", "0001-01-01T00:00:00+14:00")


def _refused_and_recorded(app: Flask, response: Any, status: int) -> dict[str, Any]:
    body = assert_problem(response, status)
    events = events_of(app, response)
    assert events, "refused without a custody event"
    assert events[-1]["outcome"] == ("denied" if status in (401, 403, 404) else "error")
    return body


# -- // in a path ------------------------------------------------------------------------------


def test_empty_path_segments_are_unknown_urls_not_redirects(app: Flask, world: World):
    legal = world.people["legal"]
    for path in (
        "/api/v1//cases",
        f"/api/v1/cases//{world.case_id}",
        f"/api/v1//cases/{world.case_id}/incidents",
        "/api/v1/cases/",
    ):
        response = legal.get(path)
        _refused_and_recorded(app, response, 404)
        assert "Location" not in response.headers
    assert_problem(legal.post("/api/v1//cases", {"title": "x"}), 404)


# -- times beyond what UTC can hold ----------------------------------------------------------------


@pytest.mark.parametrize("moment", BEYOND_UTC)
def test_times_beyond_years_1_to_9999_in_utc_are_422(app: Flask, world: World, moment: str):
    interviewer, auditor = world.people["interviewer"], world.people["auditor"]
    case = world.case_id
    attempts = [
        (
            interviewer.post(
                f"/api/v1/cases/{case}/incidents", {"reference": "T-1", "title": "t", "occurred_from": moment}
            ),
            "occurred_from",
        ),
        (interviewer.patch(f"/api/v1/incidents/{world.incident_id}", {"occurred_to": moment}), "occurred_to"),
        (
            interviewer.post(
                f"/api/v1/cases/{case}/interviews",
                {"witness_id": world.witness_id, "conducted_at": moment, "language": "uk"},
            ),
            "conducted_at",
        ),
        (interviewer.patch(f"/api/v1/interviews/{world.interview_id}", {"conducted_at": moment}), "conducted_at"),
        (
            interviewer.post(f"/api/v1/witnesses/{world.witness_id}/consent", {"scopes": CONSENT, "given_at": moment}),
            "given_at",
        ),
        (
            interviewer.post(
                f"/api/v1/witnesses/{world.witness_id}/consent",
                {"scopes": CONSENT, "given_at": "2026-01-01T00:00:00Z", "withdrawn_at": moment},
            ),
            "withdrawn_at",
        ),
    ]
    for response, field in attempts:
        body = _refused_and_recorded(app, response, 422)
        assert field in body["errors"]["json"], body
    query = auditor.get(f"/api/v1/custody/events?since={quote(moment)}")
    assert "since" in _refused_and_recorded(app, query, 422)["errors"]["query"]
    # The last instant that fits is fine, whatever its offset.
    edge = ok(
        interviewer.post(
            f"/api/v1/cases/{case}/incidents",
            {
                "reference": "T-2",
                "title": "t",
                "occurred_from": "0001-01-01T14:00:00+14:00",
                "occurred_to": "9999-12-31T09:59:59-14:00",
            },
        ),
        201,
    )
    assert edge["occurred_from"].startswith("0001-01-01T00:00:00")
    assert edge["occurred_to"].startswith("9999-12-31T23:59:59")


def test_postgres_sessions_read_every_storable_time_whatever_the_server_zone(backend, keyring_path, pg_only, app):
    """A server in a zone far from UTC would render year 9999 (UTC) as 10000: sessions use UTC."""
    far = make_app(
        backend, keyring_path, SQLALCHEMY_ENGINE_OPTIONS={"connect_args": {"options": "-c timezone=Pacific/Kiritimati"}}
    )
    with far.app_context():
        try:
            assert db.session.execute(text("SHOW timezone")).scalar_one() == "UTC"
            edges = db.session.execute(
                text("SELECT CAST('9999-12-31T23:59:59Z' AS timestamptz), CAST('0001-01-01T00:00:00Z' AS timestamptz)")
            ).one()
            assert (edges[0].year, edges[1].year) == (9999, 1)
        finally:
            db.session.remove()
            db.engine.dispose()


def test_sql_parameters_never_reach_messages_or_logs(app: Flask, capfd):
    with app.app_context():
        assert db.engine.hide_parameters
        with pytest.raises(DBAPIError) as failure:
            db.session.execute(text("INSERT INTO no_such_table (name) VALUES (:name)"), {"name": "Oksana Secret"})
        db.session.rollback()
    assert "Oksana Secret" not in str(failure.value)
    assert "hidden due to hide_parameters" in str(failure.value)
    assert "Oksana Secret" not in "".join(capfd.readouterr())


# -- integers are integers ------------------------------------------------------------------------


@pytest.mark.parametrize("value", [3.7, 3.0, True, "3"])
def test_fractional_or_quoted_integers_are_422(app: Flask, world: World, value):
    interviewer = world.people["interviewer"]
    attempts = [
        (interviewer.patch(f"/api/v1/incidents/{world.incident_id}", {"victim_count": value}), "victim_count"),
        (
            interviewer.post(
                f"/api/v1/cases/{world.case_id}/incidents", {"reference": "V", "title": "v", "victim_count": value}
            ),
            "victim_count",
        ),
        (
            interviewer.patch(
                f"/api/v1/incidents/{world.incident_id}", {"location": {"name": "x", "precision_m": value}}
            ),
            "location",
        ),
        (
            interviewer.post(
                f"/api/v1/cases/{world.case_id}/interviews",
                {"witness_id": value, "conducted_at": "2026-01-01T00:00:00Z", "language": "uk"},
            ),
            "witness_id",
        ),
        (interviewer.patch(f"/api/v1/interviews/{world.interview_id}", {"incident_ids": [value]}), "incident_ids"),
    ]
    for response, field in attempts:
        body = _refused_and_recorded(app, response, 422)
        assert field in body["errors"]["json"], body
    incident = ok(interviewer.get(f"/api/v1/incidents/{world.incident_id}"))
    assert incident["victim_count"] == 7


def _integer_fields(schema: Schema | type[Schema], path: str = "") -> list[tuple[str, fields.Integer]]:
    instance = schema() if isinstance(schema, type) else schema
    found = []
    for name, field in instance.fields.items():
        while isinstance(field, fields.List):
            field = field.inner
        if isinstance(field, fields.Integer):
            found.append((f"{path}{name}", field))
        elif isinstance(field, fields.Nested):
            found += _integer_fields(field.schema, f"{path}{name}.")
    return found


def test_every_integer_a_body_carries_is_strict(app: Flask):
    """Query strings are text, parsed to integers; JSON bodies must send integers as integers."""
    loose = []
    for endpoint, view in app.view_functions.items():
        for parameter in getattr(view, "_apidoc", {}).get("arguments", {}).get("parameters", []):
            if parameter.get("in") == "json":
                loose += [
                    f"{endpoint}: {name}" for name, field in _integer_fields(parameter["schema"]) if not field.strict
                ]
    assert not loose, loose


# -- unknown query parameters ---------------------------------------------------------------------


def test_unknown_query_parameters_are_422(app: Flask, world: World):
    people = world.people
    ok(people["interviewer"].post(f"/api/v1/interviews/{world.interview_id}/transcripts", {"text": "v1"}), 201)
    attempts = [
        ("legal", "GET", "/api/v1/cases?limit=5&colour=red"),
        ("legal", "GET", f"/api/v1/cases/{world.case_id}/incidents?colour=red"),
        ("legal", "GET", f"/api/v1/cases/{world.case_id}/witnesses?colour=red"),
        ("legal", "GET", f"/api/v1/cases/{world.case_id}/interviews?colour=red"),
        ("legal", "GET", f"/api/v1/witnesses/{world.witness_id}?include=identity&colour=red"),
        ("legal", "GET", f"/api/v1/interviews/{world.interview_id}/transcripts?colour=red"),
        ("legal", "GET", f"/api/v1/interviews/{world.interview_id}/transcripts/1?format=raw&colour=red"),
        ("auditor", "GET", "/api/v1/custody/events?colour=red"),
        ("auditor", "GET", "/api/v1/custody/proofs/inclusion?seq=0&tree_size=1&colour=red"),
        ("auditor", "GET", "/api/v1/custody/proofs/consistency?first=1&second=1&colour=red"),
        ("admin", "GET", "/api/v1/users?colour=red"),
        ("legal", "GET", "/api/v1/auth/tokens?colour=red"),
        # routes that take no query parameters at all
        ("legal", "GET", f"/api/v1/cases/{world.case_id}?colour=red"),
        ("legal", "GET", f"/api/v1/incidents/{world.incident_id}?colour=red"),
        ("legal", "POST", "/api/v1/cases?colour=red"),
        ("auditor", "GET", "/api/v1/custody/checkpoint?colour=red"),
    ]
    for role, method, url in attempts:
        caller = people[role]
        response = caller.client.open(
            url,
            method=method,
            json={"title": "t"} if method == "POST" else None,
            headers={"Authorization": f"Bearer {caller.token}"},
        )
        body = _refused_and_recorded(app, response, 422)
        assert "colour" in body["errors"]["query"], (url, body)
    assert ok(people["legal"].get("/api/v1/cases?limit=5"))["items"]


# -- case references ------------------------------------------------------------------------------


def test_a_reference_in_use_reveals_nothing_of_the_case_using_it(app: Flask, world: World):
    outsider, legal, admin = world.people["outsider"], world.people["legal"], world.people["admin"]
    hidden = ok(outsider.post("/api/v1/cases", {"title": "Hidden investigation", "reference": "ICC-01/04-7"}), 201)
    # legal cannot see the outsider's case, admin can: the same answer for both, naming nothing of it.
    answers = []
    for caller in (legal, admin, outsider):
        response = caller.post("/api/v1/cases", {"title": "Mine", "reference": "ICC-01/04-7"})
        body = _refused_and_recorded(app, response, 409)
        assert events_of(app, response)[0]["action"] == "case.create"
        answers.append(body)
    renamed = legal.patch(f"/api/v1/cases/{world.case_id}", {"reference": "ICC-01/04-7"})
    answers.append(_refused_and_recorded(app, renamed, 409))
    assert all(answer == answers[0] for answer in answers), answers
    text_of = str(answers[0])
    assert str(hidden["id"]) not in text_of and "Hidden" not in text_of
    assert answers[0]["type"].endswith("case-reference-taken")
    # One's own reference is no conflict.
    ok(outsider.patch(f"/api/v1/cases/{hidden['id']}", {"reference": "ICC-01/04-7"}))


def test_racing_for_one_reference_is_one_case_and_409s(app: Flask, world: World):
    legal = world.people["legal"]

    def create(n: int) -> int:
        return (
            app.test_client()
            .post(
                "/api/v1/cases",
                json={"title": f"race {n}", "reference": "RACE-1"},
                headers={"Authorization": f"Bearer {legal.token}"},
            )
            .status_code
        )

    with ThreadPoolExecutor(6) as pool:
        statuses = sorted(pool.map(create, range(12)))
    assert statuses == [201] + [409] * 11, statuses


# -- SQLite files ---------------------------------------------------------------------------------


def test_sqlite_database_files_are_created_owner_only(tmp_path: Path, keyring_path: str):
    path = tmp_path / "private" / "casework.sqlite3"
    path.parent.mkdir()
    previous = os.umask(0o022)  # a permissive umask: the mode must not depend on it
    try:
        fresh = make_app({"name": "sqlite", "url": f"sqlite:///{path}"}, keyring_path)
        with fresh.app_context():
            upgrade()
            db.session.execute(text("INSERT INTO custody_head (id, tree_size, frontier) VALUES (2, 0, x'')"))
            db.session.rollback()
            modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in path.parent.iterdir()}
            db.engine.dispose()
    finally:
        os.umask(previous)
    assert {"casework.sqlite3", "casework.sqlite3-wal", "casework.sqlite3-shm"} <= set(modes)
    assert set(modes.values()) == {0o600}, {name: oct(mode) for name, mode in modes.items()}


# -- through gunicorn: malformed chunked bodies, and no Server header ---------------------------------


def _raw(port: int, request: bytes) -> tuple[int, dict[str, str], bytes]:
    with socket.create_connection(("127.0.0.1", port), timeout=15) as sock:
        sock.sendall(request)
        sock.shutdown(socket.SHUT_WR)  # the body ends here, whatever its framing claimed
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(lines[0].split()[1]), headers, body


def test_gunicorn_answers_malformed_chunked_bodies_with_400_and_names_no_server(
    app: Flask, world: World, backend, keyring_path
):
    legal = world.people["legal"]
    prefix = (
        b"POST /api/v1/cases HTTP/1.1\r\nHost: casework\r\nConnection: close\r\n"
        b"Authorization: Bearer " + legal.token.encode() + b"\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
    )
    with gunicorn(backend["url"], keyring_path, workers=1) as server:
        answers = {
            "garbage size": _raw(server.port, prefix + b"zzzz\r\ngarbage\r\n0\r\n\r\n"),
            "short chunk": _raw(server.port, prefix + b'40\r\n{"title": "x"}\r\n0\r\n\r\n'),
            "no terminator": _raw(server.port, prefix + b'5\r\n{"tit\r\n'),
        }
        body = b'{"title": "chunked and fine"}'
        good = _raw(server.port, prefix + f"{len(body):x}\r\n".encode() + body + b"\r\n0\r\n\r\n")
        others = [
            server.request("GET", "/api/v1/cases", legal.token),
            server.request("GET", "/api/v1/nothing", legal.token),
            server.request("GET", "/health"),
        ]
    for name, (status, headers, payload) in answers.items():
        assert status == 400, (name, status, payload[:300])
        assert headers["content-type"] == "application/problem+json"
        with app.app_context():
            events = db.session.scalars(
                select(CustodyEvent).where(CustodyEvent.request_id == headers["x-request-id"])
            ).all()
        assert [(e.outcome, e.details["status"], e.resource_type) for e in events] == [("error", 400, "case")], name
    assert good[0] == 201, good
    for _status, headers, _ in [*answers.values(), good, *others]:
        assert "server" not in headers, headers
    assert [status for status, _, _ in others] == [200, 404, 200]
