"""Shared helpers: a throwaway PostgreSQL database, timing statistics, a keep-alive HTTP client."""

from __future__ import annotations

import http.client
import json
import os
import resource
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg

PG_SERVER = os.environ.get("CASEWORK_BENCH_PG", "postgresql://postgres@127.0.0.1:5432")
BENCH_DB = os.environ.get("CASEWORK_BENCH_DB", "casework_bench")
DATABASE_URL = f"postgresql+psycopg://postgres@127.0.0.1:5432/{BENCH_DB}"
KEYRING = os.environ.get("CASEWORK_BENCH_KEYRING", os.path.join(tempfile.gettempdir(), "casework-bench-keyring.json"))


SIGNER_STATE = KEYRING + ".signer-state"


def recreate_database() -> None:
    """A scratch log: the database starts empty, and so does the signer's memory of what it signed."""
    with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{BENCH_DB}"')
    if os.path.exists(SIGNER_STATE):
        os.unlink(SIGNER_STATE)


# Servers run as production does for custody: a request commits its events to the intake queue
# and the background integrator of each gunicorn worker puts them in the tree within the merge
# delay (the "testing" configuration would integrate after every request's commit instead).
# ``tests.pg_server.gunicorn`` passes on no CASEWORK_* variable of its own: these are explicit.
SERVER_ENV: dict[str, str] = {
    "CASEWORK_CUSTODY_INTEGRATE_AFTER_COMMIT": "false",
    **{name: os.environ[name] for name in ("CASEWORK_CUSTODY_MERGE_DELAY",) if name in os.environ},
}
# The same for apps made in process (no integrator thread there: auditors' reads catch up first).
PRODUCTION_CUSTODY: dict[str, Any] = {"CASEWORK_CUSTODY_INTEGRATE_AFTER_COMMIT": False}


def bench_app(**overrides: Any):
    from casework import create_app

    settings = {
        "SQLALCHEMY_DATABASE_URI": DATABASE_URL,
        "CASEWORK_KEYRING": KEYRING,
        "CASEWORK_LOGIN_LIMIT": "1000000 per minute",
        "LOG_LEVEL": "WARNING",
        **PRODUCTION_CUSTODY,
    }
    settings.update(overrides)
    return create_app("testing", settings)


# The growth log (10k .. 10M events): one database per measured size, kept between runs.
GROWTH_PREFIX = os.environ.get("CASEWORK_BENCH_GROWTH_DB", "casework_growth")
GROWTH_KEYRING = os.path.join(tempfile.gettempdir(), "casework-growth-keyring.json")


def growth_db(size: int) -> str:
    return f"{GROWTH_PREFIX}_{size}"


def growth_app(dbname: str, **overrides: Any):
    """The app on one growth database; each database has its own signer memory (its own log).

    Custody events wait in the intake queue as in production (``bench_app``); the auditor's reads
    measured there catch up first, as they do in production.
    """
    settings = {
        "SQLALCHEMY_DATABASE_URI": f"postgresql+psycopg://postgres@127.0.0.1:5432/{dbname}",
        "CASEWORK_KEYRING": GROWTH_KEYRING,
        "CASEWORK_SIGNER_STATE": f"{GROWTH_KEYRING}.{dbname}.signer-state",
    }
    settings.update(overrides)
    return bench_app(**settings)


def admin_connection() -> psycopg.Connection:
    return psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True)


def settle() -> None:
    """Start a measurement from a quiet machine: write out what earlier runs left dirty (an append
    run leaves a gigabyte of WAL, whose checkpoint would otherwise land inside the next run; an
    export of the 10M log leaves 4 GB of file pages, whose writeback would delay every commit's
    flush in the next size's proofs)."""
    os.sync()
    with admin_connection() as connection:
        connection.execute("CHECKPOINT")


def percentiles(samples_ms: list[float]) -> dict[str, float]:
    ordered = sorted(samples_ms)

    def pick(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    return {
        "n": len(ordered),
        "p50": pick(0.50),
        "p95": pick(0.95),
        "p99": pick(0.99),
        "mean": statistics.fmean(ordered),
    }


def timed(fn: Callable[[], Any], repeat: int) -> list[float]:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


class Client:
    """One keep-alive HTTP/1.1 connection to the bench server (loopback only)."""

    def __init__(self, port: int, token: str) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.token = token

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, bytes]:
        headers = {"Authorization": f"Bearer {self.token}"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        self.connection.request(method, path, body=data, headers=headers)
        response = self.connection.getresponse()
        return response.status, response.read()

    def close(self) -> None:
        self.connection.close()


def _pids_where(test: Callable[[int], bool]) -> list[int]:
    """The processes on this machine that pass ``test`` (which sees a pid that may vanish meanwhile)."""
    return [int(entry) for entry in os.listdir("/proc") if entry.isdigit() and test(int(entry))]


def child_pids(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (a gunicorn master's workers), from /proc."""
    return _pids_where(lambda candidate: (fields := _stat_fields(candidate)) != [] and int(fields[1]) == pid)


def _stat_fields(pid: int) -> list[str]:
    """The fields of /proc/<pid>/stat after the command name (empty once the process is gone)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return []


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU of these processes and of their waited-for children, in seconds."""
    ticks = os.sysconf("SC_CLK_TCK")
    return sum(sum(int(value) for value in fields[11:15]) / ticks for fields in map(_stat_fields, pids) if fields)


def postgres_pids() -> list[int]:
    """Every PostgreSQL process on this machine (backends, WAL writer, checkpointer, ...)."""
    return _pids_where(lambda pid: _comm(pid) == "postgres")


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


class CpuMeter:
    """CPU spent by a gunicorn server (master and workers), by PostgreSQL and by this process
    (the load generator) between ``start`` and ``per_request``: where a request's cost goes."""

    def __init__(self, server_pid: int) -> None:
        self.server_pid = server_pid
        self._start = self._read()

    def _read(self) -> tuple[float, float, float]:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return (
            cpu_seconds([self.server_pid, *child_pids(self.server_pid)]),
            cpu_seconds(postgres_pids()),
            usage.ru_utime + usage.ru_stime,
        )

    def per_request(self, requests: int) -> dict[str, float]:
        end = self._read()
        names = ("gunicorn_ms", "postgres_ms", "client_ms")
        return {name: 1000 * (b - a) / max(1, requests) for name, a, b in zip(names, self._start, end, strict=True)}


def rss_kib(pid: int, field: str = "VmRSS") -> int:
    """A process's resident set (or ``VmHWM``, its high-water mark) in KiB; 0 once it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


class ScratchCase:
    """A migrated scratch database with an admin, a lawyer and an interviewer (bearer tokens),
    and one case with both as members, made through the API as people would (two-person rule)."""

    def __init__(self, database_url: str, keyring: str, **config: Any) -> None:
        from flask_migrate import upgrade

        from casework import create_app
        from casework.auth.service import issue_token
        from casework.db import db
        from casework.users.service import new_user

        self.app = create_app(
            "testing",
            {"SQLALCHEMY_DATABASE_URI": database_url, "CASEWORK_KEYRING": keyring, "LOG_LEVEL": "WARNING", **config},
        )
        self.tokens: dict[str, str] = {}
        ids: dict[str, int] = {}
        with self.app.app_context():
            upgrade()
            for name, role in (
                ("admin", "admin"),
                ("admin2", "admin"),
                ("legal", "legal"),
                ("interviewer", "interviewer"),
            ):
                user = new_user(name, "correct horse battery staple", role)
                _, self.tokens[name] = issue_token(user, "bench", 30)
                db.session.flush()
                ids[name] = user.id
            db.session.commit()
        self.client = self.app.test_client()
        self.case_id = self.call("admin", "POST", "/api/v1/cases", {"title": "bench"}, 201)["id"]
        self.call("admin", "PUT", f"/api/v1/cases/{self.case_id}/members/{ids['legal']}", status=202)
        self.call("admin2", "POST", f"/api/v1/cases/{self.case_id}/members/{ids['legal']}/approve")
        self.call("admin", "PUT", f"/api/v1/cases/{self.case_id}/members/{ids['interviewer']}", status=202)
        self.call("legal", "POST", f"/api/v1/cases/{self.case_id}/members/{ids['interviewer']}/approve")

    def call(self, who: str, method: str, path: str, body: Any = None, status: int = 200, **kw: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.tokens[who]}", **kw.pop("headers", {})}
        response = self.client.open(path, method=method, json=body, headers=headers, **kw)
        assert response.status_code == status, (path, response.status_code, response.get_data(as_text=True)[:500])
        return response.get_json(silent=True)

    def close(self) -> None:
        from casework.db import db

        with self.app.app_context():
            db.engine.dispose()
