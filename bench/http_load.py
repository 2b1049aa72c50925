"""Load through gunicorn (4 workers) on PostgreSQL: reads, uploads and the merge delay, custody on and off.

    python -m bench.http_load reads [N]     # 10 KB transcript read, custody on vs off, ratio (N rounds)
    python -m bench.http_load uploads       # 10 KB transcript upload at 1, 8 and 32 clients
    python -m bench.http_load upload-ratio  # 8 clients, custody on vs off, back to back (the target)
    python -m bench.http_load merge-delay   # response -> event in the tree, under read load and idle

Loopback only; every loop is bounded by a request count and a deadline. The servers run custody
as production does (``bench.common.SERVER_ENV``): a request commits its events to the intake
queue with synchronous commit and returns; the background integrator that
``config/gunicorn.conf.py`` starts in every worker puts them in the tree within
CASEWORK_CUSTODY_MERGE_DELAY (no request integrates after its commit, as the "testing"
configuration would). "Unaudited" is the SPEC's benchmark-only switch,
CASEWORK_BENCH_DISABLE_CUSTODY=1 (which production refuses), on the same configuration.
CASEWORK_BENCH_DB names the seeded database and CASEWORK_BENCH_SEED its seed.json (default
bench/out/seed.json), so these runs need not share the scale runs' data.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import statistics
import sys
import threading
import time
import zlib
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import psycopg

from bench.common import BENCH_DB, DATABASE_URL, KEYRING, PG_SERVER, SERVER_ENV, Client, CpuMeter, percentiles, settle
from tests.pg_server import gunicorn

OUT = Path(__file__).resolve().parent / "out"
SEED = Path(os.environ.get("CASEWORK_BENCH_SEED", OUT / "seed.json"))
WORKERS = 4
UNAUDITED = {"CASEWORK_BENCH_DISABLE_CUSTODY": "1"}
MIN_UPLOADS = 240  # samples per client count at least, so a p95 is not two or three requests
TEN_KB = ("The prisoners were lined up by the quarry wall. " * 210)[:10_240]


def _load(
    port: int,
    token: str,
    clients: int,
    requests_each: int,
    make_call,
    seconds: float,
    server_pid: int | None = None,
    keep_samples: bool = False,
) -> dict:
    latencies: list[float] = []
    errors: list[int] = []
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def client_loop(number: int) -> None:
        client = Client(port, token)
        mine, bad = [], []
        try:
            for n in range(requests_each):
                if time.monotonic() > deadline:
                    break
                method, path, body, expected = make_call(number, n)
                start = time.perf_counter()
                status, _ = client.call(method, path, body)
                mine.append((time.perf_counter() - start) * 1000)
                if status != expected:
                    bad.append(status)
        finally:
            client.close()
        with lock:
            latencies.extend(mine)
            errors.extend(bad)

    threads = [threading.Thread(target=client_loop, args=(i,)) for i in range(clients)]
    meter = CpuMeter(server_pid) if server_pid is not None else None
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - start
    assert not errors, f"unexpected statuses: {sorted(set(errors))}"
    cpu = meter.per_request(len(latencies)) if meter is not None else {}
    return {
        **percentiles(latencies),
        "throughput_rps": len(latencies) / wall,
        "clients": clients,
        **cpu,
        **({"samples": latencies} if keep_samples else {}),
    }


def _read_call(seed: dict) -> Callable[[int, int], tuple]:
    sample = seed["sample_transcript"]
    path = f"/api/v1/interviews/{sample['interview_id']}/transcripts/{sample['version']}"
    return lambda c, n: ("GET", path, None, 200)


def _upload_call(seed: dict, tag: str) -> Callable[[int, int], tuple]:
    """Each client uploads to its own interview, as field interviewers do (one statement each)."""

    def call(c: int, n: int) -> tuple:
        interview = 1 + (zlib.crc32(tag.encode()) % 97 * 100 + c) % seed["interviews"]
        return (
            "POST",
            f"/api/v1/interviews/{interview}/transcripts",
            {"text": f"{tag}-{c}-{n} {TEN_KB}", "reason": "bench"},
            201,
        )

    return call


def _server_cpu(run: dict) -> float:
    """CPU per request of the server side: gunicorn (master, workers) + PostgreSQL, in ms."""
    return run.get("gunicorn_ms", 0.0) + run.get("postgres_ms", 0.0)


# --- reads --------------------------------------------------------------------------------------


# The read ratio's two servers, and a third for the profile only: the audited server with
# synchronous_commit off, which the target forbids; it shows what the commit's WAL flush costs.
READ_MODES = {
    "audited": ({}, ""),
    "unaudited": (UNAUDITED, ""),
    "audited_async_commit": ({}, "?options=-csynchronous_commit%3Doff"),
}


def reads(rounds: int = 20, seconds: float = 3.0, clients: int = 8, diagnostic: bool = True) -> dict:
    """Audited against unaudited reads: the servers started and warmed once, then loaded in turn.

    This machine's speed drifts by a fifth within seconds (other tenants of the host), so the
    runs are short and many, and the order rotates each round (A B C, B C A, C A B, ...) so drift
    hits every server alike; neither pays a cold start inside a measured round. The ratio is of
    the mean throughputs; ``ratio_ci95`` is the 95 % interval of the mean ratio of the runs
    paired in a round. Without ``diagnostic`` the async-commit server is not started.
    """
    seed = json.loads(SEED.read_text())
    call = _read_call(seed)
    token = seed["tokens"]["legal"]
    modes = {m: v for m, v in READ_MODES.items() if diagnostic or m != "audited_async_commit"}
    runs: dict[str, list[dict]] = {mode: [] for mode in modes}
    with ExitStack() as stack:
        servers = {
            mode: stack.enter_context(
                gunicorn(DATABASE_URL + url_options, KEYRING, workers=WORKERS, extra_env={**SERVER_ENV, **env})
            )
            for mode, (env, url_options) in modes.items()
        }
        settle()
        for server in servers.values():
            _load(server.port, token, clients, 100_000, call, 5)  # warm up: pools, prepared statements
        order = list(modes)
        for n in range(rounds):
            for mode in order[n % len(order) :] + order[: n % len(order)]:
                runs[mode].append(
                    _load(servers[mode].port, token, clients, 100_000, call, seconds, servers[mode].process.pid)
                )
    rps = {mode: statistics.fmean(r["throughput_rps"] for r in mode_runs) for mode, mode_runs in runs.items()}
    # Each audited run against the unaudited run of its round: drift between rounds cancels.
    pairs = [a["throughput_rps"] / u["throughput_rps"] for a, u in zip(runs["audited"], runs["unaudited"], strict=True)]
    half_width = 1.96 * statistics.stdev(pairs) / len(pairs) ** 0.5 if len(pairs) > 1 else float("nan")
    cpu = {mode: statistics.fmean(_server_cpu(r) for r in mode_runs) for mode, mode_runs in runs.items()}
    result = {
        "audited_rps": rps["audited"],
        "unaudited_rps": rps["unaudited"],
        "ratio": rps["audited"] / rps["unaudited"],
        "ratio_ci95": [statistics.fmean(pairs) - half_width, statistics.fmean(pairs) + half_width],
        "pair_ratios": sorted(pairs),
        "median_pair_ratio": statistics.median(pairs),
        "audited_p95_ms": max(r["p95"] for r in runs["audited"]),
        # custody's CPU per read: worker + PostgreSQL, audited minus unaudited (SPEC: beside the ratio)
        "audited_cpu_ms": cpu["audited"],
        "unaudited_cpu_ms": cpu["unaudited"],
        "custody_cpu_ms": cpu["audited"] - cpu["unaudited"],
        "runs": runs,
    }
    if "audited_async_commit" in rps:
        result["async_commit_ratio"] = rps["audited_async_commit"] / rps["unaudited"]
    return result


# --- uploads -----------------------------------------------------------------------------------


def uploads(
    client_counts: tuple[int, ...] = (1, 8, 32),
    per_client: int = 60,
    seconds: float = 30.0,
    extra_env: dict[str, str] | None = None,
) -> dict:
    """10 KB uploads against the number of clients, custody on (``extra_env``: UNAUDITED for off)."""
    seed = json.loads(SEED.read_text())
    results = {}
    settle()
    with gunicorn(DATABASE_URL, KEYRING, workers=WORKERS, extra_env={**SERVER_ENV, **(extra_env or {})}) as server:
        for clients in client_counts:
            call = _upload_call(seed, f"curve{clients}")
            # Warm every worker (its keys, pool and prepared statements), whatever the client count:
            # five requests from one client left three of four workers cold, and with 60 samples
            # their first requests were the p95.
            _load(server.port, seed["tokens"]["interviewer"], max(clients, 2 * WORKERS), 5, call, 10)
            results[str(clients)] = _load(
                server.port,
                seed["tokens"]["interviewer"],
                clients,
                max(per_client, MIN_UPLOADS // clients),
                call,
                seconds,
                server.process.pid,
            )
    return results


def upload_ratio(clients: int = 8, rounds: int = 4, seconds: float = 6.0) -> dict:
    """The SPEC's upload target: custody on against custody off, the same 10 KB uploads at 8 clients.

    One server at a time (an idle server's integrators would otherwise commit beside the other's
    run), started, warmed and loaded in turn, the order alternating each round (on off, off on,
    ...) so drift hits both alike. Throughput: the mean of the runs' (and the mean ratio of the
    runs paired in a round, with its 95 % interval); p95: of every sample of the mode, pooled.
    """
    seed = json.loads(SEED.read_text())
    token = seed["tokens"]["interviewer"]
    modes = {"audited": {}, "unaudited": UNAUDITED}
    runs: dict[str, list[dict]] = {mode: [] for mode in modes}
    samples: dict[str, list[float]] = {mode: [] for mode in modes}
    for n in range(rounds):
        for mode in list(modes) if n % 2 == 0 else list(reversed(modes)):
            with gunicorn(DATABASE_URL, KEYRING, workers=WORKERS, extra_env={**SERVER_ENV, **modes[mode]}) as server:
                call = _upload_call(seed, f"ratio{n}{mode}")
                _load(server.port, token, max(clients, 2 * WORKERS), 5, call, 10)  # warm every worker
                settle()
                run = _load(
                    server.port,
                    token,
                    clients,
                    100_000,
                    _upload_call(seed, f"ratio{n}{mode}m"),
                    seconds,
                    server.process.pid,
                    keep_samples=True,
                )
            samples[mode] += run.pop("samples")
            runs[mode].append(run)
    rps = {mode: statistics.fmean(r["throughput_rps"] for r in mode_runs) for mode, mode_runs in runs.items()}
    pooled = {mode: percentiles(values) for mode, values in samples.items()}
    pairs = [a["throughput_rps"] / u["throughput_rps"] for a, u in zip(runs["audited"], runs["unaudited"], strict=True)]
    half_width = 1.96 * statistics.stdev(pairs) / len(pairs) ** 0.5 if len(pairs) > 1 else float("nan")
    return {
        "clients": clients,
        "rounds": rounds,
        "seconds_each": seconds,
        "audited_rps": rps["audited"],
        "unaudited_rps": rps["unaudited"],
        "throughput_ratio": rps["audited"] / rps["unaudited"],
        "throughput_ratio_ci95": [statistics.fmean(pairs) - half_width, statistics.fmean(pairs) + half_width],
        "audited_p95_ms": pooled["audited"]["p95"],
        "unaudited_p95_ms": pooled["unaudited"]["p95"],
        "p95_ratio": pooled["audited"]["p95"] / pooled["unaudited"]["p95"],
        "audited": pooled["audited"],
        "unaudited": pooled["unaudited"],
        "audited_cpu_ms": statistics.fmean(_server_cpu(r) for r in runs["audited"]),
        "unaudited_cpu_ms": statistics.fmean(_server_cpu(r) for r in runs["unaudited"]),
        "runs": runs,
    }


# --- merge delay -------------------------------------------------------------------------------


class _Watcher:
    """Polls custody_events on a connection of its own for the events newer than it has seen, and
    notes when each request id first appears in the tree (``monotonic``, as the clients' clock)."""

    def __init__(self, interval: float = 0.005) -> None:
        self.interval = interval
        self.connection = psycopg.connect(f"{PG_SERVER}/{BENCH_DB}", autocommit=True)
        (self.last,) = self.connection.execute("SELECT coalesce(max(seq), -1) FROM custody_events").fetchone() or (-1,)
        self.seen: dict[str, float] = {}
        self.polls = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="bench-merge-watcher", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        query = "SELECT seq, request_id FROM custody_events WHERE seq > %s ORDER BY seq"
        while not self.stop.is_set():
            rows = self.connection.execute(query, (self.last,)).fetchall()
            now = time.monotonic()
            for seq, request_id in rows:
                self.seen.setdefault(request_id, now)
                self.last = max(self.last, seq)
            self.polls += 1
            self.stop.wait(self.interval)

    def wait_for(self, request_ids: list[str], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and any(r not in self.seen for r in request_ids):
            time.sleep(0.05)

    def close(self) -> None:
        self.stop.set()
        self.thread.join()
        self.connection.close()


def _answered(port: int, token: str, path: str, clients: int, seconds: float) -> tuple[list[tuple[str, float]], float]:
    """``clients`` keep-alive clients reading ``path`` for ``seconds``: (X-Request-ID, answered at) of
    each answer (after its last byte, ``monotonic``), and the throughput."""
    answered: list[tuple[str, float]] = []
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def loop() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine = []
        try:
            while time.monotonic() < deadline:
                connection.request("GET", path, headers={"Authorization": f"Bearer {token}"})
                response = connection.getresponse()
                response.read()
                at = time.monotonic()
                assert response.status == 200, response.status
                mine.append((response.getheader("X-Request-ID") or "", at))
        finally:
            connection.close()
        with lock:
            answered.extend(mine)

    threads = [threading.Thread(target=loop) for _ in range(clients)]
    start = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answered, len(answered) / (time.monotonic() - start)


def _one(port: int, token: str, path: str) -> tuple[str, float]:
    """One read on a connection of its own: (X-Request-ID, answered at)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("GET", path, headers={"Authorization": f"Bearer {token}"})
        response = connection.getresponse()
        response.read()
        at = time.monotonic()
        assert response.status == 200, response.status
        return response.getheader("X-Request-ID") or "", at
    finally:
        connection.close()


def _delays(answered: list[tuple[str, float]], watcher: _Watcher) -> dict[str, Any]:
    """Response -> in the tree, in ms (0 when the event was placed before the answer's last byte
    arrived); events never seen within the wait are counted, not guessed."""
    delays = [max(0.0, watcher.seen[rid] - at) * 1000 for rid, at in answered if rid in watcher.seen]
    missing = sum(1 for rid, _ in answered if rid not in watcher.seen)
    stats = percentiles(delays) if delays else {"n": 0}
    return {**stats, "max": max(delays, default=float("nan")), "missing": missing}


def merge_delay(
    load_seconds: float = 20.0, clients: int = 8, idle_requests: int = 40, idle_gap: tuple[float, float] = (1.1, 1.5)
) -> dict:
    """Every answered request's event in the tree within the merge delay (SPEC: 1 s), under load and idle.

    One audited gunicorn as the other load runs start it. The answers' X-Request-ID (the event's
    request_id) are looked for in custody_events by a watcher polling every 5 ms on a connection
    of its own; the delay is from the answer's last byte to the poll that first sees the event
    (so it is over-stated by up to one poll). Under load: the 8-client read load. Idle: single
    reads spaced 1.1 to 1.5 s apart (random, so they do not keep one phase of the integrators'
    polling), after the load's events are all placed.
    """
    seed = json.loads(SEED.read_text())
    sample = seed["sample_transcript"]
    path = f"/api/v1/interviews/{sample['interview_id']}/transcripts/{sample['version']}"
    token = seed["tokens"]["legal"]
    rng = random.Random(5)
    settle()
    with gunicorn(DATABASE_URL, KEYRING, workers=WORKERS, extra_env=SERVER_ENV) as server:
        merge = float(SERVER_ENV.get("CASEWORK_CUSTODY_MERGE_DELAY", "1.0"))
        _answered(server.port, token, path, clients, 3)  # warm up
        watcher = _Watcher()
        try:
            loaded, rps = _answered(server.port, token, path, clients, load_seconds)
            watcher.wait_for([rid for rid, _ in loaded], timeout=10)
            idle: list[tuple[str, float]] = []
            time.sleep(1.5)
            for _ in range(idle_requests):
                idle.append(_one(server.port, token, path))
                time.sleep(rng.uniform(*idle_gap))
            watcher.wait_for([rid for rid, _ in idle], timeout=10)
        finally:
            watcher.close()
    under_load, at_rest = _delays(loaded, watcher), _delays(idle, watcher)
    return {
        "merge_delay_s": merge,
        "poll_ms": watcher.interval * 1000,
        "load_clients": clients,
        "load_rps": rps,
        "load": under_load,
        "idle": at_rest,
        "idle_gap_s": list(idle_gap),
    }


if __name__ == "__main__":
    which = sys.argv[1] if len(sys.argv) > 1 else "reads"
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    result = {
        "reads": lambda: reads(rounds=rounds),
        "uploads": uploads,
        "upload-ratio": upload_ratio,
        "merge-delay": merge_delay,
    }[which]()
    print(json.dumps(result, indent=2))
