"""Assertions about custody events, read straight from the database."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask
from sqlalchemy import event, select, text

from casework.custody import append_only
from casework.custody.models import CustodyEvent
from casework.db import db


def events_of(app: Flask, response: Any) -> list[dict[str, Any]]:
    """The custody events recorded for the request that produced ``response``."""
    request_id = response.headers["X-Request-ID"]
    with app.app_context():
        rows = db.session.scalars(
            select(CustodyEvent).where(CustodyEvent.request_id == request_id).order_by(CustodyEvent.seq)
        ).all()
        return [row.entry() for row in rows]


def all_events(app: Flask) -> list[dict[str, Any]]:
    with app.app_context():
        return [row.entry() for row in db.session.scalars(select(CustodyEvent).order_by(CustodyEvent.seq))]


class SentStatement(str):
    """A statement as the app's engine sent it, with the parameters sent beside it."""

    parameters: Any


@contextmanager
def statements_sent(app: Flask) -> Iterator[list[SentStatement]]:
    """Every statement the app's engine sends while the block runs, in order (the hot-path shape
    and N+1 tests count them; the plan tests EXPLAIN them with their parameters)."""
    sent: list[SentStatement] = []

    def listener(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        entry = SentStatement(statement)
        entry.parameters = parameters
        sent.append(entry)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", listener)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", listener)


def assert_problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True)[:1000])
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["status"] == status and body["title"] and body["type"] and "detail" in body
    return body


def publish(app: Flask) -> str:
    """Publish a checkpoint as the operator's cadence would (``flask custody publish``)."""
    result = app.test_cli_runner().invoke(args=["custody", "publish"])
    assert result.exit_code == 0, result.output
    return result.output


@contextmanager
def database_owner_writes(app: Flask) -> Iterator[None]:
    """Act as a hostile owner of the database: the append-only triggers are off inside the block.

    Whoever owns the tables can disable their triggers (PostgreSQL) or drop them (SQLite), then
    rewrite the log; the tamper tests play that attacker to show the verifier still catches it.
    The triggers are back on when the block ends. Close sessions that touched the custody tables
    before leaving the block (PostgreSQL's ALTER TABLE waits for their locks).
    """

    def run(statements: dict[str, list[str]]) -> None:
        with app.app_context():
            db.session.remove()
            with db.engine.begin() as conn:
                for statement in statements[conn.dialect.name]:
                    conn.execute(text(statement))

    run({"postgresql": append_only.POSTGRES_DISABLE, "sqlite": append_only.SQLITE_DROP})
    try:
        yield
    finally:
        run({"postgresql": append_only.POSTGRES_ENABLE, "sqlite": append_only.SQLITE_TRIGGERS})


def explain_nodes(raw: Any) -> list[dict[str, Any]]:
    """Every node of a PostgreSQL ``EXPLAIN (FORMAT JSON)`` result, depth first."""
    plan = raw if isinstance(raw, list) else json.loads(raw)
    nodes: list[dict[str, Any]] = []
    stack = [plan[0]["Plan"]]
    while stack:
        node = stack.pop()
        nodes.append(node)
        stack.extend(node.get("Plans", []))
    return nodes
