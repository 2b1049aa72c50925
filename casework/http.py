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

How every route is described in the OpenAPI contract is decided here too (``Blueprint``): its
operationId is its view's name, its summary its docstring's first line, and its examples come
from the schemas' fields (``example_fallback`` where a hand-written one would add nothing).
"""

from __future__ import annotations

import base64
import io
import logging
import re
from collections.abc import Callable, Iterator
from typing import IO, Any, TypeVar
from weakref import WeakKeyDictionary

from flask import Flask, Response, current_app, g, request
from flask.json.provider import DefaultJSONProvider
from flask_smorest import Blueprint as SmorestBlueprint
from marshmallow import RAISE, validate
from marshmallow import fields as ma_fields
from webargs import core
from webargs.flaskparser import FlaskParser, is_json_request
from werkzeug.exceptions import HTTPException
from werkzeug.routing import IntegerConverter

from casework import ranges
from casework.errors import BadInput, Invalid, UnsupportedMedia
from casework.settings import Settings, settings

log = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])

JSON_TYPES = ("application/json",)
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


def accepts_media(
    *media_types: str, large_body: bool = True, streamed_over: Callable[[Settings], int] | None = None
) -> Callable[[F], F]:
    """Mark a view as taking bodies other than JSON (and up to the upload limit).

    ``streamed_over`` picks a setting (bytes): a body longer than that is not read before the view
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


# A generic value for a field whose hand-written example would add nothing (an id, a time, a
# flag, a hash, a cursor, an enumeration's first member). Fields that say something about a case
# carry their own, ``metadata={"example": ...}`` on the schema that validates them, so the contract
# shows realistic requests and answers without a second copy of the schemas to keep in step.
EXAMPLE_TIME = "2026-03-11T09:30:00Z"
EXAMPLE_CURSOR = "azE6NTA"  # an opaque cursor as the API hands them out (casework.pagination)
EXAMPLE_DIGEST = "35d3a919b5a9bdb1ea5c0f63988523f755869b65f76f9826661d669c412c2887"  # hex SHA-256 or HMAC
EXAMPLE_SIGNATURE = "+0l4KoCdqYRI6+10/MiY6+9xLcjnvdcw6wUACOvPoFhcJcqZBTIvRF0Fwe/jl5NReyCgsmk6aQo8E7rUjeTySA=="


def example_fallback(converter: Any, field: ma_fields.Field, ret: dict[str, Any], **_: Any) -> dict[str, Any]:
    """apispec attribute function: the generic example of a field that names none.

    Not for query arguments (``*Args`` schemas): Swagger UI's "Try it out" would send an optional
    filter's example as if the reader had asked for it.
    """
    if "example" in ret or "example" in field.metadata or type(field.parent).__name__.endswith("Args"):
        return {}
    if ret.get("enum"):
        return {"example": ret["enum"][0]}
    name = field.name or ""
    if isinstance(field, ma_fields.DateTime):
        return {"example": EXAMPLE_TIME}
    if isinstance(field, ma_fields.Boolean):
        return {"example": False}
    if isinstance(field, ma_fields.Integer) and (name == "id" or name.endswith("_id")):
        return {"example": 1}
    if name.endswith(("sha256", "_hash")):
        return {"example": EXAMPLE_DIGEST}
    if name == "signature":
        return {"example": EXAMPLE_SIGNATURE}
    if name == "next_cursor":
        return {"example": EXAMPLE_CURSOR}
    return {}


OPERATION_ID = re.compile(r"^[a-z]+(_[a-z0-9]+)+$")
_operation_ids: WeakKeyDictionary[Any, dict[str, str]] = WeakKeyDictionary()


class Blueprint(SmorestBlueprint):
    """flask-smorest Blueprint whose arguments parser uses ``StrictJSONProvider``, and whose
    operations are named after their views.

    Each operation's ``operationId`` is its view function's name (verb_noun: ``create_incident``;
    a view whose endpoint predates this keeps it with ``route(..., endpoint=...)``), and must be
    unique in the API: generated clients name their functions after it. Its summary is the first
    line of the view's docstring (flask-smorest).
    """

    ARGUMENTS_PARSER = _Parser()

    def _store_endpoint_docs(self, endpoint: str, obj: Any, parameters: Any, tags: Any, **options: Any) -> None:
        super()._store_endpoint_docs(endpoint, obj, parameters, tags, **options)
        for method, doc in self._docs[endpoint].items():
            if method != "parameters":
                doc.setdefault("manual_doc", {}).setdefault("operationId", obj.__name__)

    def register_views_in_doc(self, api: Any, app: Flask, spec: Any, *, name: str, parameters: Any) -> None:
        """Before the spec converts this blueprint's schemas: the example fallback, once per spec; and
        an operationId another operation already has is refused at start, not found by a client."""
        converter = api.ma_plugin.converter
        if example_fallback not in [getattr(f, "__func__", None) for f in converter.attribute_functions]:
            converter.add_attribute_function(example_fallback)
        taken = _operation_ids.setdefault(spec, {})
        for endpoint, docs in self._docs.items():
            for method, doc in docs.items():
                if method == "parameters":
                    continue
                operation_id = doc["manual_doc"]["operationId"]
                where = f"{method.upper()} {name}.{endpoint}"
                if operation_id in taken:
                    raise ValueError(f"operationId {operation_id!r} of {where} is already {taken[operation_id]}'s")
                taken[operation_id] = where
        super().register_views_in_doc(api, app, spec, name=name, parameters=parameters)


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
        request.max_content_length = settings().http.json_max_bytes
    if not _has_body():
        return
    if getattr(view, "_casework_large_body", False) and not _carries_credentials():
        return  # uploads are never public: refused (401) before a view would read it
    streamed_over = getattr(view, "_casework_streamed_over", None)
    if streamed_over is not None and not _chunked() and (request.content_length or 0) > streamed_over(settings()):
        return  # the view streams it
    try:
        request.get_data(cache=True)
    except HTTPException as exc:  # 413 over the limit, 400 client disconnected
        g._casework_body_failure = exc
    except Exception as exc:
        log.info("malformed request body: %s", exc.__class__.__name__)
        g._casework_body_failure = BadInput(
            f"The {'chunked ' if _chunked() else ''}request body is malformed.", problem="malformed-body"
        )
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
        raise Invalid(
            "This resource takes no query parameters.",
            errors={"query": {name: ["Unknown field."] for name in request.args}},
        )
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
    if settings().http.hsts:
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


def repr_digest(sha256: bytes) -> str:
    """RFC 9530 ``Repr-Digest``: the whole representation's SHA-256, a structured-field byte sequence."""
    return f"sha-256=:{base64.b64encode(sha256).decode()}:"


def ranged_download(
    chunks: Iterator[bytes],
    selected: ranges.Selected,
    mimetype: str,
    *,
    sha256: bytes | None,
    etag: str | None = None,
    filename: str | None = None,
) -> Response:
    """The one shape of a download that can be resumed (exhibits, bundles): 200 or 206 with its
    Content-Range, the length, and the whole representation's digest on both."""
    response = Response(chunks, status=206 if selected.partial else 200, mimetype=mimetype, direct_passthrough=True)
    response.headers["Content-Length"] = str(max(selected.length, 0))
    response.headers["Accept-Ranges"] = "bytes"
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"' if filename else "attachment"
    if selected.partial:
        response.headers["Content-Range"] = selected.content_range
    if etag is not None:
        response.headers["ETag"] = etag
    if sha256 is not None:
        response.headers["Repr-Digest"] = repr_digest(sha256)
    return response
