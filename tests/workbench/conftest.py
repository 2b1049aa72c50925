"""The workbench's fixtures: a signed-in Flask test client per role (forms, as a browser sends
them), and for journeys a real gunicorn on the test's database with a watched browser context."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.browser import Watch, assert_clean, watched_context
from tests.conftest import PASSWORD, World
from tests.pg_server import Server, gunicorn

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    """The CSRF token a page's forms carry."""
    found = _CSRF.search(html)
    assert found, html[:2000]
    return found.group(1)


@dataclass
class Browser:
    """A Flask test client signed in through the login form, with its session's CSRF token."""

    client: FlaskClient
    csrf: str

    def get(self, path: str, **kw: Any):
        return self.client.get(path, **kw)

    def post(self, path: str, data: dict[str, Any] | None = None, **kw: Any):
        """A form post, with the CSRF field a page's form would carry (unless given)."""
        return self.client.post(path, data={"csrf_token": self.csrf, **(data or {})}, **kw)


def sign_in_client(app: Flask, username: str, password: str = PASSWORD) -> Browser:
    client = app.test_client()
    login_form = client.get("/app/login").get_data(as_text=True)
    answer = client.post(
        "/app/login",
        data={"username": username, "password": password, "csrf_token": csrf_of(login_form), "next": "/app/"},
    )
    assert answer.status_code == 303, answer.get_data(as_text=True)[:2000]
    home = client.get("/app/")
    assert home.status_code == 200, home.get_data(as_text=True)[:2000]
    return Browser(client, csrf_of(home.get_data(as_text=True)))


@pytest.fixture
def signed_in(app: Flask, world: World):
    """``signed_in("legal")``: that person of the world, signed in through the login form."""
    return lambda name: sign_in_client(app, world.people[name].username)


@dataclass
class Served:
    """The app under gunicorn on the test's database, for a real browser."""

    origin: str
    server: Server
    database: str
    world: World


@pytest.fixture
def served(app: Flask, backend: dict[str, str], world: World, tmp_path: Path) -> Iterator[Served]:
    env = {"CASEWORK_BLOB_DIR": str(tmp_path / "blobs"), "CASEWORK_SIGNER_STATE": app.config["CASEWORK_SIGNER_STATE"]}
    with gunicorn(backend["url"], app.config["CASEWORK_KEYRING"], workers=2, extra_env=env) as server:
        yield Served(f"http://127.0.0.1:{server.port}", server, backend["name"], world)


@pytest.fixture
def open_page(browser: Any, served: Served) -> Iterator[Any]:
    """``open_page(locale="uk-UA")``: a page in a fresh context; checked clean at the test's end."""
    opened: list[tuple[Any, Any, Watch]] = []

    def open_(**options: Any) -> Any:
        context, watch = watched_context(browser, served.origin, **options)
        page = context.new_page()
        opened.append((context, page, watch))
        return page

    yield open_
    try:
        for _, page, watch in opened:
            if not page.is_closed():
                assert_clean(page, watch)
    finally:
        for context, _, _ in opened:
            context.close()
