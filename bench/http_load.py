"""Load through gunicorn (4 workers) on PostgreSQL: audited vs unaudited reads, and uploads.

    python -m bench.http_load reads [N]  # 10 KB transcript read, custody on vs off, ratio (N rounds)
    python -m bench.http_load uploads    # 10 KB transcript upload at 1, 8 and 32 clients

Loopback only; every loop is bounded by a request count and a deadline. The server runs as
production does: integrating custody events in batches (CASEWORK_CUSTODY_INTEGRATE_EVERY=64),
with synchronous commit. CASEWORK_BENCH_DB names the seeded database and CASEWORK_BENCH_SEED
its seed.json (default bench/out/seed.json), so these runs need not share the scale runs' data.
"""
from __future__ import annotations

import json
import os
import statistics
import sys
import threading
import time
from contextlib import ExitStack
from pathlib import Path

from bench.common import DATABASE_URL, KEYRING, Client, CpuMeter, percentiles, settle
from tests.pg_server import gunicorn

OUT = Path(__file__).resolve().parent / "out"
SEED = Path(os.environ.get("CASEWORK_BENCH_SEED", OUT / "seed.json"))
WORKERS = 4
SERVER_ENV = {"CASEWORK_CUSTODY_INTEGRATE_EVERY": os.environ.get("CASEWORK_CUSTODY_INTEGRATE_EVERY", "64")}
MIN_UPLOADS = 240  # samples per client count at least, so a p95 is not two or three requests
TEN_KB = ("The prisoners were lined up by the quarry wall. " * 210)[:10_240]


def _load(port: int, token: str, clients: int, requests_each: int, make_call, seconds: float,
          server_pid: int | None = None) -> dict:
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
    return {**percentiles(latencies), "throughput_rps": len(latencies) / wall, "clients": clients, **cpu}


# The read ratio's two servers, and a third for the profile only: the audited server with
# synchronous_commit off, which the target forbids; it shows what the commit's WAL flush costs.
READ_MODES = {
    "audited": ({}, ""),
    "unaudited": ({"CASEWORK_BENCH_DISABLE_CUSTODY": "1"}, ""),
    "audited_async_commit": ({}, "?options=-csynchronous_commit%3Doff"),
}


def reads(rounds: int = 20, seconds: float = 3.0, clients: int = 8) -> dict:
    """Audited against unaudited reads: the servers started and warmed once, then loaded in turn.

    This machine's speed drifts by a fifth within seconds (other tenants of the host), so the
    runs are short and many, and the order rotates each round (A B C, B C A, C A B, ...) so drift
    hits every server alike; neither pays a cold start inside a measured round. The ratio is of
    the mean throughputs; ``ratio_ci95`` is the 95 % interval of the mean ratio of the runs
    paired in a round.
    """
    seed = json.loads(SEED.read_text())
    sample = seed["sample_transcript"]
    path = f"/api/v1/interviews/{sample['interview_id']}/transcripts/{sample['version']}"
    call = lambda c, n: ("GET", path, None, 200)  # noqa: E731
    token = seed["tokens"]["legal"]
    runs: dict[str, list[dict]] = {mode: [] for mode in READ_MODES}
    with ExitStack() as stack:
        servers = {mode: stack.enter_context(gunicorn(DATABASE_URL + url_options, KEYRING, workers=WORKERS,
                                                      extra_env={**SERVER_ENV, **env}))
                   for mode, (env, url_options) in READ_MODES.items()}
        settle()
        for server in servers.values():
            _load(server.port, token, clients, 100_000, call, 5)  # warm up: pools, prepared statements
        order = list(READ_MODES)
        for n in range(rounds):
            for mode in order[n % len(order):] + order[:n % len(order)]:
                runs[mode].append(_load(servers[mode].port, token, clients, 100_000, call, seconds,
                                        servers[mode].process.pid))
    rps = {mode: statistics.fmean(r["throughput_rps"] for r in mode_runs) for mode, mode_runs in runs.items()}
    # Each audited run against the unaudited run of its round: drift between rounds cancels.
    pairs = [a["throughput_rps"] / u["throughput_rps"] for a, u in zip(runs["audited"], runs["unaudited"], strict=True)]
    half_width = 1.96 * statistics.stdev(pairs) / len(pairs) ** 0.5 if len(pairs) > 1 else float("nan")
    return {"audited_rps": rps["audited"], "unaudited_rps": rps["unaudited"],
            "ratio": rps["audited"] / rps["unaudited"],
            "ratio_ci95": [statistics.fmean(pairs) - half_width, statistics.fmean(pairs) + half_width],
            "async_commit_ratio": rps["audited_async_commit"] / rps["unaudited"],
            "pair_ratios": sorted(pairs), "median_pair_ratio": statistics.median(pairs),
            "audited_p95_ms": max(r["p95"] for r in runs["audited"]), "runs": runs}


def uploads(client_counts: tuple[int, ...] = (1, 8, 32), per_client: int = 60, seconds: float = 30.0,
            extra_env: dict[str, str] | None = None) -> dict:
    """Each client uploads to its own interview, as field interviewers do (one statement each).

    ``extra_env`` {"CASEWORK_BENCH_DISABLE_CUSTODY": "1"} is the diagnostic that says how much of an
    upload's latency is custody's: the same uploads with recording off (the SPEC's benchmark switch).
    """
    seed = json.loads(SEED.read_text())
    results = {}
    settle()
    with gunicorn(DATABASE_URL, KEYRING, workers=WORKERS, extra_env={**SERVER_ENV, **(extra_env or {})}) as server:
        for clients in client_counts:
            def call(c: int, n: int, k: int = clients) -> tuple:
                interview = 1 + (k * 100 + c) % seed["interviews"]
                return ("POST", f"/api/v1/interviews/{interview}/transcripts",
                        {"text": f"{k}-{c}-{n} {TEN_KB}", "reason": "bench"}, 201)

            # Warm every worker (its keys, pool and prepared statements), whatever the client count:
            # five requests from one client left three of four workers cold, and with 60 samples
            # their first requests were the p95.
            _load(server.port, seed["tokens"]["interviewer"], max(clients, 2 * WORKERS), 5, call, 10)
            results[str(clients)] = _load(server.port, seed["tokens"]["interviewer"], clients,
                                          max(per_client, MIN_UPLOADS // clients), call, seconds, server.process.pid)
    return results


if __name__ == "__main__":
    which = sys.argv[1] if len(sys.argv) > 1 else "reads"
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    print(json.dumps(reads(rounds=rounds) if which == "reads" else uploads(), indent=2))
