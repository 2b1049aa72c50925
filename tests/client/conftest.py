"""The ``casework`` command line, run as its users run it: the installed entry point, as a
subprocess, against a real gunicorn serving the app on PostgreSQL.

Each person gets a config directory of their own (``CASEWORK_CONFIG``). ``serve`` starts the
server on a port chosen by the test, so a test can stop it and start it again at the same
address: the client sees the same server go down and come back (the outbox), or the same
address answer with another log state or key (the monitor's fork, pinning).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from flask import Flask

from tests import pg_server
from tests.conftest import World, ok

CASEWORK = str(Path(sys.executable).parent / "casework")
STRONG = "violet tractor mirrors the quiet harbour"


@dataclass
class Cli:
    """One user's ``casework``: their config directory, their environment."""

    config: Path
    env: dict[str, str]

    def _env(self, extra: dict[str, str] | None) -> dict[str, str]:
        base = {k: v for k, v in os.environ.items() if not k.startswith("CASEWORK_")}
        return {
            **base,
            "CASEWORK_CONFIG": str(self.config),
            "COLUMNS": "220",
            "NO_COLOR": "1",
            "TERM": "dumb",
            **self.env,
            **(extra or {}),
        }

    def __call__(
        self, *args: str, env: dict[str, str] | None = None, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [CASEWORK, *args],
            env=self._env(env),
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
            check=False,
        )

    def ok(
        self, *args: str, env: dict[str, str] | None = None, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        result = self(*args, env=env, timeout=timeout)
        assert result.returncode == 0, (args, result.returncode, result.stdout[-3000:], result.stderr[-3000:])
        return result

    def json(self, *args: str, status: int = 0, env: dict[str, str] | None = None) -> Any:
        result = self(*args, "--json", env=env)
        assert result.returncode == status, (args, result.returncode, result.stdout[-3000:], result.stderr[-3000:])
        return json.loads(result.stdout)

    def popen(self, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [CASEWORK, *args],
            env=self._env(env),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
        )

    def settings(self) -> dict[str, Any]:
        return json.loads((self.config / "config.json").read_text())

    def write_settings(self, settings: dict[str, Any]) -> None:
        (self.config / "config.json").write_text(json.dumps(settings))


@pytest.fixture
def cli(tmp_path: Path) -> Callable[[str], Cli]:
    """``cli(name)``: the command line of one person, with a config directory of their own."""
    made: dict[str, Cli] = {}

    def make(name: str, **env: str) -> Cli:
        if name not in made:
            made[name] = Cli(tmp_path / f"config-{name}", dict(env))
        return made[name]

    return make


@contextmanager
def serve(
    app: Flask,
    backend: dict[str, str],
    port: int | None = None,
    keyring: str | None = None,
    workers: int = 2,
    extra_env: dict[str, str] | None = None,
) -> Iterator[pg_server.Server]:
    """gunicorn on ``port`` (a free one if None), sharing the test app's signer state and blob store."""
    chosen = port or pg_server.free_port()
    env = {
        "CASEWORK_SIGNER_STATE": app.config["CASEWORK_SIGNER_STATE"],
        "CASEWORK_BLOB_STORE": "database",
        **(extra_env or {}),
    }
    with (
        mock.patch.object(pg_server, "free_port", lambda: chosen),
        pg_server.gunicorn(
            backend["url"], keyring or app.config["CASEWORK_KEYRING"], workers=workers, extra_env=env
        ) as server,
    ):
        yield server


def url(server: pg_server.Server) -> str:
    return f"http://127.0.0.1:{server.port}"


def reset_password(world: World, name: str, password: str) -> None:
    """An admin sets ``name``'s password (to be changed at first login); a lawyer of the case
    restores the membership the reset suspended."""
    person = world.people[name]
    ok(world.people["admin"].patch(f"/api/v1/users/{person.id}", {"password": password}))
    ok(world.people["legal"].post(f"/api/v1/cases/{world.case_id}/members/{person.id}/approve"))


def log_vkey(world: World) -> str:
    """The log's key as an auditor reads it, to hand on out of band."""
    response = world.people["auditor"].get("/api/v1/custody/public-key")
    assert response.status_code == 200
    return response.get_data(as_text=True).strip()


def kill(process: subprocess.Popen[str]) -> None:
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
