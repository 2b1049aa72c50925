"""A real gunicorn serving the app on 127.0.0.1, for concurrency and crash tests."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
GUNICORN = str(Path(sys.executable).parent / "gunicorn")
GUNICORN_CONF = str(ROOT / "config" / "gunicorn.conf.py")  # the one `make serve` uses


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    port: int
    process: subprocess.Popen

    def request(
        self,
        method: str,
        path: str,
        token: str | None = None,
        body: Any = None,
        headers: dict[str, str] | None = None,
        timeout: float = 30,
    ) -> tuple[int, dict[str, str], bytes]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            all_headers = dict(headers or {})
            data = None
            if body is not None:
                data = json.dumps(body).encode()
                all_headers["Content-Type"] = "application/json"
            if token:
                all_headers["Authorization"] = f"Bearer {token}"
            connection.request(method, path, body=data, headers=all_headers)
            response = connection.getresponse()
            return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
        finally:
            connection.close()

    def kill_all(self) -> None:
        """SIGKILL the master and every worker at once, as a power cut would."""
        with suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)


@contextmanager
def gunicorn(
    database_url: str, keyring_path: str, workers: int = 4, extra_env: dict[str, str] | None = None
) -> Iterator[Server]:
    port = free_port()
    env = {
        # Nothing inherited may change the server (CASEWORK_BENCH_DISABLE_CUSTODY, say).
        **{k: v for k, v in os.environ.items() if not k.startswith("CASEWORK_")},
        "CASEWORK_ENV": "testing",
        "CASEWORK_DATABASE_URL": database_url,
        "CASEWORK_KEYRING": keyring_path,
        "CASEWORK_LOGIN_LIMIT": "100000 per minute",
        "CASEWORK_LOG_LEVEL": "WARNING",
        **(extra_env or {}),
    }
    # stderr goes to a file, not a pipe: a pipe nobody drains blocks gunicorn once it is full.
    with tempfile.TemporaryFile(prefix="gunicorn-stderr-") as stderr:
        process = subprocess.Popen(
            [
                GUNICORN,
                "-c",
                GUNICORN_CONF,
                "--workers",
                str(workers),
                "--bind",
                f"127.0.0.1:{port}",
                "--graceful-timeout",
                "5",
                "wsgi:app",
            ],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            start_new_session=True,
        )
        server = Server(port, process)
        deadline = time.monotonic() + 30
        while True:
            try:
                if server.request("GET", "/health", timeout=2)[0] == 200:
                    break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                server.kill_all()
                stderr.seek(0)
                raise RuntimeError(f"gunicorn did not start: {stderr.read().decode(errors='replace')[-2000:]}")
            time.sleep(0.2)
        try:
            yield server
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    server.kill_all()
