"""The docs page (/api/v1/docs): public, from files we serve, under a strict policy, and really
rendering the operations in a browser: Debian's chromium, driven by Playwright (never a browser
Playwright downloads), against a real gunicorn."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from flask import Flask

from casework.api_docs import ASSETS, CONTENT_SECURITY_POLICY
from tests.browser import violations, watched_context
from tests.conftest import make_app
from tests.helpers import all_events
from tests.pg_server import ROOT, gunicorn

DOCS = "/api/v1/docs"
_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")  # an OpenAPI path item's


def test_the_page_is_public_and_loads_only_our_files(app: Flask):
    """No credentials; every script and stylesheet is a file of this server, none inline."""
    client = app.test_client()
    page = client.get(DOCS)
    assert page.status_code == 200 and page.mimetype == "text/html"
    assert page.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    html = page.get_data(as_text=True)
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", html, re.DOTALL)
    assert scripts and all('src="/' in attrs and not body.strip() for attrs, body in scripts)
    assert "<style" not in html and "style=" not in html
    links = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert links and all(link.startswith(f"{DOCS}/") for link in links), links
    assert 'data-spec-url="/api/v1/openapi.json"' in html
    for link in links:
        served = client.get(link)
        assert served.status_code == 200, link
        assert served.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    initializer = client.get(f"{DOCS}/swagger-initializer.js").get_data(as_text=True)
    assert "validatorUrl: null" in initializer  # no badge fetched from validator.swagger.io


def test_only_the_listed_assets_are_served(app: Flask):
    """An allowlist, not a directory: nothing else the package ships, no path out of it."""
    client = app.test_client()
    for name, mimetype in ASSETS.items():
        served = client.get(f"{DOCS}/assets/{name}")
        assert served.status_code == 200 and served.mimetype == mimetype, name
        assert "max-age=3600" in served.headers["Cache-Control"]
    for name in ("oauth2-redirect.html", "swagger-ui.js", "VERSION", "..%2F__init__.py", "..%2F..%2Fflask"):
        assert client.get(f"{DOCS}/assets/{name}").status_code == 404, name


def test_reading_the_docs_records_no_custody_event(app: Flask):
    """Not case data, like the OpenAPI document: exempt from custody (and from login)."""
    before = all_events(app)
    client = app.test_client()
    for path in (DOCS, f"{DOCS}/swagger-initializer.js", f"{DOCS}/assets/swagger-ui.css", "/api/v1/openapi.json"):
        assert client.get(path).status_code == 200, path
    assert all_events(app) == before


@pytest.fixture(scope="module")
def docs_server(tmp_path_factory: pytest.TempPathFactory):
    """`make serve`'s gunicorn, on a migrated SQLite database of its own."""
    from flask_migrate import upgrade

    directory = tmp_path_factory.mktemp("docs-server")
    url, keyring = f"sqlite:///{directory / 'casework.sqlite3'}", str(directory / "keyring.json")
    app = make_app({"name": "sqlite", "url": url}, keyring)
    with app.app_context():
        upgrade()
    with gunicorn(url, keyring, workers=1) as server:
        yield server


def test_the_docs_render_in_chromium(browser, docs_server, tmp_path: Path):
    """Swagger UI lists every operation of the OpenAPI document, with its summary; the browser
    asks nothing of another origin and the page's policy refuses nothing."""
    import json

    origin = f"http://127.0.0.1:{docs_server.port}"
    status, _, body = docs_server.request("GET", "/api/v1/openapi.json")
    assert status == 200
    spec = json.loads(body)
    operations = {
        (method.upper(), path): op.get("summary", "")
        for path, item in spec["paths"].items()
        for method, op in item.items()
        if method in _METHODS
    }
    wanted = {
        key: summary for key, summary in operations.items() if "/disclosures" in key[1] or "/transcripts" in key[1]
    }
    assert wanted, "the document has disclosure and transcript operations"

    console_errors: list[str] = []
    context, watch = watched_context(browser, origin)  # records requests and the page's policy violations
    try:
        page = context.new_page()
        page.on("console", lambda message: console_errors.append(message.text) if message.type == "error" else None)
        response = page.goto(f"{origin}{DOCS}", wait_until="load")
        assert response is not None and response.status == 200
        page.wait_for_selector(".opblock", timeout=60_000)
        page.wait_for_function(f"document.querySelectorAll('.opblock').length >= {len(operations)}", timeout=60_000)
        rendered = page.eval_on_selector_all(
            ".opblock",
            """blocks => blocks.map(b => [
            b.querySelector('.opblock-summary-method').textContent.trim(),
            b.querySelector('.opblock-summary-path').getAttribute('data-path'),
            (b.querySelector('.opblock-summary-description') || {textContent: ''}).textContent.trim()])""",
        )
        refused = violations(page)
        page.screenshot(path=str(tmp_path / "docs.png"))
    finally:
        context.close()

    shown = {(method, path): summary for method, path, summary in rendered}
    assert set(shown) == set(operations)
    for key, summary in wanted.items():
        assert shown[key] == summary, key
    assert (tmp_path / "docs.png").stat().st_size > 10_000
    assert not refused, refused
    assert not [e for e in console_errors if "Content Security Policy" in e], console_errors
    assert not watch.off_origin(), watch.off_origin()
    assert f"{origin}/api/v1/openapi.json" in watch.requested


def test_chromium_installer_is_idempotent(chromium: str):
    """Run again with chromium present, it changes nothing and names the browser."""
    if shutil.which("apt-get") is None:
        pytest.skip("not a Debian system")
    again = subprocess.run(
        ["bash", str(ROOT / "scripts" / "install-chromium")], capture_output=True, text=True, timeout=60
    )
    assert again.returncode == 0 and again.stdout.strip().splitlines()[-1] == chromium
    assert "apt-get" not in again.stderr
