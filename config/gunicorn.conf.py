"""gunicorn settings for Casework: ``gunicorn -c config/gunicorn.conf.py wsgi:app``.

Used by ``make serve`` and the tests' real servers (``tests/pg_server.py``); pass ``--bind`` and
``--workers`` on the command line. Command-line options override what is set here.

No ``Server`` header: gunicorn names itself in every response it writes, which tells a scanner
which server (and so which known flaws) to try; it has no setting for that, so this file drops
the header from gunicorn's default response headers. It runs in the master before workers fork,
so every worker answers without it.
"""
from __future__ import annotations

from typing import Any

from gunicorn.http import wsgi as _gunicorn_wsgi  # type: ignore[import-untyped]

_default_headers = _gunicorn_wsgi.Response.default_headers


def _headers_without_server(self: Any) -> list[str]:
    return [line for line in _default_headers(self) if not line.lower().startswith("server:")]


_gunicorn_wsgi.Response.default_headers = _headers_without_server
