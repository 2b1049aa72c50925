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


def _recording(ctx: CustodyContext) -> bool:
    if current_app.config["CASEWORK_CUSTODY_RECORDING"]:
        return True
    ctx.pending.clear()
    return False


def _unavailable(exc: Exception, what: str) -> CustodyUnavailable:
    logger.error("custody %s failed: %s", what, exc.__class__.__name__)
    db.session.rollback()
    return CustodyUnavailable()


def _commit_keeping_objects() -> None:
    """Commit without expiring the session's objects: the request goes on using what it just wrote."""
    session = db.session()
    keep = session.expire_on_commit
    session.expire_on_commit = False
    try:
        session.commit()
    finally:
        session.expire_on_commit = keep


def flush() -> list[custody_log.Appended]:
    """Record queued events now and say where they landed (for receipts that need their seq).

    SQLite: appended inside the current transaction, as before. PostgreSQL: the events go into
    the intake queue and the transaction commits *now*, with the request's writes so far (they
    and their events are durable together, or neither is); then this request waits for its
    events to be integrated (usually in a batch with concurrent requests' events). What the
    request writes afterwards (the receipt) is committed when it ends.
    """
    ctx = current_context()
    if not _recording(ctx) or not ctx.pending:
        return []
    try:
        db.session.flush()  # the request's own row writes (and locks) first: the custody head is the last lock
        connection = db.session.connection()
        if not custody_log.is_deferred(connection):
            rows = custody_log.append(ctx.pending)
            ctx.pending.clear()
            ctx.appended.extend(rows)
            return rows
        ids, since = custody_log.intake_with_size(connection, ctx.pending)
        _commit_keeping_objects()
    except Exception as exc:  # whatever stops the log from recording stops the request
        raise _unavailable(exc, "append") from exc
    ctx.pending.clear()
    try:  # on the session's connection, in transactions of their own: no second connection
        rows = custody_log.wait_for(db.session.connection, _commit_keeping_objects, ids, since, ctx.request_id)
    except Exception as exc:  # recorded and durable, but not placed: no receipt can be given
        raise _unavailable(exc, "integration") from exc
    ctx.appended.extend(rows)
    return rows


def commit(*, integrate: bool = False) -> None:
    """Record queued events and commit them with everything else in the transaction.

    On PostgreSQL the events are durable in the intake queue when this returns; they are
    integrated after the commit when ``integrate`` is set (operator commands), when the
    application integrates after every request (``CASEWORK_CUSTODY_INTEGRATE_EVERY`` = 1), or
    when one of them is the Nth intake row (then by this request only if no other integrator
    is at work). Either way auditors' reads catch up first (``catch_up``).
    """
    ctx = current_context()
    ids: list[int] = []
    try:
        db.session.flush()
        connection = db.session.connection()
        if not custody_log.is_deferred(connection):
            flush()
            db.session.commit()
            return
        if _recording(ctx) and ctx.pending:
            ids = custody_log.intake(connection, ctx.pending)
        db.session.commit()
    except CustodyUnavailable:
        raise
    except Exception as exc:
        raise _unavailable(exc, "commit") from exc
    ctx.pending.clear()
    if ids:
        _integrate_after_commit(ids, integrate)


def _integrate_after_commit(ids: list[int], wait: bool) -> None:
    """The events are durable already: a failure here delays their integration, loses nothing."""
    every = current_app.config["CASEWORK_CUSTODY_INTEGRATE_EVERY"]
    wait = wait or every <= 1
    if not wait and not any(i % every == 0 for i in ids):
        return
    try:  # on the session's connection (its transaction has ended): no second connection
        while True:
            batch = custody_log.integrate(db.session.connection(), wait=wait)
            db.session.commit()
            if not wait or len(batch or {}) < custody_log.BATCH:
                return
    except Exception as exc:  # the response stands: its events are recorded
        db.session.rollback()
        logger.error("custody integration deferred: %s", exc.__class__.__name__)


def catch_up() -> None:
    """Bring the tree up to every committed event before anything of it is served."""
    try:
        custody_log.catch_up()
    except Exception as exc:
        logger.error("custody catch-up failed: %s", exc.__class__.__name__)
        raise CustodyUnavailable() from exc
