"""The request hooks that make an unrecorded request impossible.

At the start of every API request ``begin`` opens the request's custody context under a
server-generated request id, and ``throttle_anonymous`` holds callers without a valid session
or token to a per-address limit (``CASEWORK_ANONYMOUS_LIMIT``) before they are refused or served.
Refusals by any rate limit are summarised (``summarise_throttled``): the first per address and
window records ``http.throttled``; the rest are counted in the limiter's shared storage, and the
count goes into the next window's event. At its end ``finish``:

* records an event for a failure that reached no service (401, 413, 415, 422, 429, ...),
  against the resource the matched route names, so it files beside the service's events;
* refuses (500) a successful response that recorded nothing: an unaudited route is a bug;
* records nothing for a 429 that the throttle handler marked as summarised;
* rolls back the domain writes of any failed request, so failures never write;
* records the events and commits them with the request's writes before the response
  leaves (on PostgreSQL into the intake queue, placed in the tree in batches: see
  ``casework.custody.log``); if that fails, the answer is 503 and nothing is kept.
"""

from __future__ import annotations

import logging
import math
import re
import time
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from flask import Flask, Response, request
from limits import RateLimitItem, parse_many
from werkzeug.exceptions import TooManyRequests

from casework.access.door import ALLOWED, ANONYMOUS, DENIED, ERROR, current_principal, queue_event
from casework.access.targets import Target
from casework.custody import recorder
from casework.db import db
from casework.errors import CustodyUnavailable
from casework.extensions import THROTTLE_HANDLER, limiter
from casework.problems import problem_response
from casework.settings import settings

logger = logging.getLogger(__name__)

# Endpoints that touch no case data, credentials or custody log. Keep this list short:
# tests/access/test_custody_coverage.py asserts every other route records an event. The docs page
# (casework/api_docs.py: the page, its initializer, Swagger UI's files) is the same for everyone.
# The workbench's pages that show no data (its login, password and second-factor forms) and its
# static files are exempt too; what those forms send is recorded by the services they call.
EXEMPT_ENDPOINTS = frozenset(
    {
        "health",
        "api-docs.openapi_json",
        "docs.page",
        "docs.initializer",
        "docs.asset",
        "workbench.static",
        "workbench.login_page",
        "workbench.password_page",
        "workbench.mfa_page",
    }
)
_CLIENT_REQUEST_ID = re.compile(r"^[\x21-\x7e]{1,128}$")

# Path parameters, most specific first, and the resource each one names.
_PATH_RESOURCES = (
    ("seq", "custody_event"),
    ("exhibit_id", "exhibit"),
    ("redaction_id", "redaction"),
    ("disclosure_id", "disclosure"),
    ("token_id", "token"),
    ("interview_id", "interview"),
    ("witness_id", "witness"),
    ("incident_id", "incident"),
    ("case_id", "case"),
    ("user_id", "user"),
)
# Routes without parameters name a collection: the first segment after the API prefix.
_COLLECTIONS = {"cases": "case", "users": "user", "auth": "user", "custody": "custody_log", "erasures": "erasure"}

THROTTLED_ACTION = "http.throttled"
_ANONYMOUS_SCOPE = "casework-anonymous"
# How long a window's count of suppressed refusals waits, in the shared storage, for the first
# refusal of a later window to record it.
_CARRY_SECONDS = 7 * 24 * 3600
_PATH_CHARS = 256


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
    recorder.begin(request.remote_addr, _client_request_id(), headers_only=request.method == "HEAD")


@lru_cache(maxsize=16)
def anonymous_limits(text: str) -> tuple[RateLimitItem, ...]:
    """``CASEWORK_ANONYMOUS_LIMIT`` parsed ("60 per minute"; several separated by ";")."""
    return tuple(parse_many(text))


def throttle_anonymous() -> None:
    """A caller with no valid session or bearer token (login included) is limited per address.

    Runs after ``begin`` and before ``require_authentication``, so an anonymous flood is
    answered 429 (summarised) rather than 401 (one event each). Counters live in the
    limiter's storage (``CASEWORK_RATELIMIT_STORAGE``), shared by every worker.
    """
    if request.endpoint in EXEMPT_ENDPOINTS or not (limiter.enabled and limiter.initialized):
        return
    if current_principal() != ANONYMOUS:
        return
    address = request.remote_addr or "unknown"
    strategy = limiter.limiter
    for item in anonymous_limits(settings().auth.anonymous_limit):
        if not strategy.hit(item, _ANONYMOUS_SCOPE, address):
            reset_time = strategy.get_window_stats(item, _ANONYMOUS_SCOPE, address).reset_time
            summarise_throttled(item, item.key_for(_ANONYMOUS_SCOPE, address), reset_time)
            raise TooManyRequests(retry_after=max(1, math.ceil(reset_time - time.time())))


def summarise_throttled(item: RateLimitItem, limit_key: str, reset_time: float) -> None:
    """The throttle handler, for every refusal by a rate limit (anonymous or login limits).

    Marks the request summarised, so ``finish`` records nothing for it, except for the first
    refusal per address in the limit's window: that one records ``http.throttled``, with the
    number of refusals the previous window suppressed. The state is in the limiter's storage
    (Redis in production), so workers share it: the counter's atomic increment elects the one
    refusal per window that records.
    """
    recorder.current_context().summarised = True
    storage = limiter.storage
    window_key = f"casework-throttled/{request.remote_addr or 'unknown'}/{limit_key}"
    carry_key = f"{window_key}/suppressed"
    # Expires with the limit's window (rounded up to the second): the next window starts afresh.
    if storage.incr(window_key, max(1, math.ceil(reset_time - time.time()))) > 1:
        storage.incr(carry_key, _CARRY_SECONDS)
        return
    suppressed = storage.get(carry_key)
    if suppressed and storage.incr(carry_key, _CARRY_SECONDS, amount=-suppressed) < 0:
        storage.clear(carry_key)  # the carry expired in between: start it again from zero
    window_start = datetime.fromtimestamp(reset_time - item.get_expiry(), UTC)
    queue_event(
        THROTTLED_ACTION,
        DENIED,
        route_target(request.path, request.view_args),
        current_principal(),
        {
            "window_start": window_start.isoformat(timespec="seconds").replace("+00:00", "Z"),
            "limit": str(item),
            "path": "".join(ch if ch.isprintable() else "\ufffd" for ch in request.path[:_PATH_CHARS]),
            "suppressed_in_previous_window": suppressed,
        },
    )


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
        ctx.rolled_back()  # with everything else; what was spilled is queued again, and re-marked below
        for event in ctx.pending:
            if event.outcome == ALLOWED:
                event.outcome = _outcome_for(status)
            event.details = {**(event.details or {}), "status": status}
    if ctx.empty:
        if ctx.summarised and status == 429:
            return response  # counted in its window's http.throttled event; nothing to append
        if status < 400:
            logger.error("unaudited route %s served without a custody event", request.endpoint)
            db.session.rollback()
            response = problem_response(
                500, "This route is not audited; it refuses to serve.", problem="unaudited-route"
            )
            status = 500
        queue_event(
            f"http.{request.endpoint or 'unrouted'}",
            _outcome_for(status),
            route_target(request.path, request.view_args),
            current_principal(),
            {"method": request.method, "status": status},
        )
    try:
        recorder.commit()
    except CustodyUnavailable as exc:
        ctx.discard()
        return problem_response(503, exc.detail, problem=exc.problem_type)
    return response


def init_app(app: Flask) -> None:
    app.extensions[THROTTLE_HANDLER] = summarise_throttled
    app.before_request(begin)
    app.before_request(throttle_anonymous)  # before credentials.require_authentication
