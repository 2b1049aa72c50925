"""Property-based: every operation of the served OpenAPI document, as every role.

No 5xx, and every response conforms to the document (status code, content type, body
schema), errors included (problem+json). Examples are derandomised so CI is reproducible.
Real ids are swapped into path parameters half of the time, or everything would be a 404.
"""

from __future__ import annotations

import random
from contextlib import suppress

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import World

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
EXAMPLES = 6


@pytest.mark.parametrize("role", ["admin", "interviewer", "legal", "outsider", "auditor"])
def test_every_operation_conforms_for_every_role(app, world: World, role):
    """On both databases: PostgreSQL enforces column types and sizes that SQLite does not."""
    ok = world.people["interviewer"].post(f"/api/v1/interviews/{world.interview_id}/transcripts", {"text": "v1"})
    assert ok.status_code == 201
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    real = {
        "case_id": world.case_id,
        "incident_id": world.incident_id,
        "witness_id": world.witness_id,
        "interview_id": world.interview_id,
        "user_id": world.people["interviewer2"].id,
        "version": 1,
        "seq": 0,
    }
    token = world.people[role].token
    failures: list[str] = []

    def make_check(operation, rng: random.Random):
        # A factory, not a closure in the loop: each check keeps its own operation and rng
        # (@given refuses default arguments, so they cannot be bound that way).
        @settings(
            max_examples=EXAMPLES,
            derandomize=True,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy())
        def check(case) -> None:
            if case.path_parameters and rng.random() < 0.5:
                case.path_parameters = {k: real.get(k, v) for k, v in case.path_parameters.items()}
            headers = {"Authorization": f"Bearer {token}"}
            response = case.call(headers=headers)
            try:
                case.validate_response(response, checks=CHECKS, headers=headers)
            except Exception as exc:  # collect, so one run reports every broken operation
                failures.append(f"{role} {operation.method.upper()} {operation.path}: {str(exc)[:600]}")
                raise

        return check

    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.path.endswith("/auth/logout"):
            continue  # would end the caller's own session mid-test (covered in test_auth)
        rng = random.Random(f"{role}{operation.method}{operation.path}")
        with suppress(Exception):
            make_check(operation, rng)()
    assert not failures, "\n\n".join(failures[:10])
