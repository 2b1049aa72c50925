"""The custody append: N writer processes on PostgreSQL, events/s sustained, against pgbench.

    python -m bench.append                          # 8 writers: 3 rounds of 10 s, each beside pgbench
    python -m bench.append --writers 1 2 4 8 16 --seconds 10 --rounds 2
    python -m bench.append --mode log               # the log's calls alone, on a held connection
    python -m bench.append --mode direct            # diagnostic: intake and integration in one transaction

The SPEC's target: custody appends >= 50 % of the machine's durable one-row insert rate measured
by pgbench in the same run, at the same concurrency. So every round measures both, back to back
from a checkpointed machine (``bench.common.settle``), in alternating order so that drift of
this shared machine hits both alike:

* pgbench, N clients (one thread each): ``pgbench -n -M prepared -c N -j N -T S -f <script>``
  on a table of its own in a scratch database (``CASEWORK_BENCH_PGBENCH_DB``), the script one
  ``INSERT INTO one_row (at, payload) VALUES (now(), repeat('x', 300))``: each insert its own
  transaction, committed with the server's synchronous commit (on), a row about an event's size.
* the app, N writer processes, each an app as a gunicorn worker is. ``request`` (the target)
  does what a request's end does: ``recorder.begin``, queue one event, ``recorder.commit()``
  (``log.intake``: the event sealed and sent to ``custody_record`` with the COMMIT in the same
  round trip; no integration in the request, ``CASEWORK_CUSTODY_INTEGRATE_AFTER_COMMIT`` false as
  in production), while the process's background integrator thread
  (``casework.custody.integrator.run``, as ``config/gunicorn.conf.py`` starts it in every worker)
  integrates what is queued (``log.try_integrate``) every merge delay / 4. ``log`` is the same
  without Flask's session: ``log.intake(connection, [event], commit=True)`` on a held
  connection. ``direct`` (diagnostic) is ``log.append`` (intake, then integration under the head
  lock in the writer's own transaction) and a commit.

"Sustained" counts only events in the tree: the clock stops after the final ``log.integrate_committed``,
so a backlog left in the intake queue is paid for. The log is then checked as the signer checks
it: ``publication.recompute`` from the empty tree recomputes every leaf from its event and
compares it, every stored node, the head's size and frontier; the event count must be what the
writers wrote and the queue empty. Runs on a scratch database (``CASEWORK_BENCH_APPEND_DB``,
default casework_bench_append), made anew for every run.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
from typing import Any

import psycopg

from bench.common import KEYRING, PG_SERVER, bench_app, cpu_seconds, postgres_pids, settle

APPEND_DB = os.environ.get("CASEWORK_BENCH_APPEND_DB", "casework_bench_append")
APPEND_URL = f"postgresql+psycopg://postgres@127.0.0.1:5432/{APPEND_DB}"
PGBENCH_DB = os.environ.get("CASEWORK_BENCH_PGBENCH_DB", "casework_bench_pgbench")
PGBENCH_SCRIPT = "INSERT INTO one_row (at, payload) VALUES (now(), repeat('x', 300));\n"
MODES = ("request", "log", "direct")


def _app() -> Any:
    # bench_app: as in production, no request integrates after its commit (PRODUCTION_CUSTODY).
    return bench_app(SQLALCHEMY_DATABASE_URI=APPEND_URL, CASEWORK_SIGNER_STATE=f"{KEYRING}.{APPEND_DB}.signer-state")


def _recreate(dbname: str) -> None:
    with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{dbname}"')


def _fresh_database() -> None:
    from flask_migrate import upgrade

    _recreate(APPEND_DB)
    app = _app()
    with app.app_context():
        upgrade()
        from casework.db import db

        db.engine.dispose()


# --- pgbench: the machine's durable one-row insert rate -------------------------------------------


def pgbench_available() -> bool:
    return shutil.which("pgbench") is not None


def _pgbench_database() -> None:
    _recreate(PGBENCH_DB)
    with psycopg.connect(f"{PG_SERVER}/{PGBENCH_DB}", autocommit=True) as conn:
        conn.execute("CREATE TABLE one_row (id bigserial PRIMARY KEY, at timestamptz NOT NULL, payload text NOT NULL)")


def pgbench(clients: int, seconds: float) -> dict[str, Any]:
    """Durable one-row inserts per second at ``clients`` connections (the table made by ``_pgbench_database``)."""
    with tempfile.NamedTemporaryFile("w", suffix=".sql", prefix="bench-one-row-") as script:
        script.write(PGBENCH_SCRIPT)
        script.flush()
        duration = str(max(1, round(seconds)))
        command = [
            "pgbench",
            "-n",
            "-M",
            "prepared",
            "-c",
            str(clients),
            "-j",
            str(clients),
            "-T",
            duration,
            "-f",
            script.name,
            "-h",
            "127.0.0.1",
            "-p",
            "5432",
            "-U",
            "postgres",
            PGBENCH_DB,
        ]
        before = (_children_cpu(), cpu_seconds(postgres_pids()))
        done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 120)
        client_s, postgres_s = _children_cpu() - before[0], cpu_seconds(postgres_pids()) - before[1]
    found = re.search(r"tps = ([0-9.]+) \(without initial connection time\)", done.stdout)
    if done.returncode != 0 or found is None:
        raise RuntimeError(f"pgbench failed: {done.stdout[-500:]} {done.stderr[-500:]}")
    processed = re.search(r"number of transactions actually processed: (\d+)", done.stdout)
    inserts = int(processed.group(1)) if processed else 0
    described = f"pgbench -n -M prepared -c {clients} -j {clients} -T {duration} -f one_row.sql {PGBENCH_DB}"
    return {
        "clients": clients,
        "tps": float(found.group(1)),
        "inserts": inserts,
        "command": described,
        # CPU per insert: the pgbench client, and PostgreSQL (every process of the server)
        "client_cpu_ms": 1000 * client_s / max(1, inserts),
        "postgres_cpu_ms": 1000 * postgres_s / max(1, inserts),
    }


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)  # every thread of the process: the integrator's too
    return usage.ru_utime + usage.ru_stime


# --- the app's writers -----------------------------------------------------------------------


def _event(number: int, done: int) -> Any:
    from casework.custody.log import NewEvent

    return NewEvent(
        action="bench.append",
        outcome="allowed",
        actor_id=number,
        actor_username=f"writer{number}",
        actor_role="legal",
        resource_type="transcript",
        resource_id=f"{number}/{done}",
        request_id=f"{number}-{done}",
        client_addr="127.0.0.1",
        details={"writer": number, "n": done},
    )


def _writer(number: int, mode: str, seconds: float, barrier: Any, counts: Any) -> None:
    from casework.custody import integrator, log, recorder
    from casework.db import db

    app = _app()
    stop = threading.Event()
    background = None
    if mode != "direct":  # as every gunicorn worker: the integrator thread beside the requests
        background = threading.Thread(
            target=integrator.run,
            args=(app, app.config["CASEWORK_CUSTODY_MERGE_DELAY"]),
            kwargs={"stop": stop},
            name="custody-integrator",
            daemon=True,
        )
    done = 0
    with app.app_context():
        db.session.execute(db.text("SELECT 1"))  # connect before the clock starts
        db.session.commit()
        if background is not None:
            background.start()
        barrier.wait()
        cpu_at_start = _own_cpu()
        deadline = time.monotonic() + seconds
        if mode == "log":  # the log's own calls on a held connection: no session, no pool checkout
            with db.engine.connect() as connection:
                while time.monotonic() < deadline:
                    log.intake(connection, [_event(number, done)], commit=True)
                    done += 1
        elif mode == "direct":
            while time.monotonic() < deadline:
                log.append([_event(number, done)])
                db.session.commit()
                done += 1
        else:  # what a request's end does (casework.access.hooks -> recorder.commit)
            while time.monotonic() < deadline:
                recorder.begin("127.0.0.1")
                recorder.queue(_event(number, done))
                recorder.commit()
                done += 1
    stop.set()
    if background is not None:
        background.join()
    counts[number] = (done, _own_cpu() - cpu_at_start)


def run(writers: int, seconds: float, mode: str = "request") -> dict[str, Any]:
    """One run of the app's writers on a fresh log: events/s in the tree, and the log checked."""
    from sqlalchemy import func, select

    from casework.custody import log, publication
    from casework.custody.models import CustodyEvent, CustodyIntake
    from casework.db import db
    from casework_verify import merkle

    _fresh_database()
    settle()
    context = mp.get_context("fork")
    counts = context.Manager().dict()
    barrier = context.Barrier(writers + 1)
    processes = [context.Process(target=_writer, args=(n, mode, seconds, barrier, counts)) for n in range(writers)]
    for process in processes:
        process.start()
    barrier.wait(timeout=120)  # every writer connected, its integrator started
    started, postgres_at_start = time.monotonic(), cpu_seconds(postgres_pids())
    for process in processes:
        process.join()
    app = _app()
    with app.app_context():
        backlog = db.session.scalar(select(func.count()).select_from(CustodyIntake))
        db.session.rollback()
        log.integrate_committed()
        finished, postgres_s = time.monotonic(), cpu_seconds(postgres_pids()) - postgres_at_start
        events = db.session.scalar(select(func.count()).select_from(CustodyEvent))
        size = log.tree_size()
        # As the signer checks before signing: every leaf recomputed from its event, every stored
        # node, the head's size and frontier (raises PublicationRefused naming the first bad seq).
        publication.recompute(merkle.CompactRange(), size)
        left = db.session.scalar(select(func.count()).select_from(CustodyIntake))
        db.session.rollback()
        db.engine.dispose()
    written = sum(done for done, _ in counts.values())
    writers_s = sum(cpu for _, cpu in counts.values())
    assert events == written == size and left == 0, (events, written, size, left)
    wall = finished - started
    return {
        "mode": mode,
        "writers": writers,
        "events": events,
        "seconds": round(wall, 2),
        "events_per_s": round(events / wall),
        "backlog_at_stop": backlog,
        # CPU per event: the writer processes (with their integrator threads), and PostgreSQL
        "app_cpu_ms": 1000 * writers_s / max(1, events),
        "postgres_cpu_ms": 1000 * postgres_s / max(1, events),
    }


def measure(
    writers: int, seconds: float = 10.0, rounds: int = 3, mode: str = "request", with_pgbench: bool = True
) -> dict[str, Any]:
    """Rounds of pgbench and the app at the same concurrency, alternating which goes first."""
    apps: list[dict[str, Any]] = []
    benches: list[dict[str, Any]] = []
    with_pgbench = with_pgbench and pgbench_available()
    if with_pgbench:
        _pgbench_database()
    for n in range(rounds):
        order = ("pgbench", "app") if n % 2 == 0 else ("app", "pgbench")
        for which in order:
            if which == "app":
                apps.append(run(writers, seconds, mode))
            elif with_pgbench:
                settle()
                benches.append(pgbench(writers, seconds))
    events_per_s = statistics.fmean(r["events_per_s"] for r in apps)
    result: dict[str, Any] = {
        "mode": mode,
        "writers": writers,
        "rounds": rounds,
        "seconds_each": seconds,
        "events_per_s": round(events_per_s),
        "events": sum(r["events"] for r in apps),
        "seconds": round(sum(r["seconds"] for r in apps), 2),
        "backlog_at_stop": max(r["backlog_at_stop"] for r in apps),
        "app_cpu_ms": statistics.fmean(r["app_cpu_ms"] for r in apps),
        "postgres_cpu_ms": statistics.fmean(r["postgres_cpu_ms"] for r in apps),
        "runs": apps,
    }
    if benches:
        tps = statistics.fmean(b["tps"] for b in benches)
        pairs = [a["events_per_s"] / b["tps"] for a, b in zip(apps, benches, strict=True)]
        result.update(
            pgbench_tps=round(tps),
            pgbench_runs=benches,
            pgbench_command=benches[0]["command"],
            pgbench_client_cpu_ms=statistics.fmean(b["client_cpu_ms"] for b in benches),
            pgbench_postgres_cpu_ms=statistics.fmean(b["postgres_cpu_ms"] for b in benches),
            ratio=events_per_s / tps,
            pair_ratios=pairs,
        )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writers", type=int, nargs="+", default=[8])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--mode", choices=MODES, default="request")
    parser.add_argument("--no-pgbench", action="store_true")
    args = parser.parse_args()
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    print(json.dumps({"machine": platform.uname()._asdict(), "nproc": os.cpu_count(), "commit": commit}))
    for writers in args.writers:
        print(json.dumps(measure(writers, args.seconds, args.rounds, args.mode, not args.no_pgbench)), flush=True)


if __name__ == "__main__":
    main()
