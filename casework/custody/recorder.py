"""The queue of custody events of one request (or one operator command), and its commit.

Only ``casework.access`` queues events: it decides and records in one step. At the end of
the request ``casework.access.hooks`` appends them in the request's own transaction; if that
fails, ``CustodyUnavailable`` makes the request fail rather than go unrecorded.
"""
from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field

from flask import current_app, g
from sqlalchemy.exc import SQLAlchemyError

from casework.custody import log as custody_log
from casework.db import db
from casework.errors import CustodyUnavailable

logger = logging.getLogger(__name__)

ALLOWED, DENIED, ERROR = "allowed", "denied", "error"


@dataclass
class CustodyContext:
    request_id: str
    client_addr: str | None
    client_request_id: str | None = None  # what the client called this request: details, never the id
    pending: list[custody_log.NewEvent] = field(default_factory=list)
    appended: list[custody_log.Appended] = field(default_factory=list)
    # Set only by the throttle handler (casework.access.hooks): this refusal is counted in its
    # window's one ``http.throttled`` event, so an empty 429 is not an unrecorded request.
    summarised: bool = False

    @property
    def empty(self) -> bool:
        return not self.pending and not self.appended


def new_request_id() -> str:
    """Request ids are the server's: a client's claim never names an event."""
    return uuid.uuid4().hex


def begin(client_addr: str | None, client_request_id: str | None = None) -> CustodyContext:
    g._custody = CustodyContext(request_id=new_request_id(), client_addr=client_addr,
                                client_request_id=client_request_id)
    return g._custody


def current_context() -> CustodyContext:
    """The context of this request, or of this operator command."""
    ctx = g.get("_custody")
    if ctx is None:
        ctx = begin(None)
    return ctx


def queue(event: custody_log.NewEvent) -> custody_log.NewEvent:
    """Queue an event for this request; it is appended when the request ends (or on ``flush``)."""
    ctx = current_context()
    event.request_id, event.client_addr = ctx.request_id, ctx.client_addr
    if ctx.client_request_id is not None:
        event.details = {**(event.details or {}), "client_request_id": ctx.client_request_id}
    ctx.pending.append(event)
    return event


def flush() -> list[custody_log.Appended]:
    """Append queued events now, inside the current transaction (for receipts that need seq)."""
    ctx = current_context()
    if not current_app.config["CASEWORK_CUSTODY_RECORDING"]:
        ctx.pending.clear()
        return []
    try:
        db.session.flush()  # the request's own row writes (and locks) first: the custody head is the last lock
        rows = custody_log.append(ctx.pending)
    except Exception as exc:  # whatever stops the log from recording stops the request
        logger.error("custody append failed: %s", exc.__class__.__name__)
        db.session.rollback()
        raise CustodyUnavailable() from exc
    ctx.pending.clear()
    ctx.appended.extend(rows)
    return rows


def commit() -> list[custody_log.Appended]:
    """Append queued events and commit them with everything else in the transaction."""
    rows = flush()
    try:
        db.session.commit()
    except SQLAlchemyError as exc:
        logger.error("custody commit failed: %s", exc.__class__.__name__)
        db.session.rollback()
        raise CustodyUnavailable() from exc
    return rows
