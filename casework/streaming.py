"""Streamed response bodies that run after their request: in an application context of their own."""

from __future__ import annotations

import contextvars
from collections.abc import Iterator

from flask import current_app


def in_own_app_context(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """Run a response body in an application context of its own, isolated from the caller's.

    The request ends (its session closed, its context popped) when the view returns; the body
    is generated later, with a session of its own. Nothing it needs comes from the request:
    every decision was recorded before. The context lives in a ``contextvars.Context`` of the
    body's own, so a body left half-read (a client that stops reading; a test client that
    pulls the first chunk) never leaks its context into the next request on the thread.
    """
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    context = contextvars.Context()

    def run() -> Iterator[bytes]:
        app_ctx = app.app_context()
        context.run(app_ctx.push)
        try:
            while True:
                try:
                    chunk = context.run(next, chunks)
                except StopIteration:
                    return
                yield chunk
        finally:
            close = getattr(chunks, "close", None)
            try:
                if close is not None:
                    context.run(close)
            finally:
                context.run(app_ctx.pop)

    return run()
