"""The contract: the served OpenAPI document is valid, every operation is named, summarised and
exemplified, and a client generated from it by a third party's generator works.

Examples live on the marshmallow schemas that validate (``metadata={"example": ...}``), with a
generic fallback for ids, times and enumerations (``casework.http.example_fallback``). Here each
request body's and success answer's example is put together from its schema the way Swagger UI
does, and checked: against the document's own schema, and, for request bodies, by loading it
through the very schema the view validates with, so an example can never show a request the
API refuses.
"""

from __future__ import annotations

import copy
import hashlib
import importlib
import importlib.util
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from openapi_schema_validator import OAS30Validator
from openapi_spec_validator import validate as validate_spec

from casework.http import OPERATION_ID

METHODS = ("get", "put", "post", "delete", "patch", "head", "options")
# The verbs an operation may start with: what its user does (a generated client's function name).
VERBS = {
    "add",
    "append",
    "approve",
    "cancel",
    "change",
    "confirm",
    "create",
    "delete",
    "disable",
    "download",
    "enrol",
    "get",
    "lift",
    "list",
    "place",
    "prove",
    "read",
    "record",
    "reject",
    "remove",
    "reset",
    "revoke",
    "update",
    "upload",
}
BINARY = {"type": "string", "format": "binary"}


@pytest.fixture
def document(app: Flask) -> dict[str, Any]:
    response = app.test_client().get("/api/v1/openapi.json")
    assert response.status_code == 200
    return response.get_json()


def operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method in METHODS:
            if method in item:
                yield path, method, item[method]


def resolve(document: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        parts = node["$ref"].removeprefix("#/").split("/")
        node = document
        for part in parts:
            node = node[part]
    return node


class Missing(Exception):
    """A part of a schema without an example."""


def example_of(document: dict[str, Any], schema: dict[str, Any], where: str, seen: tuple[str, ...] = ()) -> Any:
    """The example a reader is shown for ``schema``: its own, else one made of its parts' examples."""
    if "example" in schema:
        return schema["example"]
    if "$ref" in schema:
        if schema["$ref"] in seen:
            raise Missing(f"{where}: a recursive schema needs an example of its own")
        return example_of(document, resolve(document, schema), where, (*seen, schema["$ref"]))
    if "allOf" in schema:
        merged: dict[str, Any] = {}
        for part in schema["allOf"]:
            merged.update(example_of(document, part, where, seen))
        return merged
    for key in ("oneOf", "anyOf"):
        if key in schema:
            # A nullable nested object is anyOf [null-able object, $ref]: the reader is shown the $ref's.
            shown = [part for part in schema[key] if part != {"type": "object", "nullable": True}]
            return example_of(document, shown[0], where, seen)
    if schema.get("type") == "array":
        return [example_of(document, schema.get("items", {}), f"{where}[]", seen)]
    if schema.get("type") == "object" or "properties" in schema:
        properties = schema.get("properties", {})
        if not properties:
            raise Missing(f"{where}: a free-form object needs an example")
        return {name: example_of(document, prop, f"{where}.{name}", seen) for name, prop in properties.items()}
    raise Missing(f"{where}: no example")


def media_example(document: dict[str, Any], media: dict[str, Any], where: str) -> Any:
    if "example" in media:
        return media["example"]
    if "examples" in media:
        return next(iter(media["examples"].values()))["value"]
    return example_of(document, media.get("schema", {}), where)


def is_binary(document: dict[str, Any], media: dict[str, Any]) -> bool:
    return resolve(document, media.get("schema", {})) == BINARY


def binary_free(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """The schema without its binary parts (a file of a multipart body has no example to show)."""
    schema = copy.deepcopy(resolve(document, schema))
    for name, prop in list(schema.get("properties", {}).items()):
        if prop == BINARY:
            del schema["properties"][name]
            schema["required"] = [r for r in schema.get("required", []) if r != name]
    return schema


def check_example(document: dict[str, Any], media: dict[str, Any], where: str, problems: list[str]) -> Any:
    if is_binary(document, media):
        return None
    schema = binary_free(document, media.get("schema", {}))
    try:
        example = media_example(document, {**media, "schema": schema}, where)
    except Missing as missing:
        problems.append(str(missing))
        return None
    # $refs inside resolve against the whole document.
    validator = OAS30Validator({**schema, "components": document.get("components", {})})
    for error in validator.iter_errors(example):
        problems.append(f"{where}: the example does not match its schema: {error.message[:200]}")
    return example


def test_the_document_is_a_valid_openapi_document(document: dict[str, Any]) -> None:
    validate_spec(document)


def test_every_operation_has_an_id_a_summary_and_examples(app: Flask, document: dict[str, Any]) -> None:
    problems: list[str] = []
    seen_ids: dict[str, str] = {}
    request_schemas = _request_schemas(app)
    for path, method, operation in operations(document):
        where = f"{method.upper()} {path}"
        operation_id = operation.get("operationId", "")
        if not OPERATION_ID.match(operation_id) or operation_id.split("_")[0] not in VERBS:
            problems.append(f"{where}: operationId {operation_id!r} is not verb_noun")
        if operation_id in seen_ids:
            problems.append(f"{where}: operationId {operation_id!r} is also {seen_ids[operation_id]}'s")
        seen_ids[operation_id] = where
        summary = operation.get("summary", "")
        if not summary or "\n" in summary or len(summary) > 100:
            problems.append(f"{where}: summary {summary!r} is not one short line")
        body = resolve(document, operation.get("requestBody", {}))
        for media_type, media in body.get("content", {}).items():
            example = check_example(document, media, f"{where} request {media_type}", problems)
            schema = request_schemas.get((path, method))
            if media_type == "application/json" and schema is not None and example is not None:
                errors = schema.validate(example)
                if errors:
                    problems.append(f"{where}: the request example does not load: {errors}")
        answers = {
            status: resolve(document, response)
            for status, response in operation["responses"].items()
            if str(status).startswith("2")
        }
        if not answers:
            problems.append(f"{where}: no success response")
        for status, response in answers.items():
            for media_type, media in response.get("content", {}).items():
                check_example(document, media, f"{where} {status} {media_type}", problems)
    assert not problems, "\n".join(problems)


def _request_schemas(app: Flask) -> dict[tuple[str, str], Any]:
    """(OpenAPI path, method) -> the marshmallow schema its view loads the JSON body with."""
    found = {}
    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        for parameter in getattr(view, "_apidoc", {}).get("arguments", {}).get("parameters", []):
            if parameter["in"] == "json":
                path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
                for method in rule.methods or ():
                    schema = parameter["schema"]
                    found[(path, method.lower())] = schema() if isinstance(schema, type) else schema
    return found


# -- a client generated by a third party's generator, against a real server ------------------------

GENERATOR = str(Path(sys.executable).parent / "openapi-python-client")


def generate_client(document: dict[str, Any], where: Path, package: str) -> str:
    """Generate a Python client package from the document; the generator's own output."""
    spec = where / "openapi.json"
    spec.write_text(json.dumps(document))
    config = where / "generator.json"
    config.write_text(json.dumps({"post_hooks": []}))  # no formatter run: the code is only imported
    done = subprocess.run(
        [
            GENERATOR,
            "generate",
            "--path",
            str(spec),
            "--output-path",
            str(where / package),
            "--meta",
            "none",
            "--config",
            str(config),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


@pytest.fixture
def generated(document: dict[str, Any], tmp_path: Path, backend: dict[str, str]) -> Iterator[Any]:
    """The generated package, imported (under a name of its own per backend)."""
    package = f"casework_generated_{backend['name']}"
    output = generate_client(document, tmp_path, package)
    # The document is whole to the generator: no schema it gave up on. What it skips are only
    # bodies it cannot speak (text/plain uploads, tus bytes, binary downloads).
    assert "Unable to process schema" not in output, output
    assert all("Unsupported content" in warning for warning in output.split("WARNING parsing ")[1:]), output
    sys.path.insert(0, str(tmp_path))
    try:
        yield importlib.import_module(package)
    finally:
        sys.path.remove(str(tmp_path))
        for name in [name for name in sys.modules if name == package or name.startswith(package + ".")]:
            del sys.modules[name]


def _call(generated: Any, operation: str, **kwargs: Any) -> Any:
    """One operation of the generated client, by its operationId; the parsed answer, or fail."""
    tag = next(
        tag
        for tag in ("auth", "cases", "incidents", "witnesses", "interviews", "transcripts")
        if importlib.util.find_spec(f"{generated.__name__}.api.{tag}.{operation}") is not None
    )
    module = importlib.import_module(f"{generated.__name__}.api.{tag}.{operation}")
    response = module.sync_detailed(**kwargs)
    assert 200 <= response.status_code < 300, (operation, response.status_code, response.content[:2000])
    return response.parsed


def test_a_generated_client_does_a_journey_over_http(
    app: Flask, backend: dict[str, str], generated: Any, people: dict[str, Any]
) -> None:
    """A lawyer logs in and makes a token, opens a case, and (once the interviewer is a member)
    the interviewer records an incident, a witness and an interview and uploads a statement,
    which the lawyer reads back: every call through the generated client, over real HTTP."""
    from tests.pg_server import gunicorn

    models = importlib.import_module(f"{generated.__name__}.models")
    statement = "W-0001: The first shell landed at about 07:40, then two more within a minute.\n"
    with gunicorn(backend["url"], app.config["CASEWORK_KEYRING"], workers=1) as server:
        base = f"http://127.0.0.1:{server.port}"
        # Log in (a session cookie), then make a token as a script would.
        session = generated.Client(base_url=base, raise_on_unexpected_status=True)
        me = _call(
            generated,
            "create_session",
            client=session,
            body=models.Login(username="legal", password=people["legal"].password),
        )
        assert me.username == "legal" and me.auth_method == "session"
        session.with_headers({"X-CSRF-Token": me.csrf_token})
        token = _call(generated, "create_token", client=session, body=models.TokenCreate(name="journey"))
        legal = generated.AuthenticatedClient(base_url=base, token=token.token, raise_on_unexpected_status=True)
        admin = generated.AuthenticatedClient(base_url=base, token=people["admin"].token)
        interviewer = generated.AuthenticatedClient(base_url=base, token=people["interviewer"].token)

        case = _call(
            generated,
            "create_case",
            client=legal,
            body=models.CaseCreate(title="Attacks on civilians, Kharkiv oblast", reference="COI-UKR/J1"),
        )
        interviewer_id = people["interviewer"].id
        proposal = _call(generated, "add_member", client=admin, case_id=case.id, user_id=interviewer_id)
        assert proposal.status == "pending"
        assert (
            _call(generated, "approve_member", client=legal, case_id=case.id, user_id=interviewer_id).status == "member"
        )

        incident = _call(
            generated,
            "create_incident",
            client=interviewer,
            case_id=case.id,
            body=models.IncidentCreate(
                reference="KHA-2022-0417",
                title="Shelling of the Heroiv Pratsi Street market",
                violation_types=[models.IncidentCreateViolationTypesItem("attack-on-civilians")],
            ),
        )
        witness = _call(
            generated,
            "create_witness",
            client=interviewer,
            case_id=case.id,
            body=models.WitnessCreate(
                witness_type=models.WitnessCreateWitnessType("eyewitness"),
                risk_level=models.WitnessCreateRiskLevel("high"),
            ),
        )
        assert witness.pseudonym == "W-0001"
        interview = _call(
            generated,
            "create_interview",
            client=interviewer,
            case_id=case.id,
            body=models.InterviewCreate(
                witness_id=witness.id,
                incident_ids=[incident.id],
                conducted_at=datetime(2022, 5, 18, 10, tzinfo=UTC),
                language="uk",
            ),
        )
        receipt = _call(
            generated,
            "upload_transcript",
            client=interviewer,
            interview_id=interview.id,
            body=models.TranscriptJson(text=statement),
            idempotency_key="journey-1",
        )
        assert receipt.version == 1
        assert receipt.sha256 == hashlib.sha256(statement.encode()).hexdigest()

        version = _call(generated, "read_transcript", client=legal, interview_id=interview.id, version=1)
        assert version.text == statement
        assert version.sha256 == receipt.sha256
