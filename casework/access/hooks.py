"""The request hooks that make an unrecorded request impossible.

At the start of every API request ``begin`` opens the request's custody context under a
server-generated request id. At its end ``finish``:

* records an event for a failure that reached no service (401, 413, 415, 422, 429, ...),
  against the resource the matched route names, so it files beside the service's events;
* refuses (500) a successful response that recorded nothing: an unaudited route is a bug;
* rolls back the domain writes of any failed request, so failures never write;
* appends the events and commits them with the request's writes before the response
  leaves; if that fails, the answer is 503 and nothing is kept.
"""
from __future__ import annotations

import logging
import re
from typing import Any

from flask import Flask, Response, request

from casework.access.door import ALLOWED, DENIED, ERROR, current_principal, queue_event
from casework.access.targets import Target
from casework.custody import recorder
from casework.db import db
from casework.errors import CustodyUnavailable
from casework.problems import problem_response

logger = logging.getLogger(__name__)

# Endpoints that touch no case data, credentials or custody log. Keep this list short:
# tests/test_custody_coverage.py asserts every other route records an event.
EXEMPT_ENDPOINTS = frozenset({"health", "api-docs.openapi_json"})
_CLIENT_REQUEST_ID = re.compile(r"^[\x21-\x7e]{1,128}$")

# Path parameters, most specific first, and the resource each one names.
_PATH_RESOURCES = (("seq", "custody_event"), ("token_id", "token"), ("interview_id", "interview"),
                   ("witness_id", "witness"), ("incident_id", "incident"), ("case_id", "case"), ("user_id", "user"))
# Routes without parameters name a collection: the first segment after the API prefix.
_COLLECTIONS = {"cases": "case", "users": "user", "auth": "user", "custody": "custody_log"}


def route_target(path: str, view_args: dict[str, Any] | None) -> Target:
    """The resource the matched route names, as services record it (a transcript is interview/version)."""
    args = view_args or {}
    case_id, witness_id = args.get("case_id"), args.get("witness_id")
    if "interview_id" in args and "version" in args:
        return Target("transcript", f"{args['interview_id']}/{args['version']}", case_id, witness_id=witness_id)
    for name, resource_type in _PATH_RESOURCES:
        if name in args:
            return Target(resource_type, args[name], case_id, witness_id=witness_id)
    segments = path.removeprefix("/api/v1/").split("/")
    return Target(_COLLECTIONS.get(segments[0], "http"))


def begin() -> None:
    recorder.begin(request.remote_addr, _client_request_id())


def _outcome_for(status: int) -> str:
    if status < 400:
        return ALLOWED
    if status in (401, 403, 404, 429):
        return DENIED
    return ERROR


def _client_request_id() -> str | None:
    supplied = request.headers.get("X-Request-ID")
    return supplied if supplied and _CLIENT_REQUEST_ID.match(supplied) else None


def finish(response: Response) -> Response:
    ctx = recorder.current_context()
    if request.endpoint not in EXEMPT_ENDPOINTS:
        response = _record_and_commit(response, ctx)
    response.headers["X-Request-ID"] = ctx.request_id
    return response


def _record_and_commit(response: Response, ctx: recorder.CustodyContext) -> Response:
    status = response.status_code
    if status >= 400:
        db.session.rollback()
        ctx.appended.clear()  # rolled back with everything else; re-queued below
        for event in ctx.pending:
            if event.outcome == ALLOWED:
                event.outcome = _outcome_for(status)
            event.details = {**(event.details or {}), "status": status}
    if ctx.empty:
        if status < 400:
            logger.error("unaudited route %s served without a custody event", request.endpoint)
            db.session.rollback()
            response = problem_response(500, "This route is not audited; it refuses to serve.",
                                        problem="unaudited-route")
            status = 500
        queue_event(f"http.{request.endpoint or 'unrouted'}", _outcome_for(status),
                    route_target(request.path, request.view_args), current_principal(),
                    {"method": request.method, "status": status})
    try:
        recorder.commit()
    except CustodyUnavailable as exc:
        ctx.pending.clear()
        ctx.appended.clear()
        return problem_response(503, exc.detail, problem=exc.problem_type)
    return response


def init_app(app: Flask) -> None:
    app.before_request(begin)
