"""The custody append alone: N writer processes on PostgreSQL, events/s sustained.

    python -m bench.append                       # 8 writers, 20 s, integrate every 64th row
    python -m bench.append --writers 4 8 16 --seconds 20
    python -m bench.append --mode log            # the log's calls alone, each writer on a held connection
    python -m bench.append --mode direct         # the old way: append under the head lock to commit

Each writer is a process of its own running the application's recorder, as a request's end
does: queue one event, ``recorder.commit()`` (intake insert and commit, synchronous commit,
then a batch integration when it holds an Nth intake row). ``--mode direct`` appends inside
the transaction under the head lock (``custody.log.append``), the design before intake.
``--mode log`` is the append itself: ``custody.log.intake`` as a statement committing itself
(autocommit, synchronous commit) on a connection the writer holds (no Flask session, no pool
checkout and its pre-ping, no BEGIN round trip), and
``custody.log.try_integrate`` on every Nth intake row.

"Sustained" counts only events in the tree: the clock stops after the final catch-up, so a
backlog left in the intake queue is paid for. The log is then checked: seqs gap-free, head
size equal to the event count, intake empty, stored nodes agreeing with the head's frontier.
Runs on a scratch database (``CASEWORK_BENCH_APPEND_DB``, default casework_bench_append).
"""
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import subprocess
import time
from typing import Any

import psycopg

from bench.common import KEYRING, PG_SERVER, bench_app

APPEND_DB = os.environ.get("CASEWORK_BENCH_APPEND_DB", "casework_bench_append")
APPEND_URL = f"postgresql+psycopg://postgres@127.0.0.1:5432/{APPEND_DB}"


def _app(every: int) -> Any:
    return bench_app(SQLALCHEMY_DATABASE_URI=APPEND_URL, CASEWORK_CUSTODY_INTEGRATE_EVERY=every,
                     CASEWORK_SIGNER_STATE=f"{KEYRING}.{APPEND_DB}.signer-state")


def _fresh_database() -> None:
    from flask_migrate import upgrade

    with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{APPEND_DB}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{APPEND_DB}"')
    app = _app(64)
    with app.app_context():
        upgrade()


def _writer(number: int, mode: str, every: int, start_at: float, seconds: float, counts: Any) -> None:
    from casework.custody import log, recorder
    from casework.custody.log import NewEvent
    from casework.db import db

    app = _app(every)
    done = 0
    with app.app_context():
        db.session.execute(db.text("SELECT 1"))  # connect before the clock starts
        db.session.commit()
        while time.time() < start_at:
            time.sleep(0.001)
        deadline = start_at + seconds
        if mode == "log":  # the log's own calls on a held connection: no session, no pool checkout
            # Each INSERT is its own transaction (autocommit): committed, synchronously, when it returns.
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                while time.time() < deadline:
                    ids = log.intake(connection, [NewEvent(
                        action="bench.append", outcome="allowed", actor_id=number,
                        actor_username=f"writer{number}", actor_role="legal", resource_type="transcript",
                        resource_id=f"{number}/{done}", request_id=f"{number}-{done}",
                        client_addr="127.0.0.1", details={"writer": number, "n": done})])
                    if ids[0] % every == 0:
                        log.try_integrate()
                    done += 1
            counts[number] = done
            return
        while time.time() < deadline:
            recorder.begin("127.0.0.1")
            recorder.queue(NewEvent(action="bench.append", outcome="allowed", actor_id=number,
                                    actor_username=f"writer{number}", actor_role="legal",
                                    resource_type="transcript", resource_id=f"{number}/{done}",
                                    details={"writer": number, "n": done}))
            if mode == "direct":
                log.append(recorder.current_context().pending)
                recorder.current_context().pending.clear()
                db.session.commit()
            else:
                recorder.commit()
            done += 1
    counts[number] = done


def run(writers: int, seconds: float, every: int, mode: str) -> dict[str, Any]:
    from sqlalchemy import func, select

    from casework.custody import checkpoints, log
    from casework.custody.models import CustodyEvent, CustodyIntake
    from casework.db import db

    _fresh_database()
    counts = mp.Manager().dict()
    start_at = time.time() + 2.0  # every writer connected and waiting
    processes = [mp.Process(target=_writer, args=(n, mode, every, start_at, seconds, counts))
                 for n in range(writers)]
    for process in processes:
        process.start()
    for process in processes:
        process.join()
    app = _app(every)
    with app.app_context():
        backlog = db.session.scalar(select(func.count()).select_from(CustodyIntake))
        db.session.rollback()
        log.catch_up()
        finished = time.time()
        events = db.session.scalar(select(func.count()).select_from(CustodyEvent))
        seqs_ok = db.session.scalar(select(func.max(CustodyEvent.seq))) == events - 1
        size, _root = checkpoints.tree_head()  # raises if stored nodes disagree with the frontier
        left = db.session.scalar(select(func.count()).select_from(CustodyIntake))
        db.session.rollback()
    written = sum(counts.values())
    assert events == written == size and seqs_ok and left == 0, (events, written, size, seqs_ok, left)
    wall = finished - start_at
    return {"mode": mode, "writers": writers, "every": every, "events": events, "seconds": round(wall, 2),
            "events_per_s": round(events / wall), "backlog_at_stop": backlog}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writers", type=int, nargs="+", default=[8])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--every", type=int, default=64)
    parser.add_argument("--mode", choices=("intake", "log", "direct"), default="intake")
    args = parser.parse_args()
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    print(json.dumps({"machine": platform.uname()._asdict(), "nproc": os.cpu_count(), "commit": commit}))
    for writers in args.writers:
        print(json.dumps(run(writers, args.seconds, args.every, args.mode)), flush=True)


if __name__ == "__main__":
    main()
