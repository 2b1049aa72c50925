"""Assertions about custody events, read straight from the database."""
from __future__ import annotations

from typing import Any

from flask import Flask
from sqlalchemy import select

from casework.custody.models import CustodyEvent
from casework.db import db


def events_of(app: Flask, response: Any) -> list[dict[str, Any]]:
    """The custody events recorded for the request that produced ``response``."""
    request_id = response.headers["X-Request-ID"]
    with app.app_context():
        rows = db.session.scalars(select(CustodyEvent).where(CustodyEvent.request_id == request_id)
                                  .order_by(CustodyEvent.seq)).all()
        return [row.entry() for row in rows]


def all_events(app: Flask) -> list[dict[str, Any]]:
    with app.app_context():
        return [row.entry() for row in db.session.scalars(select(CustodyEvent).order_by(CustodyEvent.seq))]


def assert_problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True)[:1000])
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["status"] == status and body["title"] and body["type"] and "detail" in body
    return body
