"""The one error format: RFC 9457 problem details (application/problem+json).

Every failure, whether raised by a service rule, by webargs validation, by Werkzeug
(404/405/413/415) or by an unexpected exception, leaves through ``problem_response``.
"""
from __future__ import annotations

import logging
from typing import Any

from flask import Response, json
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)

PROBLEM_MIMETYPE = "application/problem+json"
PROBLEM_BASE = "tag:casework,2026:problem/"

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
    428: "precondition-required",
    429: "too-many-requests",
    500: "internal-error",
    503: "unavailable",
}


class ProblemError(HTTPException):
    """An HTTP error with a problem type, a human detail and optional field errors."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        problem: str | None = None,
        title: str | None = None,
        errors: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(description=detail)
        self.code = status
        self.problem = problem or _DEFAULT_TYPES.get(status, "error")
        self.title = title
        self.errors = errors
        self.extra_headers = headers or {}


def problem_response(
    status: int,
    detail: str,
    *,
    problem: str | None = None,
    title: str | None = None,
    errors: Any = None,
    headers: dict[str, str] | None = None,
) -> Response:
    from http import HTTPStatus

    body: dict[str, Any] = {
        "type": PROBLEM_BASE + (problem or _DEFAULT_TYPES.get(status, "error")),
        "title": title or HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
    }
    if errors:
        body["errors"] = errors
    response = Response(json.dumps(body), status=status, mimetype=PROBLEM_MIMETYPE)
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


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


def to_problem(error: BaseException) -> Response:
    """Turn any exception into a problem+json response."""
    if isinstance(error, ProblemError):
        return problem_response(
            error.code or 500,
            error.description or "",
            problem=error.problem,
            title=error.title,
            errors=error.errors,
            headers=error.extra_headers,
        )
    if isinstance(error, HTTPException):
        status = error.code or 500
        errors = None
        detail = _GENERIC_DETAILS.get(status, error.description or "")
        data = getattr(error, "data", None) or {}
        messages = data.get("messages") if isinstance(data, dict) else None
        if messages:
            # webargs/flask-smorest: {"json": {...}} or {"query": {...}}
            errors = messages
            detail = "The request did not validate; see errors."
        headers = {}
        if status == 405 and hasattr(error, "valid_methods") and error.valid_methods:
            headers["Allow"] = ", ".join(error.valid_methods)
        if status == 429:
            retry = getattr(error, "retry_after", None)
            if retry:
                headers["Retry-After"] = str(retry)
        return problem_response(status, detail, errors=errors, headers=headers)
    log.exception("unhandled error", exc_info=error)
    return problem_response(500, _GENERIC_DETAILS[500])
