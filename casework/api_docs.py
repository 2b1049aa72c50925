"""The docs page: Swagger UI for the OpenAPI document, at ``/api/v1/docs``, from files we serve.

Swagger UI's files come from the ``flask-swagger-ui`` package (its ``dist`` directory, the
upstream swagger-ui-dist build), never from a CDN: the page works with no network beyond this
server. Only those files are used, not the package's blueprint, nor flask-smorest's Swagger UI
page (``OPENAPI_SWAGGER_UI_PATH``): both start Swagger UI with an inline script, which the
page's Content-Security-Policy forbids. Here the page loads our own initializer file instead,
and its policy allows scripts, styles and requests from this origin only (and ``data:`` images:
Swagger UI's stylesheet draws its icons that way).

The page and its files are the same for everyone and hold no case data, so they are public and
record no custody event (``casework.access.hooks.EXEMPT_ENDPOINTS``), as the OpenAPI document is.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from flask import Blueprint, Flask, Response, abort, current_app, render_template_string, send_file, url_for

blp = Blueprint("docs", __name__)

# What the page uses of the package, and nothing else it ships (no oauth2-redirect page).
ASSETS = {
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui.css": "text/css",
    "index.css": "text/css",
    "favicon-32x32.png": "image/png",
    "favicon-16x16.png": "image/png",
}
ASSET_MAX_AGE = 3600

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)

_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>{{ title }}: API documentation</title>
  <link rel="stylesheet" href="{{ asset('index.css') }}">
  <link rel="stylesheet" href="{{ asset('swagger-ui.css') }}">
  <link rel="icon" type="image/png" href="{{ asset('favicon-32x32.png') }}" sizes="32x32">
  <link rel="icon" type="image/png" href="{{ asset('favicon-16x16.png') }}" sizes="16x16">
</head>
<body>
  <div id="swagger-ui" data-spec-url="{{ spec_url }}"></div>
  <script src="{{ asset('swagger-ui-bundle.js') }}"></script>
  <script src="{{ initializer }}"></script>
</body>
</html>
"""

# Starts Swagger UI on the document the page names. validatorUrl: null, or Swagger UI would send
# the document's address to validator.swagger.io for a badge.
_INITIALIZER = """"use strict";
window.addEventListener("load", function () {
  var container = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: container.dataset.specUrl,
    dom_id: "#swagger-ui",
    deepLinking: true,
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout"
  });
});
"""


def _dist() -> Path:
    return Path(str(files("flask_swagger_ui") / "dist"))


def _with_policy(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    return response


@blp.get("", endpoint="page")
def page() -> Response:
    """The HTML page: no inline script or style, so the strict policy holds."""
    html = render_template_string(
        _PAGE,
        title=current_app.config.get("API_TITLE", "API"),
        spec_url=url_for("api-docs.openapi_json"),
        initializer=url_for("docs.initializer"),
        asset=lambda name: url_for("docs.asset", name=name),
    )
    return _with_policy(Response(html, mimetype="text/html"))


@blp.get("/swagger-initializer.js", endpoint="initializer")
def initializer() -> Response:
    return _with_policy(Response(_INITIALIZER, mimetype="text/javascript"))


@blp.get("/assets/<name>", endpoint="asset")
def asset(name: str) -> Response:
    """One of Swagger UI's files, by an allowlist (never a path into the package)."""
    mimetype = ASSETS.get(name)
    if mimetype is None:
        abort(404)
    response = send_file(_dist() / name, mimetype=mimetype, max_age=ASSET_MAX_AGE, conditional=True)
    return _with_policy(response)


def init_app(app: Flask) -> None:
    """Under the OpenAPI document's prefix: ``/api/v1/docs``."""
    app.register_blueprint(blp, url_prefix=f"{app.config['OPENAPI_URL_PREFIX'].rstrip('/')}/docs")
