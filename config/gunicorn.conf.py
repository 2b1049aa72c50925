"""gunicorn settings for Casework: ``gunicorn -c config/gunicorn.conf.py wsgi:app``.

Used by ``make serve`` and the tests' real servers (``tests/pg_server.py``); pass ``--bind`` and
``--workers`` on the command line. Command-line options override what is set here.

No ``Server`` header: gunicorn names itself in every response it writes, which tells a scanner
which server (and so which known flaws) to try; it has no setting for that, so this file drops
the header from gunicorn's default response headers. It runs in the master before workers fork,
so every worker answers without it.

``timeout``: a sync worker sends no heartbeat while it streams one request, and an exhibit
(up to 4 GiB by tus PATCH, or its download) from a field link takes minutes; gunicorn's
default of 30 s would kill the worker mid-transfer. In production a buffering reverse proxy
in front keeps slow clients off the workers; this is the worker's own bound.
"""

from __future__ import annotations

from typing import Any

from gunicorn.http import wsgi as _gunicorn_wsgi  # type: ignore[import-untyped]

timeout = 600

_default_headers = _gunicorn_wsgi.Response.default_headers


def _headers_without_server(self: Any) -> list[str]:
    return [line for line in _default_headers(self) if not line.lower().startswith("server:")]


_gunicorn_wsgi.Response.default_headers = _headers_without_server


def post_worker_init(worker: Any) -> None:
    """Each worker runs the custody integrator (PostgreSQL): every answered request's event is in
    the tree within CASEWORK_CUSTODY_MERGE_DELAY, busy or idle (``casework.custody.integrator``)."""
    from casework.custody import integrator

    integrator.start_thread(worker.wsgi)
