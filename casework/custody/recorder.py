"""The queue of custody events of one request (or one operator command), and its commit.

Only ``casework.access`` queues events: it decides and records in one step. At the end of
the request ``casework.access.hooks`` appends them in the request's own transaction; if that
fails, ``CustodyUnavailable`` makes the request fail rather than go unrecorded.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field

from flask import g

from casework.custody import log as custody_log
from casework.db import db, utcnow
from casework.errors import CustodyUnavailable
from casework.settings import settings

logger = logging.getLogger(__name__)

ALLOWED, DENIED, ERROR = "allowed", "denied", "error"


@dataclass
class CustodyContext:
    request_id: str
    client_addr: str | None
    client_request_id: str | None = None  # what the client called this request: details, never the id
    # A HEAD request: decided and recorded as its GET, but sent no body; its events say so.
    headers_only: bool = False
    pending: list[custody_log.NewEvent] = field(default_factory=list)
    # Written to intake in this transaction (``spill``): queued again if it rolls back.
    recorded: list[custody_log.NewEvent] = field(default_factory=list)
    # Intake ids of this transaction's events not yet integrated into the tree, with their events.
    unintegrated: dict[int, custody_log.NewEvent] = field(default_factory=dict)
    # Every intake id this transaction wrote, integrated or not (for the intake's upkeep after commit).
    written: list[int] = field(default_factory=list)
    # Set only by the throttle handler (casework.access.hooks): this refusal is counted in its
    # window's one ``http.throttled`` event, so an empty 429 is not an unrecorded request.
    summarised: bool = False
    # Events of this request already committed (a bundle commits its events before streaming).
    committed: bool = False

    @property
    def empty(self) -> bool:
        return not self.pending and not self.recorded and not self.committed

    def wrote(self, ids: list[int]) -> None:
        """The pending events went to intake in this transaction, as the rows ``ids``."""
        self.recorded.extend(self.pending)
        self.unintegrated.update(zip(ids, self.pending, strict=True))
        self.written.extend(ids)
        self.pending.clear()

    def rolled_back(self) -> None:
        """The transaction was rolled back: what it had written to the log is queued again."""
        self.pending[:0] = self.recorded
        self.recorded.clear()
        self.unintegrated.clear()
        self.written.clear()

    def discard(self) -> None:
        self.pending.clear()
        self.recorded.clear()
        self.unintegrated.clear()
        self.written.clear()


def new_request_id() -> str:
    """Request ids are the server's: a client's claim never names an event."""
    return uuid.uuid4().hex


def begin(
    client_addr: str | None, client_request_id: str | None = None, *, headers_only: bool = False
) -> CustodyContext:
    g._custody = CustodyContext(
        request_id=new_request_id(),
        client_addr=client_addr,
        client_request_id=client_request_id,
        headers_only=headers_only,
    )
    ctx: CustodyContext = g._custody
    return ctx


def current_context() -> CustodyContext:
    """The context of this request, or of this operator command."""
    ctx: CustodyContext | None = g.get("_custody")
    return ctx if ctx is not None else begin(None)


def queue(event: custody_log.NewEvent) -> custody_log.NewEvent:
    """Queue an event for this request; it is appended when the request ends (or on ``spill``)."""
    ctx = current_context()
    event.request_id, event.client_addr = ctx.request_id, ctx.client_addr
    if ctx.client_request_id is not None:
        event.details = {**(event.details or {}), "client_request_id": ctx.client_request_id}
    if ctx.headers_only:
        event.details = {**(event.details or {}), "headers_only": True}
    ctx.pending.append(event)
    return event


def _recording() -> bool:
    """False only with the benchmark-only switch: then ``commit`` drops the queue, ``spill``
    leaves it for ``commit`` (so a request still counts as audited) and ``promise`` seals nothing."""
    return settings().custody.recording


def _unavailable(exc: Exception, what: str) -> CustodyUnavailable:
    logger.error("custody %s failed: %s", what, exc.__class__.__name__)
    db.session.rollback()
    return CustodyUnavailable()


def spill() -> None:
    """Write the queued events to intake in the current transaction, taking no shared lock.

    A request that records many events (the case file, a bundle) keeps its queue short; the
    events commit with the request, or are queued again if it is rolled back.
    """
    ctx = current_context()
    if not ctx.pending or not _recording():
        return
    try:
        db.session.flush()  # the request's own row writes (and locks) first
        ids = custody_log.intake(db.session.connection(), ctx.pending)
    except Exception as exc:  # whatever stops the log from recording stops the request
        raise _unavailable(exc, "intake") from exc
    ctx.wrote(ids)


def promise(event: custody_log.NewEvent) -> custody_log.NewEvent | None:
    """Seal a queued event now (its time, salts and leaf hash) for a receipt to promise.

    Leaf form v2 holds no seq, so the leaf hash is known before the event is integrated: the
    receipt is a promise (as Certificate Transparency's SCT) that this leaf will be in the tree
    within the merge delay, and no upload waits for, or holds, the head lock. None only with
    the benchmark-only switch.
    """
    if not _recording():
        return None
    event.seal(utcnow())
    return event


def commit(*, integrate: bool = False) -> None:
    """Record the queued events and commit them with everything else in the transaction.

    The events are durable when this returns. On SQLite (one writer) they are integrated before
    the commit. On PostgreSQL they go to intake in the commit's own round trip (``log.intake``) and
    wait there for the background integrator (within the merge delay), or are integrated after
    the commit when ``integrate`` is set (operator commands). Auditors' reads integrate what is
    committed first (``integrate_committed``).
    """
    ctx = current_context()
    had_events = bool(ctx.pending or ctx.recorded)
    if not _recording():
        ctx.pending.clear()
    try:
        db.session.flush()  # the request's own row writes (and locks) first
        connection = db.session.connection()
        deferred = custody_log.is_deferred(connection)
        if deferred:
            ctx.written.extend(custody_log.intake(connection, ctx.pending, commit=True))
        else:
            ids = [*ctx.unintegrated, *custody_log.intake(connection, ctx.pending)]
            if ids:
                custody_log.integrate_through(connection, ids)
        db.session.commit()  # on PostgreSQL with events, committed already: this ends the session's part
    except Exception as exc:
        raise _unavailable(exc, "commit") from exc
    written = ctx.written[:]
    ctx.committed = ctx.committed or had_events
    ctx.discard()
    if deferred and written:
        _integrate_after_commit(written, integrate)
        _vacuum_if_due(written)


def _holds_nth(ids: list[int], every: int) -> bool:
    """Whether one of these intake ids is a multiple of ``every`` (0: never): ids are drawn by one
    sequence for all workers, so exactly one request holds each Nth row, without coordination."""
    return every > 0 and any(i % every == 0 for i in ids)


def _integrate_after_commit(ids: list[int], wait: bool) -> None:
    """The events are durable already: a failure here delays their integration, loses nothing."""
    if not (wait or settings().custody.integrate_after_commit):
        return
    try:  # on the session's connection (its transaction has ended): no second connection
        while True:
            batch = custody_log.integrate(db.session.connection(), wait=True)
            db.session.commit()
            if len(batch or {}) < custody_log.BATCH:
                return
    except Exception as exc:  # the response stands: its events are recorded
        db.session.rollback()
        logger.error("custody integration deferred: %s", exc.__class__.__name__)


def _vacuum_if_due(ids: list[int]) -> None:
    """Every integrated event leaves a dead intake row and every batch a dead head version; the
    request that wrote the Nth intake row (``CASEWORK_CUSTODY_VACUUM_EVERY``) vacuums them, so
    the queue stays a few pages whether or not the server's autovacuum is on."""
    if not _holds_nth(ids, settings().custody.vacuum_every):
        return
    try:
        custody_log.vacuum_intake()
    except Exception as exc:  # upkeep only: the response stands
        logger.error("custody intake vacuum failed: %s", exc.__class__.__name__)


def integrate_committed() -> None:
    """Bring the tree up to every committed event before anything of it is served."""
    try:
        custody_log.integrate_committed()
    except Exception as exc:
        logger.error("custody catch-up failed: %s", exc.__class__.__name__)
        raise CustodyUnavailable() from exc
