"""The one way to record a custody event, and the request hooks that make forgetting impossible.

Services call ``record`` (usually through ``casework.auth.policy.authorize``). At the end
of every API request ``finish_request``:

* turns a failure that reached no service into an event of its own (401, 422, 413, ...);
* refuses (500) a successful response that recorded nothing: an unaudited route is a bug;
* rolls back the domain changes of any failed request, so failures never write;
* appends the events and commits them in the same transaction as the request's writes,
  before the response leaves; if that fails, the answer is 503 and nothing is kept.
"""
from __future__ import annotations

import logging
import re
import uuid
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, Response, current_app, g, has_request_context, request
from sqlalchemy.exc import SQLAlchemyError

from casework.custody import log as custody_log
from casework.db import db
from casework.errors import ProblemError, problem_response

logger = logging.getLogger(__name__)

ALLOWED, DENIED, ERROR = "allowed", "denied", "error"

# Endpoints that touch no case data, credentials or custody log. Keep this list short:
# tests/test_custody_coverage.py asserts every other route records an event.
EXEMPT_ENDPOINTS = frozenset({"health", "api-docs.openapi_json"})

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


class CustodyUnavailable(ProblemError):
    def __init__(self) -> None:
        super().__init__(503, "The chain-of-custody log could not record this request, so it was not served.",
                         problem="custody-unavailable")


@dataclass
class Actor:
    id: int | None
    username: str | None
    role: str | None


@dataclass
class CustodyContext:
    request_id: str
    client_addr: str | None
    pending: list[custody_log.NewEvent] = field(default_factory=list)
    appended: list[custody_log.Appended] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.pending and not self.appended


def current_context() -> CustodyContext:
    """The context of this request, or of this CLI command (actor ``system``)."""
    ctx = g.get("_custody")
    if ctx is None:
        ctx = CustodyContext(request_id=uuid.uuid4().hex, client_addr=None)
        g._custody = ctx
    return ctx


def _current_actor() -> Actor:
    if has_request_context():
        from flask_login import current_user

        if current_user and current_user.is_authenticated:
            return Actor(current_user.id, current_user.username, current_user.role)
        return Actor(None, None, None)
    return Actor(None, "system", "system")


def record(
    action: str,
    *,
    outcome: str = ALLOWED,
    resource_type: str | None = None,
    resource_id: Any = None,
    case_id: int | None = None,
    witness_id: int | None = None,
    details: dict[str, Any] | None = None,
    actor: Actor | None = None,
) -> custody_log.NewEvent:
    """Queue a custody event for this request; it is appended when the request ends (or ``flush``)."""
    actor = actor or _current_actor()
    ctx = current_context()
    event = custody_log.NewEvent(
        action=action,
        outcome=outcome,
        actor_id=actor.id,
        actor_username=actor.username,
        actor_role=actor.role,
        resource_type=resource_type,
        resource_id=None if resource_id is None else str(resource_id),
        case_id=case_id,
        witness_id=witness_id,
        request_id=ctx.request_id,
        client_addr=ctx.client_addr,
        details=dict(details or {}),
    )
    ctx.pending.append(event)
    return event


def flush() -> list[custody_log.Appended]:
    """Append queued events now, inside the current transaction (for receipts that need seq)."""
    ctx = current_context()
    if not current_app.config["CASEWORK_CUSTODY_RECORDING"]:
        ctx.pending.clear()
        return []
    try:
        rows = custody_log.append(ctx.pending)
    except Exception as exc:  # whatever stops the log from recording stops the request
        logger.error("custody append failed: %s", exc.__class__.__name__)
        db.session.rollback()
        raise CustodyUnavailable() from exc
    ctx.pending.clear()
    ctx.appended.extend(rows)
    return rows


def commit() -> list[custody_log.Appended]:
    """Append queued events and commit them with everything else in the transaction."""
    rows = flush()
    try:
        db.session.commit()
    except SQLAlchemyError as exc:
        logger.error("custody commit failed: %s", exc.__class__.__name__)
        db.session.rollback()
        raise CustodyUnavailable() from exc
    return rows


def _outcome_for(status: int) -> str:
    if status < 400:
        return ALLOWED
    if status in (401, 403, 404, 429):
        return DENIED
    return ERROR


def start_request() -> None:
    supplied = request.headers.get("X-Request-ID", "")
    g._custody = CustodyContext(
        request_id=supplied if _REQUEST_ID.match(supplied) else uuid.uuid4().hex,
        client_addr=request.remote_addr,
    )


def finish_request(response: Response) -> Response:
    ctx = current_context()
    if request.endpoint not in EXEMPT_ENDPOINTS:
        response = _record_and_commit(response, ctx)
    response.headers["X-Request-ID"] = ctx.request_id
    return response


def _record_and_commit(response: Response, ctx: CustodyContext) -> Response:
    status = response.status_code
    if status >= 400:
        db.session.rollback()
        ctx.appended.clear()  # rolled back with everything else; re-queue a failure event below
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
        record(
            f"http.{request.endpoint or 'unrouted'}",
            outcome=_outcome_for(status),
            details={"method": request.method, "status": status},
        )
    try:
        commit()
    except CustodyUnavailable as exc:
        ctx.pending.clear()
        ctx.appended.clear()
        return problem_response(503, exc.description or "", problem=exc.problem)
    return response


def init_app(app: Flask) -> None:
    app.before_request(start_request)
