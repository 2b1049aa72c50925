"""The workbench's blueprint and what every page shares: the page policy, rendering, forms.

Pages are server-rendered and call the same services as the API, so each page that reads case
data records the same custody event through the same door (``casework.access.door``). The page
policy allows scripts, styles and connections to this origin only, and no inline script or
style: htmx is configured by a ``<meta>`` tag and the workbench's own modules read their
parameters from ``data-`` attributes.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, render_template, request, session
from marshmallow import Schema, ValidationError

from casework.errors import BadInput, Conflict, DomainError, Invalid
from casework.http import accepts_media
from casework.problems import status_of

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"

blp = Blueprint(
    "workbench",
    __name__,
    url_prefix="/app",
    template_folder="templates",
    static_folder=str(STATIC_DIR),
    static_url_path="/static",
)

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; font-src 'self'; "
    "connect-src 'self'; media-src 'self' blob:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)

FORM_MEDIA = ("application/x-www-form-urlencoded", "multipart/form-data")
# A form post: URL-encoded or multipart, no larger than a JSON body (files go through the upload views).
form_view = accepts_media(*FORM_MEDIA, large_body=False)
# A form that carries a file (a statement): up to the upload limit.
file_form_view = accepts_media("multipart/form-data", large_body=True)

# Failures a form shows beside its fields, the form kept; anything else is an error page.
_SHOWN_IN_FORM = (Invalid, Conflict, BadInput)


def render(template: str, status: int = 200, **context: Any) -> Response:
    """A page, under the page policy."""
    response = Response(render_template(template, **context), status=status, mimetype="text/html")
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    return response


def form_failed(error: DomainError, template: str, **context: Any) -> Response:
    """Show a rule a form broke beside the form, with its status (422, 409, 400), the input kept.

    Refusals (403, 404) and everything else propagate to the error page, as in the API.
    """
    if not isinstance(error, _SHOWN_IN_FORM):
        raise error
    return render(template, status=status_of(error), error=error, form=request.form, **context)


def load_form(schema: Schema, data: Mapping[str, Any]) -> dict[str, Any]:
    """Validate a form's fields with the API's own schema: one set of rules for both doors."""
    try:
        return schema.load(dict(data))
    except ValidationError as exc:
        raise Invalid("Some fields are not valid.", errors=exc.normalized_messages()) from None


def form_fields(*names: str, lists: tuple[str, ...] = ()) -> dict[str, Any]:
    """The named fields a form sent, empty ones left out (the schema's defaults apply)."""
    values: dict[str, Any] = {}
    for name in names:
        value = request.form.get(name, "").strip()
        if value:
            values[name] = value
    for name in lists:
        chosen = [v for v in request.form.getlist(name) if v.strip()]
        if chosen:
            values[name] = chosen
    return values


# The main menu: (endpoint, label, roles that see it), added by each page module as it loads.
NAV_LINKS: list[tuple[str, Any, frozenset[str]]] = []


def nav_link(endpoint: str, label: Any, *roles: str) -> None:
    NAV_LINKS.append((f"workbench.{endpoint}", label, frozenset(roles)))


def csrf_token() -> str:
    """The session's token (from login), for forms' hidden field and htmx's header."""
    token = session.get("csrf")
    return token if isinstance(token, str) else ""
