"""The HTTP side: one httpx client per command, problem+json turned into one exception.

A server that cannot be reached (refused, reset, timed out, a gateway's 502/503/504) is
``Unreachable``, the one failure an upload with ``--queue`` waits out in the outbox; anything
the server answered and refused is ``ApiError`` with the problem's title and detail.
"""

from __future__ import annotations

import platform
from collections.abc import Iterator
from typing import Any

import httpx

from casework_client import __version__

API = "/api/v1"
USER_AGENT = f"casework-cli/{__version__} (python {platform.python_version()})"
TIMEOUT = httpx.Timeout(60.0, connect=10.0)
# A gateway in front of the server, or the server itself when its log cannot record: try later.
TRANSIENT_STATUSES = frozenset({502, 503, 504})


class Unreachable(Exception):
    """The server could not be reached, or answered that it cannot serve now."""


class ApiError(Exception):
    """The server answered with an error (application/problem+json when it is the Casework app)."""

    def __init__(self, status: int, title: str, detail: str = "", problem: str = "", errors: Any = None) -> None:
        super().__init__(f"{title} ({status})" + (f": {detail}" if detail else ""))
        self.status, self.title, self.detail, self.problem, self.errors = status, title, detail, problem, errors

    @classmethod
    def from_response(cls, response: httpx.Response) -> ApiError:
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict) and "title" in body:
            problem = str(body.get("type", "")).rstrip("/").rsplit("/", 1)[-1]
            return cls(
                response.status_code, str(body["title"]), str(body.get("detail") or ""), problem, body.get("errors")
            )
        return cls(response.status_code, response.reason_phrase or "error", response.text[:300])

    def describe(self) -> str:
        lines = [str(self)]
        if self.status == 401:
            lines.append("Your token is missing, expired or revoked: run casework login again.")
        if self.errors:
            lines.append(f"errors: {self.errors}")
        return "\n".join(lines)


def check(response: httpx.Response, *expected: int) -> httpx.Response:
    if response.status_code in TRANSIENT_STATUSES:
        raise Unreachable(f"the server answered {response.status_code} {response.reason_phrase}: try again later")
    if response.status_code not in (expected or (200,)):
        raise ApiError.from_response(response)
    return response


class Api:
    """A bearer-token client of one server (``token`` None: before login)."""

    def __init__(self, server: str, token: str | None = None) -> None:
        self.server = server.rstrip("/")
        headers = {"User-Agent": USER_AGENT}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self.http = httpx.Client(base_url=self.server, headers=headers, timeout=TIMEOUT, follow_redirects=False)

    def __enter__(self) -> Api:
        return self

    def __exit__(self, *exc: object) -> None:
        self.http.close()

    def request(self, method: str, path: str, *expected: int, **kwargs: Any) -> httpx.Response:
        try:
            response = self.http.request(method, API + path, **kwargs)
        except (httpx.TransportError, OSError) as exc:
            raise Unreachable(f"cannot reach {self.server}: {exc or type(exc).__name__}") from None
        return check(response, *expected)

    def get_json(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params={k: v for k, v in params.items() if v is not None}).json()

    def pages(self, path: str, **params: Any) -> Iterator[dict[str, Any]]:
        """Every item of a paged list ({items, next_cursor}), following the cursor."""
        cursor = None
        while True:
            page = self.get_json(path, limit=200, cursor=cursor, **params)
            yield from page["items"]
            cursor = page.get("next_cursor")
            if not cursor:
                return

    def public_key(self) -> str | None:
        """The log's verifier key, or None when this account's role may not read it (403)."""
        try:
            return self.request("GET", "/custody/public-key").text.strip()
        except ApiError as exc:
            if exc.status == 403:
                return None
            raise
