"""The background integrator: every answered request's event is in the tree within the merge delay.

Requests on PostgreSQL commit their events to the intake queue and return; this loop puts them
in the tree, busy or idle, without waiting for an auditor's read (CT's maximum merge delay). It
runs in every gunicorn worker (``config/gunicorn.conf.py``) and in the publisher service
(``flask custody serve``), which also publishes on its cadence. Integrators never wait for each
other: a batch is taken only if no other integrator holds the head (``try_integrate``), and
the one that holds it takes everything queued. It polls at a quarter of the delay, so an event
waits at most that plus one batch.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from flask import Flask

from casework.custody import log
from casework.settings import settings

logger = logging.getLogger(__name__)


def integrate_pending() -> int:
    """Integrate everything queued now, unless another integrator is at it; how many."""
    total = 0
    while True:
        integrated = log.try_integrate()
        if not integrated:
            return total
        total += integrated
        if integrated < log.BATCH:
            return total


def run(
    app: Flask,
    merge_delay: float,
    *,
    stop: threading.Event | None = None,
    publish_every: float | None = None,
    publish: Callable[[], None] | None = None,
) -> None:
    """Poll and integrate until ``stop`` is set; publish every ``publish_every`` seconds if given."""
    stop = stop or threading.Event()
    interval = max(merge_delay / 4, 0.01)
    next_publication = time.monotonic()
    while not stop.is_set():
        with app.app_context():
            try:
                integrate_pending()
                if publish is not None and publish_every is not None and time.monotonic() >= next_publication:
                    next_publication = time.monotonic() + publish_every
                    publish()
            except SystemExit as exc:  # a refused publication: said on stderr; keep integrating
                logger.error("custody publication refused (exit %s)", exc.code)
            except Exception as exc:  # the loop survives a database restart
                logger.error("custody integration failed: %s", exc.__class__.__name__)
        stop.wait(interval)


def start_thread(app: Flask) -> threading.Event | None:
    """Start the integrator in this process (PostgreSQL only: SQLite integrates before each commit)."""
    with app.app_context():
        from casework.db import db

        if db.engine.dialect.name != "postgresql" or not settings(app).custody.recording:
            return None
    stop = threading.Event()
    thread = threading.Thread(
        target=run,
        args=(app, settings(app).custody.merge_delay),
        kwargs={"stop": stop},
        name="custody-integrator",
        daemon=True,
    )
    thread.start()
    return stop
