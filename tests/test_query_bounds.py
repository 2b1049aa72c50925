"""Integers a request names are bounded to what a custody event can hold (I-JSON: 2**53 - 1).

A larger query integer is a 422 problem, and recorded like every refusal; before, one slipped
through to the service, whose event could not be encoded, and the request left no trace (503).
"""

from __future__ import annotations

from casework.http import MAX_SEQ
from casework_verify.canonical import MAX_SAFE_INTEGER
from tests.helpers import assert_problem, events_of

TOO_BIG = 2**53

QUERIES = [
    ("auditor", f"/api/v1/custody/proofs/inclusion?seq={TOO_BIG}&tree_size=1", "seq"),
    ("auditor", f"/api/v1/custody/proofs/inclusion?seq=0&tree_size={TOO_BIG}", "tree_size"),
    ("auditor", f"/api/v1/custody/proofs/consistency?first=1&second={TOO_BIG}", "second"),
    ("auditor", f"/api/v1/custody/events?limit={TOO_BIG}", "limit"),
    ("auditor", f"/api/v1/custody/events?actor_id={TOO_BIG}", "actor_id"),
    ("auditor", f"/api/v1/custody/events?case_id={TOO_BIG}", "case_id"),
    ("admin", f"/api/v1/auth/tokens?user_id={TOO_BIG}", "user_id"),
    ("admin", f"/api/v1/auth/tokens?limit={TOO_BIG}", "limit"),
    ("admin", f"/api/v1/users?limit={TOO_BIG}", "limit"),
    ("interviewer", f"/api/v1/cases?limit={TOO_BIG}", "limit"),
]


def test_custody_bounds_are_the_json_safe_integers():
    assert MAX_SEQ == MAX_SAFE_INTEGER == 2**53 - 1


def test_query_integers_above_2_53_are_422_and_recorded(app, people):
    for who, path, field in QUERIES:
        response = people[who].get(path)
        body = assert_problem(response, 422)
        assert field in body["errors"]["query"], path
        [event] = events_of(app, response)
        assert event["outcome"] == "error" and event["actor_id"] == people[who].id, path
        assert event["details"]["status"] == 422


def test_the_largest_safe_seq_reaches_the_service_and_is_recorded(app, people):
    response = people["auditor"].get(f"/api/v1/custody/proofs/inclusion?seq={MAX_SEQ - 1}&tree_size={MAX_SEQ}")
    assert_problem(response, 422)  # the log is not that long
    [event] = events_of(app, response)
    assert event["action"] == "custody.proof.inclusion"
    assert event["details"]["seq"] == MAX_SEQ - 1 and event["details"]["tree_size"] == MAX_SEQ


def test_path_seqs_above_2_53_are_unknown_urls_and_recorded(app, people):
    response = people["auditor"].get(f"/api/v1/custody/events/{TOO_BIG}")
    assert_problem(response, 404)
    assert [event["details"]["status"] for event in events_of(app, response)] == [404]
    response = people["auditor"].get(f"/api/v1/custody/events/{MAX_SEQ}")
    assert_problem(response, 404)
    [event] = events_of(app, response)
    assert event["action"] == "custody.event.read" and event["resource_id"] == str(MAX_SEQ)


def test_every_integer_query_parameter_has_a_json_safe_maximum(app):
    spec = app.test_client().get("/api/v1/openapi.json").get_json()
    checked = []
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if method == "parameters":  # the path's own (path parameters)
                continue
            for parameter in operation.get("parameters", []):
                schema = parameter.get("schema", {})
                if parameter["in"] == "query" and schema.get("type") == "integer":
                    assert "maximum" in schema and schema["maximum"] <= MAX_SAFE_INTEGER, (method, path, parameter)
                    checked.append(parameter["name"])
    assert {"seq", "tree_size", "first", "second", "limit", "user_id", "actor_id"} <= set(checked)
