"""Custody query latency on a growth database, through the auditor API, with the plan of each.

    python -m bench.queries casework_growth_1000000

Every sample is one ``GET /api/v1/custody/events`` through the app (in-process WSGI client:
bearer-token authentication, authorization, the query, serialisation, and the auditor's own
custody event committed), at a random keyset position: a cursor anywhere in the log, since a
page deep in a long log is the case that grows if an index is missing. The SQL each filter
runs is timed at the driver (the database's share of the request) and EXPLAINed, so the table
says which index served it.
"""

from __future__ import annotations

import json
import random
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import event

from bench.common import growth_app, percentiles, timed

Params = Callable[[random.Random], dict[str, Any]]


def query_shapes(info: dict, size: int) -> dict[str, Params]:
    """The auditor's filters (SPEC: actor, action, outcome, resource, case, time range)."""
    from bench.seed import GROWTH_BASE
    from casework.pagination import encode_cursor

    witnesses = info["witness_ids"]
    auditor_id = info["actors"]["auditor"][0]
    transcripts = info["transcripts"]

    def page(rng: random.Random) -> dict[str, Any]:
        return {"limit": 50, "cursor": encode_cursor(rng.randrange(size))}

    def window(rng: random.Random) -> dict[str, Any]:
        start = rng.randrange(max(1, size - 86_400))
        since = GROWTH_BASE + timedelta(seconds=start)
        args = {"since": since.isoformat(), "until": (since + timedelta(days=1)).isoformat(), "limit": 50}
        if rng.random() < 0.5:  # a later page of the same window
            args["cursor"] = encode_cursor(start + rng.randrange(min(86_400, size - start)))
        return args

    return {
        "witness": lambda r: {"witness_id": r.choice(witnesses), **page(r)},
        "witness+action (who read W)": lambda r: {
            "witness_id": r.choice(witnesses),
            "action": "transcript.read",
            **page(r),
        },
        "witness+rare action": lambda r: {"witness_id": r.choice(witnesses), "action": "witness.read", **page(r)},
        "action": lambda r: {"action": "transcript.create", **page(r)},
        "rare action": lambda r: {"action": "auth.login", **page(r)},
        "absent action": lambda r: {"action": "exhibit.read", **page(r)},
        "resource (type, id)": lambda r: {
            "resource_type": "transcript",
            "resource_id": str(r.randrange(1, transcripts + 1)),
            **page(r),
        },
        "resource type": lambda r: {"resource_type": "witness", **page(r)},
        "actor id": lambda r: {"actor_id": auditor_id, **page(r)},
        "actor username": lambda r: {"actor": "bench-auditor", **page(r)},
        "case": lambda r: {"case_id": info["case_id"], **page(r)},
        "outcome denied": lambda r: {"outcome": "denied", **page(r)},
        "time range (1 day)": window,
        "no filter": page,
    }


@contextmanager
def capture_sql(engine: Any) -> Iterator[list[tuple[str, Any, float]]]:
    """Collect (statement, parameters, ms) of the paged SELECTs on custody_events inside the block:
    the database's share of each request, timed around the driver's execute."""
    seen: list[tuple[str, Any, float]] = []

    def wanted(statement: str) -> bool:
        return (
            statement.lstrip().upper().startswith("SELECT")
            and "FROM custody_events" in statement
            and "ORDER BY" in statement
            and "LIMIT" in statement
        )

    def before(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        if wanted(statement):
            conn.info["bench_started"] = time.perf_counter()

    def after(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        started = conn.info.pop("bench_started", None)
        if started is not None and wanted(statement):
            seen.append((statement, parameters, (time.perf_counter() - started) * 1000))

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", before)
        event.remove(engine, "after_cursor_execute", after)


def explain(conn: Any, statement: str, parameters: Any) -> dict[str, Any]:
    """The plan's scans: index names, and whether it sorts or scans the whole table."""
    plan = conn.exec_driver_sql("EXPLAIN (FORMAT JSON) " + statement, parameters).scalar()
    nodes: list[dict[str, Any]] = []

    def walk(node: dict[str, Any]) -> None:
        nodes.append(node)
        for child in node.get("Plans", []):
            walk(child)

    walk((plan if isinstance(plan, list) else json.loads(plan))[0]["Plan"])
    return {
        "indexes": sorted({n["Index Name"] for n in nodes if "Index Name" in n}),
        "sort": any(n["Node Type"] in ("Sort", "Incremental Sort") for n in nodes),
        "seq_scan": any(n["Node Type"] == "Seq Scan" for n in nodes),
        "bitmap": any(n["Node Type"].startswith("Bitmap") for n in nodes),
    }


def run(dbname: str, info: dict, size: int, repeat: int = 60) -> dict[str, Any]:
    from casework.db import db

    app = growth_app(dbname)
    client = app.test_client()
    auth = {"Authorization": f"Bearer {info['tokens']['auditor']}"}
    rng = random.Random(13)
    results: dict[str, Any] = {}
    with app.app_context():
        engine = db.engine
    for name, params in query_shapes(info, size).items():

        def call(params: Params = params) -> None:
            response = client.get(f"/api/v1/custody/events?{urlencode(params(rng))}", headers=auth)
            assert response.status_code == 200, response.data[:300]

        call()  # warm
        with capture_sql(engine) as seen:
            samples = timed(call, repeat)
        assert len(seen) == repeat, f"{name}: {len(seen)} paged queries captured for {repeat} requests"
        with engine.connect() as conn:
            plan = explain(conn, seen[-1][0], seen[-1][1])
        results[name] = percentiles(samples) | {"sql": percentiles([ms for _, _, ms in seen]), "plan": plan}
    return results


if __name__ == "__main__":
    from bench.seed import _databases

    name = sys.argv[1]
    info = _databases()[name]
    print(json.dumps(run(name, info, info["events"]), indent=2))
