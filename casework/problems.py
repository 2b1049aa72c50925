"""The HTTP edge of errors: every failure leaves as RFC 9457 problem+json, from one mapping.

Domain errors (``casework.errors``) get their status here and nowhere else; Werkzeug's and
webargs' HTTP errors (404 for an unknown URL, 405, 413, 422 from schema validation) and any
unexpected exception go through the same ``to_problem``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from flask import Response, has_request_context, json, request
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException

from casework import errors

log = logging.getLogger(__name__)

PROBLEM_MIMETYPE = "application/problem+json"
PROBLEM_BASE = "tag:casework,2026:problem/"

STATUS_OF: dict[type[errors.DomainError], int] = {
    errors.BadInput: 400,
    errors.Unauthenticated: 401,
    errors.Forbidden: 403,
    errors.NotFound: 404,
    errors.Conflict: 409,
    errors.Gone: 410,
    errors.TooLarge: 413,
    errors.UnsupportedMedia: 415,
    errors.Invalid: 422,
    errors.PreconditionFailed: 412,
    errors.RangeNotSatisfiable: 416,
    errors.ChecksumMismatch: 460,  # tus checksum extension
    errors.IntegrityFailure: 500,
    errors.LogCorrupted: 503,  # an inconsistency found while serving the log: never a 500
    errors.CustodyUnavailable: 503,
}

_DEFAULT_TYPES = {
    400: "bad-request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    409: "conflict",
    410: "gone",
    413: "payload-too-large",
    415: "unsupported-media-type",
    422: "validation-error",
    429: "too-many-requests",
    500: "internal-error",
    503: "unavailable",
}

_GENERIC_DETAILS = {
    400: "The request could not be understood (malformed JSON, bad encoding or bad parameters).",
    401: "Authentication is required.",
    403: "You are not allowed to do this.",
    404: "No such resource.",
    405: "This method is not allowed on this resource.",
    413: "The request body is too large.",
    415: "Unsupported content type.",
    429: "Too many requests; slow down.",
    500: "An unexpected error occurred; it has been logged.",
}


# Statuses outside the IANA registry that Python's HTTPStatus does not know.
_TITLES = {460: "Checksum Mismatch"}


def status_of(error: errors.DomainError) -> int:
    for kind in type(error).__mro__:
        if kind in STATUS_OF:
            return STATUS_OF[kind]
    return 500


@dataclass(frozen=True)
class Problem:
    """One failure, as every door shows it: status, kind, words, field errors, headers."""

    status: int
    detail: str
    problem: str
    errors: Any = None
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def title(self) -> str:
        return _TITLES.get(self.status) or HTTPStatus(self.status).phrase


# URL prefixes whose failures are shown as pages (the workbench's /app/), not problem+json: the
# same Problem, rendered by that door's own function (unknown URLs under it too).
_PAGE_RENDERERS: dict[str, Callable[[Problem], Response]] = {}


def render_as_page(prefix: str, renderer: Callable[[Problem], Response]) -> None:
    _PAGE_RENDERERS[prefix] = renderer


def _page_renderer() -> Callable[[Problem], Response] | None:
    if not has_request_context():
        return None
    path = request.path
    return next(
        (render for prefix, render in _PAGE_RENDERERS.items() if path.startswith(prefix) or path == prefix.rstrip("/")),
        None,
    )


def problem_response(
    status: int, detail: str, *, problem: str | None = None, errors: Any = None, headers: dict[str, str] | None = None
) -> Response:
    failure = Problem(status, detail, problem or _DEFAULT_TYPES.get(status, "error"), errors, dict(headers or {}))
    renderer = _page_renderer()
    if renderer is not None:
        return renderer(failure)
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + failure.problem,
        "title": failure.title,
        "status": status,
        "detail": detail,
    }
    if errors:
        body["errors"] = errors
    response = Response(json.dumps(body), status=status, mimetype=PROBLEM_MIMETYPE)
    for key, value in failure.headers.items():
        response.headers[key] = value
    return response


def _domain_headers(error: errors.DomainError) -> dict[str, str]:
    if isinstance(error, errors.Unauthenticated):
        return {"WWW-Authenticate": "Bearer"}
    if isinstance(error, errors.UnsupportedMedia):
        return {"Accept": ", ".join(sorted(error.accepted))}
    if isinstance(error, errors.RangeNotSatisfiable):
        return {"Content-Range": f"bytes */{error.size}"}
    return {}


def to_problem(error: BaseException) -> Response:
    """Turn any exception into a problem+json response."""
    if isinstance(error, errors.DomainError):
        status = status_of(error)
        if status >= 500:
            log.error("%s: %s", error.problem_type, error.detail)
        return problem_response(
            status, error.detail, problem=error.problem_type, errors=error.errors, headers=_domain_headers(error)
        )
    if isinstance(error, HTTPException):
        status = error.code or 500
        detail = _GENERIC_DETAILS.get(status, error.description or "")
        data = getattr(error, "data", None) or {}
        messages = data.get("messages") if isinstance(data, dict) else None
        if messages:  # webargs / flask-smorest: {"json": {...}} or {"query": {...}}
            detail = "The request did not validate; see errors."
        headers = {}
        if status == 405 and getattr(error, "valid_methods", None):
            headers["Allow"] = ", ".join(error.valid_methods)  # type: ignore[attr-defined]
        if status == 429 and getattr(error, "retry_after", None):
            headers["Retry-After"] = str(error.retry_after)  # type: ignore[attr-defined]
        return problem_response(status, detail, errors=messages or None, headers=headers)
    if _database_busy(error):
        log.warning("database busy: %s", error)
        return problem_response(
            503,
            "The database is busy; nothing was changed. Try again shortly.",
            problem="database-busy",
            headers={"Retry-After": "1"},
        )
    log.error("unhandled error", exc_info=error)
    return problem_response(500, _GENERIC_DETAILS[500])


def _database_busy(error: BaseException) -> bool:
    """SQLite's writer lock not granted within its busy timeout (two writers at once on the
    embedded default): transient, so a 503 to retry, never a 500. The request's writes roll back."""
    return isinstance(error, OperationalError) and "database is locked" in str(error.orig)
