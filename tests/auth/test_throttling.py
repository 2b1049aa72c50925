"""Anonymous traffic is limited per address, and throttled requests are summarised in the log.

Each test builds its own app with a low limit (the session app's limits are generous) and calls
from its own address, on the real databases and, for sharing between workers, on Redis.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
from flask import Flask

from casework.extensions import limiter
from tests.conftest import make_app, make_caller
from tests.helpers import all_events, assert_problem, events_of

CASES = "/api/v1/cases"
_WORKER = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)
# One Redis database per xdist worker, apart from test_auth's (15 down to 8) and db 0.
REDIS_URL = f"redis://127.0.0.1:6379/{7 - _WORKER % 7}"


@pytest.fixture
def build(app: Flask, backend: dict[str, str], keyring_path: str) -> Iterator[Callable[..., Flask]]:
    """Apps on the session app's (migrated, cleaned) database with their own settings.

    The limiter is one extension object: the last app built sets its storage. Afterwards the
    session app gets fresh storage of its own again.
    """

    def build_app(**overrides: Any) -> Flask:
        return make_app(backend, keyring_path, **overrides)

    yield build_app
    limiter.reset()
    limiter.init_app(app)


@pytest.fixture
def shared_redis() -> Iterator[str]:
    client = redis.Redis.from_url(REDIS_URL)
    client.flushdb()
    yield REDIS_URL
    client.flushdb()


def anonymous(client: Any, address: str, path: str = CASES, **kw: Any) -> Any:
    return client.get(path, environ_base={"REMOTE_ADDR": address}, **kw)


def throttled_events(app: Flask) -> list[dict[str, Any]]:
    return [event for event in all_events(app) if event["action"] == "http.throttled"]


def test_anonymous_flood_is_limited_and_summarised(build):
    app = build(CASEWORK_ANONYMOUS_LIMIT="3 per minute")
    client = app.test_client()
    responses = [anonymous(client, "198.51.100.10") for _ in range(10)]
    assert [r.status_code for r in responses] == [401] * 3 + [429] * 7

    for response in responses[:3]:  # answered, and each recorded as before
        [event] = events_of(app, response)
        assert event["action"] != "http.throttled" and event["outcome"] == "denied"
        assert event["details"]["status"] == 401 and event["client_addr"] == "198.51.100.10"

    first, *later = responses[3:]
    assert_problem(first, 429)
    assert int(first.headers["Retry-After"]) >= 1
    [event] = events_of(app, first)
    assert event["action"] == "http.throttled" and event["outcome"] == "denied"
    assert event["actor_id"] is None and event["client_addr"] == "198.51.100.10"
    details = event["details"]
    assert details["limit"] == "3 per 1 minute" and details["path"] == CASES
    assert details["suppressed_in_previous_window"] == 0
    assert details["window_start"].endswith("Z") and details["status"] == 429
    for response in later:
        assert_problem(response, 429)
        assert "X-Request-ID" in response.headers
        assert events_of(app, response) == []
    assert len(all_events(app)) == 4  # 3 refusals + 1 summary for 7 throttled requests

    # Another address has its own allowance; health checks are never limited.
    assert_problem(anonymous(client, "198.51.100.11"), 401)
    assert anonymous(client, "198.51.100.10", "/health").status_code == 200
    assert len(throttled_events(app)) == 1


def test_unknown_urls_and_logins_count_as_anonymous(build):
    app = build(CASEWORK_ANONYMOUS_LIMIT="2 per minute")
    client = app.test_client()
    address = {"REMOTE_ADDR": "198.51.100.20"}
    assert client.get("/no/such/page", environ_base=address).status_code == 404
    login = {"username": "nobody", "password": "wrong password!"}
    assert client.post("/api/v1/auth/login", json=login, environ_base=address).status_code == 401
    for _ in range(3):
        assert_problem(client.get("/no/such/page", environ_base=address), 429)
        assert_problem(client.post("/api/v1/auth/login", json=login, environ_base=address), 429)
    [event] = throttled_events(app)
    assert event["details"]["path"] == "/no/such/page"


def test_authenticated_callers_are_not_limited_by_the_anonymous_limit(build):
    app = build(CASEWORK_ANONYMOUS_LIMIT="3 per minute")
    caller = make_caller(app, "busy-auditor", "auditor")
    address = {"REMOTE_ADDR": "198.51.100.30"}
    bearer = {"Authorization": f"Bearer {caller.token}"}
    for _ in range(8):
        response = caller.client.get("/api/v1/auth/me", headers=bearer, environ_base=address)
        assert response.status_code == 200 and events_of(app, response)
    # A token that is not valid is no credential: that caller is anonymous, and limited.
    forged = {"Authorization": "Bearer cwk_" + "x" * 40}
    statuses = [
        caller.client.get("/api/v1/auth/me", headers=forged, environ_base=address).status_code for _ in range(5)
    ]
    assert statuses == [401, 401, 401, 429, 429]
    # ...while the valid token still gets through from the same address.
    assert caller.client.get("/api/v1/auth/me", headers=bearer, environ_base=address).status_code == 200


def test_login_limits_are_summarised_too(build):
    app = build(CASEWORK_LOGIN_LIMIT="2 per minute")
    client = app.test_client()
    login = {"username": "someone", "password": "wrong password!"}
    responses = [
        client.post("/api/v1/auth/login", json=login, environ_base={"REMOTE_ADDR": "198.51.100.40"}) for _ in range(6)
    ]
    assert [r.status_code for r in responses] == [401, 401, 429, 429, 429, 429]
    [event] = events_of(app, responses[2])
    assert event["action"] == "http.throttled" and event["details"]["limit"] == "2 per 1 minute"
    assert event["details"]["path"] == "/api/v1/auth/login" and event["resource_type"] == "user"
    assert all(events_of(app, r) == [] for r in responses[3:])
    assert len(throttled_events(app)) == 1


def test_next_window_reports_what_the_previous_one_suppressed(build):
    app = build(CASEWORK_ANONYMOUS_LIMIT="2 per 2 seconds")
    client = app.test_client()
    address = "198.51.100.50"
    statuses = [anonymous(client, address).status_code for _ in range(5)]
    assert statuses == [401, 401, 429, 429, 429]
    time.sleep(3.5)  # past the window (and the summary's rounding to the second)
    statuses = [anonymous(client, address).status_code for _ in range(4)]
    assert statuses == [401, 401, 429, 429]
    first, second = throttled_events(app)
    assert first["details"]["suppressed_in_previous_window"] == 0
    assert second["details"]["suppressed_in_previous_window"] == 2
    assert second["details"]["window_start"] > first["details"]["window_start"]


def test_workers_share_counts_and_summaries_through_redis(build, shared_redis):
    """Two app instances (two gunicorn workers, say) count in, and summarise from, the same Redis."""
    first = build(CASEWORK_ANONYMOUS_LIMIT="3 per minute", RATELIMIT_STORAGE_URI=shared_redis)
    address = "198.51.100.60"
    assert [anonymous(first.test_client(), address).status_code for _ in range(2)] == [401, 401]
    # A new instance gets a new storage client: only Redis remembers the first one's counts.
    second = build(CASEWORK_ANONYMOUS_LIMIT="3 per minute", RATELIMIT_STORAGE_URI=shared_redis)
    assert_problem(anonymous(second.test_client(), address), 401)
    throttled = anonymous(second.test_client(), address)
    assert_problem(throttled, 429)
    assert [event["action"] for event in events_of(second, throttled)] == ["http.throttled"]
    third = build(CASEWORK_ANONYMOUS_LIMIT="3 per minute", RATELIMIT_STORAGE_URI=shared_redis)
    again = anonymous(third.test_client(), address)
    assert_problem(again, 429)
    assert events_of(third, again) == []  # already summarised in this window, by another instance
    assert len(throttled_events(first)) == 1
    assert redis.Redis.from_url(shared_redis).keys("*casework-throttled*")
