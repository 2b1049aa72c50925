"""Request and response rules every route shares: media types, body sizes, security headers.

Also what a request may not be: a path with an empty segment (``//``) is an unknown URL (404),
never a redirect; a query parameter no schema of the route names is 422; a body whose chunked
framing is broken is 400, found before any view runs. Each of these is refused like any other
failure, with its custody event (``casework.access.hooks``).

Bodies are read whole before anything touches the database (``read_body_first``, the first
request hook): authentication opens the request's transaction, and on SQLite every transaction
holds the database's write lock from its first statement, so a client sending its body slowly
must not hold it while it sends. A failure met while reading (413, broken framing) is kept and
answered once the request's custody context and caller are known (``check_request_body``). Only
a view that streams its body (tus PATCH) is not read first, unless its body is at most the size
the view names (``accepts_media(streamed_over=...)``: one exhibit chunk).
"""
from __future__ import annotations

import io
import logging
from collections.abc import Callable
from typing import IO, Any, TypeVar

from flask import Flask, Response, current_app, g, request
from flask.json.provider import DefaultJSONProvider
from flask_smorest import Blueprint as SmorestBlueprint
from marshmallow import RAISE, validate
from webargs import core
from webargs.flaskparser import FlaskParser, is_json_request
from werkzeug.exceptions import HTTPException
from werkzeug.routing import IntegerConverter

from casework.errors import BadInput, Invalid, UnsupportedMedia

log = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])

JSON_TYPES = ("application/json",)
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


def accepts_media(*media_types: str, large_body: bool = True, streamed_over: str | None = None) -> Callable[[F], F]:
    """Mark a view as taking bodies other than JSON (and up to the upload limit).

    ``streamed_over`` names a setting (bytes): a body longer than that is not read before the view
    runs; the view streams it itself (``request_body``).
    """

    def mark(view: F) -> F:
        view._casework_media = frozenset(media_types) | set(JSON_TYPES)  # type: ignore[attr-defined]
        view._casework_large_body = large_body  # type: ignore[attr-defined]
        view._casework_streamed_over = streamed_over  # type: ignore[attr-defined]
        return view

    return mark


def reject_unstorable(value: Any) -> None:
    """NUL characters and unpaired surrogates: no database stores them, and no witness says them."""
    if isinstance(value, str):
        if "\x00" in value:
            raise ValueError("strings may not contain NUL characters")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("strings may not contain unpaired surrogates") from None
    elif isinstance(value, dict):
        for key, item in value.items():
            reject_unstorable(key)
            reject_unstorable(item)
    elif isinstance(value, list):
        for item in value:
            reject_unstorable(item)


class StrictJSONProvider(DefaultJSONProvider):
    """JSON bodies that parse but could not be stored are malformed input (400), not a 500."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        try:
            value = super().loads(s, **kwargs)
            reject_unstorable(value)
        except RecursionError:
            raise ValueError("JSON nested too deeply") from None
        return value


class _Parser(FlaskParser):
    """webargs reads JSON bodies through the app's (strict) JSON provider, like everything else.

    Unknown query parameters are refused (422), as unknown JSON fields are: webargs would
    otherwise drop them silently.
    """

    DEFAULT_UNKNOWN_BY_LOCATION = {**FlaskParser.DEFAULT_UNKNOWN_BY_LOCATION, "query": RAISE, "querystring": RAISE}

    def _raw_load_json(self, req: Any) -> Any:
        return req.get_json() if is_json_request(req) else core.missing


class Blueprint(SmorestBlueprint):
    """flask-smorest Blueprint whose arguments parser uses ``StrictJSONProvider``."""

    ARGUMENTS_PARSER = _Parser()


def _view() -> Any:
    return current_app.view_functions.get(request.endpoint or "")


def _declares_query(view: Any) -> bool:
    """Whether the route reads its query string: a query schema (flask-smorest) or its own parsing."""
    parameters = getattr(view, "_apidoc", {}).get("arguments", {}).get("parameters", [])
    return any(parameter.get("in") == "query" for parameter in parameters) or hasattr(view, "_casework_media")


def _chunked() -> bool:
    return "chunked" in request.headers.get("Transfer-Encoding", "").lower()


def _has_body() -> bool:
    return (request.content_length or 0) > 0 or _chunked()


def _carries_credentials() -> bool:
    return "Authorization" in request.headers or current_app.config["SESSION_COOKIE_NAME"] in request.cookies


def read_body_first() -> None:
    """The first request hook: read the body whole, within the view's size limit, before any hook
    or view opens a database transaction (see the module's docstring).

    Chunked bodies are always read here: the server decodes the chunks as the body is read, and
    whatever it raises then (gunicorn's ``InvalidChunkSize``, ``NoMoreData``, ...) means the
    framing is malformed. Nothing is raised here, where the request has no custody context yet:
    a failure is kept for ``check_request_body``.
    """
    view = _view()
    if view is None or request.method not in BODY_METHODS:
        return
    if not getattr(view, "_casework_large_body", False):
        request.max_content_length = current_app.config["CASEWORK_JSON_MAX_BYTES"]
    if not _has_body():
        return
    if getattr(view, "_casework_large_body", False) and not _carries_credentials():
        return  # uploads are never public: refused (401) before a view would read it
    streamed_over = getattr(view, "_casework_streamed_over", None)
    if streamed_over is not None and not _chunked() \
            and (request.content_length or 0) > current_app.config[streamed_over]:
        return  # the view streams it
    try:
        request.get_data(cache=True)
    except HTTPException as exc:  # 413 over the limit, 400 client disconnected
        g._casework_body_failure = exc
    except Exception as exc:
        log.info("malformed request body: %s", exc.__class__.__name__)
        g._casework_body_failure = BadInput(f"The {'chunked ' if _chunked() else ''}request body is malformed.",
                                            problem="malformed-body")
    else:
        g._casework_body_read = True


def request_body() -> tuple[IO[bytes], int | None]:
    """A body a view streams itself: the stream and the length the client announced (None when
    chunked). A body read before the view (chunked, or short enough) comes from memory."""
    if g.get("_casework_body_read"):
        return io.BytesIO(request.get_data(cache=True)), None if _chunked() else request.content_length
    return request.stream, request.content_length


def check_request_body() -> None:
    try:
        reject_unstorable(list(request.args.keys()) + list(request.args.values()))
    except ValueError as exc:
        raise BadInput(f"Bad query string: {exc}.") from None
    view = _view()
    if view is None:
        return
    if request.args and hasattr(view, "_apidoc") and not _declares_query(view):
        raise Invalid("This resource takes no query parameters.",
                      errors={"query": {name: ["Unknown field."] for name in request.args}})
    if request.method not in BODY_METHODS or not _has_body():
        return
    allowed = getattr(view, "_casework_media", JSON_TYPES)
    if request.mimetype not in allowed:
        raise UnsupportedMedia(f"Send {' or '.join(sorted(allowed))}.", accepted=tuple(allowed))
    failure = g.pop("_casework_body_failure", None)
    if failure is not None:
        raise failure


SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Pragma": "no-cache",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "interest-cohort=()",
}


def add_security_headers(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if current_app.config.get("CASEWORK_HSTS"):
        response.headers["Strict-Transport-Security"] = "max-age=63072000; includeSubDomains"
    return response


MAX_ID = 2**31 - 1  # object ids are 32-bit INTEGER columns on both databases
# Custody sequence numbers and tree sizes are 64-bit columns, but every integer a request names
# may end up in a custody event, whose canonical JSON (I-JSON) stops at 2**53 - 1: larger ones are
# 422 (query) or an unknown URL (path), recorded like any refusal, never an unrecordable request.
MAX_SEQ = 2**53 - 1
ID_RANGE = validate.Range(min=1, max=MAX_ID)


class DatabaseIdConverter(IntegerConverter):
    """``<int:...>`` capped at the id columns' range: a larger id is an unknown URL (404), never a
    database error. Routes over custody seqs say ``<int(max=MAX_SEQ):...>``."""

    def __init__(self, map, *args, **kwargs) -> None:
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)


def init_app(app: Flask) -> None:
    app.json = StrictJSONProvider(app)
    app.url_map.converters["int"] = DatabaseIdConverter
    # "/api/v1//cases" is no route (404, recorded), not a redirect that nothing would record.
    app.url_map.merge_slashes = False
    # First of all the request hooks: before authentication opens the request's transaction.
    app.before_request_funcs.setdefault(None, []).insert(0, read_body_first)
    app.before_request(check_request_body)
