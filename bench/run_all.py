"""Run every benchmark; rewrite bench/RESULTS.md, bench/out/results.json and the plots.

Quick run, the load targets only (reads, uploads, appends against pgbench, merge delay; no
growth databases, no exhibits or bundle; about 12 minutes on the 2-core machine), from the
repository root:

    .venv/bin/python -m bench.run_all --only-load

Everything:

    make bench                                   # BENCH_EVENTS=10000000 (the SPEC's scale)
    make bench BENCH_EVENTS=1000000              # a quicker run
    python -m bench.run_all --events 10000000 [--skip-load] [--skip-exhibits]
    python -m bench.run_all --load-only          # rerun the load benchmarks, keeping results.json's growth rows

The custody log grows through 10k, 100k, 1M, 3M and 10M events (``bench.seed.grow``: one
PostgreSQL database per size, seeded by COPY with the app's own leaf hashing and tree nodes,
kept between runs and rebuilt only when the schema or the generator changes). At each size:
proofs (``bench.proofs``), custody queries with their plans (``bench.queries``), export and
offline verification (``bench.verify``). Then, when present, the other benchmarks are called
through their functions: ``bench.append`` (custody appends against pgbench at the same
concurrency), ``bench.http_load`` (audited reads, 10 KB uploads custody on and off, the merge
delay, on gunicorn), ``bench.exhibits`` (1 GiB exhibits) and ``bench.disclosure``.

Numbers on a shared 2-core machine drift with its other load: the machine, its load average
and the commit are recorded with the results.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import io
import json
import os
import platform
import subprocess
import sys
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
OUT = HERE / "out"
CHECKPOINTS = (10_000, 100_000, 1_000_000, 3_000_000, 10_000_000)


def sizes_up_to(events: int) -> list[int]:
    return [size for size in CHECKPOINTS if size < events] + [events]


def _run(command: list[str]) -> str:
    try:
        return subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "?"


def machine() -> dict[str, Any]:
    import psycopg

    from bench.common import PG_SERVER

    with psycopg.connect(f"{PG_SERVER}/postgres") as conn:
        pg = conn.execute("SELECT version()").fetchone()[0]
        settings = dict(
            conn.execute(
                "SELECT name, setting || coalesce(unit, '') FROM pg_settings WHERE name IN "
                "('shared_buffers', 'synchronous_commit', 'work_mem', 'max_wal_size')"
            )
        )
    with open("/proc/meminfo") as f:
        ram_kib = int(f.readline().split()[1])
    status = _run(["git", "status", "--porcelain", "--untracked-files=no"])
    return {
        "uname": " ".join(platform.uname()),
        "nproc": os.cpu_count(),
        "ram_gib": round(ram_kib / 2**20, 1),
        "python": sys.version.split()[0],
        "postgresql": pg,
        "pg_settings": settings,
        "commit": _run(["git", "rev-parse", "HEAD"]),
        "commit_short": _run(["git", "rev-parse", "--short", "HEAD"]),
        "dirty": bool(status and status != "?"),
        "loadavg_start": os.getloadavg(),
    }


def _guarded(name: str, call: Any) -> Any:
    """Run another helper's benchmark if its module exists; a failure is recorded, not fatal."""
    try:
        module = importlib.import_module(f"bench.{name}")
    except ImportError:
        return {"skipped": f"bench.{name} is not there"}
    try:
        return call(module)
    except Exception as exc:
        traceback.print_exc()
        return {"error": f"{type(exc).__name__}: {exc}"}


def _main_with(module: Any, argv: list[str]) -> list[dict[str, Any]]:
    """Call ``module.main()`` with ``argv``; return the JSON objects it printed, one per line."""
    saved = sys.argv
    buffer = io.StringIO()
    sys.argv = [module.__name__, *argv]
    try:
        with contextlib.redirect_stdout(buffer):
            module.main()
    finally:
        sys.argv = saved
    print(buffer.getvalue(), flush=True)
    found = []
    for line in buffer.getvalue().splitlines():
        with contextlib.suppress(ValueError):
            value = json.loads(line)
            if isinstance(value, dict):
                found.append(value)
    return found


# The SPEC's concurrency for the append target: that of the HTTP load (8 clients).
APPEND_TARGET_WRITERS = 8


def append_bench(module: Any, quick: bool = False) -> list[dict[str, Any]]:
    """Appends through a request's path (``request``) against pgbench at the same concurrency, in
    rounds; the full run adds the other concurrencies and the log's calls alone (``log``)."""
    if quick:
        return [module.measure(APPEND_TARGET_WRITERS, seconds=10, rounds=3)]
    rows = [
        module.measure(writers, seconds=10, rounds=3 if writers == APPEND_TARGET_WRITERS else 1)
        for writers in (1, 2, 4, 8, 16)
    ]
    return rows + [module.measure(APPEND_TARGET_WRITERS, seconds=10, rounds=1, mode="log")]


def http_bench(module: Any, quick: bool = False) -> dict[str, Any]:
    from bench import seed

    seed.seed(100_000, 10_000)  # bench/out/seed.json: the small database the load runs use
    # Quick: no third (async-commit, diagnostic) read server; its idle integrators would commit beside the others.
    return {
        "reads": module.reads(diagnostic=not quick),
        "uploads": module.uploads(),
        "upload_ratio": module.upload_ratio(rounds=6),
        "merge_delay": module.merge_delay(),
    }


def exhibits_bench(module: Any) -> dict[str, Any]:
    _main_with(module, [])
    path = OUT / "exhibits.json"
    return json.loads(path.read_text()) if path.exists() else {}


def disclosure_bench(module: Any) -> dict[str, Any]:
    _main_with(module, [])
    path = OUT / "disclosure.json"
    return json.loads(path.read_text()) if path.exists() else {}


def growth(events: int) -> list[dict[str, Any]]:
    from bench import proofs, queries, seed, verify
    from bench.common import growth_db, settle

    rows = []
    grown = seed.grow(sizes_up_to(events))
    for size, info in grown.items():
        name = growth_db(size)
        print(f"measuring {name}", flush=True)
        row = {
            "events": size,
            "seed": {k: info.get(k) for k in ("seed_s", "seeded_from", "copy_s", "vacuum_analyze_s", "reused")},
        }
        settle()  # not inside the writeback of the seeding or of the previous size's export
        row["loadavg"] = os.getloadavg()[0]  # the machine is shared: how busy it was while measuring
        row["proofs"] = proofs.run(name, info)
        row["queries"] = queries.run(name, info, size)
        row["verify"] = verify.run(name)
        print(json.dumps({"events": size, "verify": row["verify"]}), flush=True)
        rows.append(row)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=int(os.environ.get("BENCH_EVENTS", 10_000_000)))
    parser.add_argument("--skip-load", action="store_true", help="skip append, HTTP load and exhibits")
    parser.add_argument("--skip-exhibits", action="store_true")
    parser.add_argument("--replot", action="store_true", help="only redraw plots and RESULTS.md from results.json")
    parser.add_argument(
        "--load-only",
        action="store_true",
        help="rerun only the load benchmarks, keeping the growth rows of results.json",
    )
    parser.add_argument(
        "--only-load",
        action="store_true",
        help="quick: only reads, uploads, appends and merge delay; no growth databases, no exhibits",
    )
    args = parser.parse_args()
    from bench import plots

    OUT.mkdir(exist_ok=True)
    if args.replot:
        results = json.loads((OUT / "results.json").read_text())
    else:
        started = time.perf_counter()
        quick = args.only_load
        if args.load_only:
            results = json.loads((OUT / "results.json").read_text())
            results["command"] += f"` then `{_command(args)}"
        elif quick:
            results = {"machine": machine(), "command": _command(args), "rows": [], "quick": True}
        else:
            results = {"machine": machine(), "command": _command(args), "rows": growth(args.events)}
            (OUT / "results.json").write_text(json.dumps(results, indent=2, default=str))  # kept if a load run dies
        if not args.skip_load:
            results["append"] = _guarded("append", lambda module: append_bench(module, quick))
            load = _guarded("http_load", lambda module: http_bench(module, quick))
            for name in ("reads", "uploads", "upload_ratio", "merge_delay"):  # an error is recorded under each
                results[name] = load.get(name) if "reads" in load else load
            if not args.skip_exhibits and not quick:
                results["exhibits"] = _guarded("exhibits", exhibits_bench)
            if not quick:
                results["disclosure"] = _guarded("disclosure", disclosure_bench)
        results["machine"]["loadavg_end"] = os.getloadavg()
        results["finished"] = f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
        results["total_s"] = time.perf_counter() - started + (results.get("total_s", 0) if args.load_only else 0)
        (OUT / "results.json").write_text(json.dumps(results, indent=2, default=str))
    plotted = plots.plot_all(_plottable(results))
    (HERE / "RESULTS.md").write_text(render(results, plotted))
    print((HERE / "RESULTS.md").read_text())


def _plottable(results: dict[str, Any]) -> dict[str, Any]:
    append = results.get("append")
    uploads = results.get("uploads")
    return {
        "rows": results["rows"],
        "append": [r for r in append if "events_per_s" in r] if isinstance(append, list) else [],
        "uploads": uploads if isinstance(uploads, dict) and "error" not in uploads else {},
    }


def _command(args: argparse.Namespace) -> str:
    """The command as run (``make bench`` runs ``$(BIN)/python -m bench.run_all --events N ...``)."""
    python = Path(sys.executable)
    with contextlib.suppress(ValueError):
        python = python.relative_to(ROOT)
    return " ".join([str(python), "-m", "bench.run_all", *sys.argv[1:]])


# --- RESULTS.md ----------------------------------------------------------------------------


def _cpu(run: dict[str, Any]) -> str:
    """CPU per request as gunicorn / PostgreSQL / client ms (runs from before the meter: n/a)."""
    if "gunicorn_ms" not in run:
        return "n/a"
    return f"{run['gunicorn_ms']:.2f} / {run['postgres_ms']:.2f} / {run['client_ms']:.2f}"


def _mark(ok: bool | None) -> str:
    return "n/a" if ok is None else ("**PASS**" if ok else "**MISS**")


def _ms(value: float) -> str:
    return f"{value:.1f}" if value >= 10 else f"{value:.2f}"


def _flat_by_plan(rows: list[dict[str, Any]]) -> tuple[bool, str]:
    """Flat by plan: no query scans the log (Seq Scan) at any size; each reads an index from the
    cursor on. A bitmap + sort appears where the planner expects few matches after a deep cursor:
    it is bounded by those matches, not by the log (tests/custody/test_custody_queries_plan.py shows an
    ordered index scan exists for every filter)."""
    bad = [
        f"{name} at {row['events']:,}"
        for row in rows
        for name, q in row["queries"].items()
        if (q.get("plan") or {}).get("seq_scan")
    ]
    return not bad, ", ".join(bad)


def _flat_by_time(rows: list[dict[str, Any]]) -> tuple[bool, float, str]:
    """Flat by timing: each query's own SQL p95 at the largest size within 3x + 1 ms of the smallest."""
    first, last = rows[0]["queries"], rows[-1]["queries"]
    ratio = max(last[n]["sql"]["p95"] / max(first[n]["sql"]["p95"], 0.01) for n in last)
    worst = max(last, key=lambda n: last[n]["sql"]["p95"])
    ok = all(last[n]["sql"]["p95"] <= 3 * first[n]["sql"]["p95"] + 1 for n in last)
    return ok, ratio, f"worst at the largest size: {worst}, {last[worst]['sql']['p95']:.1f} ms"


def _growth_targets(rows: list[dict[str, Any]]) -> list[str]:
    big = rows[-1]
    p, v = big["proofs"], big["verify"]
    worst_name, worst = max(big["queries"].items(), key=lambda item: item[1]["p95"])
    flat, not_flat = _flat_by_plan(rows)
    timely, ratio, worst_sql = _flat_by_time(rows)
    lines = []
    for kind in ("inclusion", "consistency"):
        http, direct = p[f"{kind}_http"]["p95"], p[f"{kind}_direct"]["p95"]
        lines.append(
            f"| {kind} proof p95 ≤ 10 ms at {big['events']:,} events | HTTP **{_ms(http)} ms** "
            f"(direct from the log {_ms(direct)} ms) "
            f"| HTTP {_mark(http <= 10)}, direct {_mark(direct <= 10)} |"
        )
    lines.append(
        f"| custody queries p95 ≤ 50 ms at {big['events']:,} events ({len(big['queries'])} filter shapes, "
        f"HTTP) | worst **{_ms(worst['p95'])} ms** ({worst_name}) | {_mark(worst['p95'] <= 50)} |"
    )
    sorted_after = sorted(
        {
            f"{name} at {row['events']:,}"
            for row in rows
            for name, q in row["queries"].items()
            if (q.get("plan") or {}).get("sort")
        }
    )
    bounded = (
        f"; bitmap + sort of the few matches after a deep cursor: {', '.join(sorted_after)}" if sorted_after else ""
    )
    lines.append(
        f"| custody queries flat as the log grows: by plan (no query scans the log at any size; each "
        f"reads an index from the cursor on) | "
        f"{'no Seq Scan anywhere' if flat else 'Seq Scan: ' + not_flat}{bounded} | {_mark(flat)} |"
    )
    lines.append(
        f"| custody queries flat as the log grows: by timing (each query's own SQL p95 at "
        f"{rows[-1]['events']:,} within 3× + 1 ms of {rows[0]['events']:,}) | worst ratio {ratio:.1f}×; "
        f"{worst_sql} | {_mark(timely)} |"
    )
    lines.append(
        f"| offline verification of {v['entries']:,} events ≤ 60 s, < 200 MB RSS | **{v['verify_s']:.1f} s**, "
        f"**{v['verify_peak_rss_mb']:.0f} MB** (sum of RSS of {v['verify_processes']} processes; "
        f"PSS {v.get('verify_peak_pss_mb', 0):.0f} MB) "
        f"| {_mark(v['verify_s'] <= 60 and v['verify_peak_rss_mb'] < 200)} |"
    )
    return lines


def _append_target(append: Any) -> str | None:
    """Custody appends through a request's path against pgbench, at the target concurrency."""
    if not isinstance(append, list):
        return None
    rows = [r for r in append if r.get("mode") == "request" and "ratio" in r]
    row = next((r for r in rows if r["writers"] == APPEND_TARGET_WRITERS), rows[-1] if rows else None)
    if row is None:
        return None
    pairs = row.get("pair_ratios") or [row["ratio"]]
    return (
        f"| custody appends ≥ 50 % of the machine's durable one-row insert rate (pgbench, same run, same "
        f"concurrency: {row['writers']}) | through a request's path (`recorder.commit`: `log.intake` and its "
        f"COMMIT; the background integrator places them; counted once in the tree) "
        f"{row['events_per_s']:,} events/s vs `{row['pgbench_command']}` {row['pgbench_tps']:,} inserts/s = "
        f"**{row['ratio']:.0%}** (rounds {min(pairs):.0%}–{max(pairs):.0%}); CPU per event "
        f"{row['app_cpu_ms']:.2f} ms app + {row['postgres_cpu_ms']:.2f} ms PostgreSQL, per pgbench insert "
        f"{row['pgbench_client_cpu_ms']:.2f} + {row['pgbench_postgres_cpu_ms']:.2f} ms "
        f"| {_mark(row['ratio'] >= 0.5)} |"
    )


def _upload_target(ratio: Any) -> str | None:
    if not isinstance(ratio, dict) or "throughput_ratio" not in ratio:
        return None
    low, high = ratio["throughput_ratio_ci95"]
    return (
        f"| 10 KB upload at {ratio['clients']} clients, custody on: ≥ 0.90× the throughput and ≤ 1.2× the p95 "
        f"of custody off (back to back, {ratio['rounds']} rounds of each) | {ratio['audited_rps']:.0f} vs "
        f"{ratio['unaudited_rps']:.0f} req/s = **{ratio['throughput_ratio']:.2f}×** (paired rounds' 95 % interval "
        f"{low:.2f}–{high:.2f}); p95 {ratio['audited_p95_ms']:.1f} vs {ratio['unaudited_p95_ms']:.1f} ms = "
        f"**{ratio['p95_ratio']:.2f}×** | throughput {_mark(ratio['throughput_ratio'] >= 0.90)}, "
        f"p95 {_mark(ratio['p95_ratio'] <= 1.2)} |"
    )


def _merge_target(merge: Any) -> str | None:
    if not isinstance(merge, dict) or "load" not in merge:
        return None
    load, idle = merge["load"], merge["idle"]
    ok = all(part.get("n") and part["missing"] == 0 and part["p99"] <= 1000 for part in (load, idle))
    low, high = merge["idle_gap_s"]

    def part(x: dict[str, Any]) -> str:
        if not x.get("n"):
            return "no answers measured"
        missing = f", **{x['missing']} never seen**" if x["missing"] else ""
        return f"p50 {x['p50']:.0f} / p99 **{x['p99']:.0f} ms** (max {x['max']:.0f}, n {x['n']:,}{missing})"

    return (
        f"| every answered request's event in the tree within 1 s (merge delay "
        f"{merge['merge_delay_s']:g} s): p99 ≤ 1 s under load and idle | under the {merge['load_clients']}-client "
        f"read load ({merge['load_rps']:.0f} req/s): {part(load)}; idle (single reads {low:g}–{high:g} s apart): "
        f"{part(idle)}; from the answer to the watcher's poll ({merge['poll_ms']:g} ms) | {_mark(ok)} |"
    )


def _targets(results: dict[str, Any]) -> list[str]:
    rows = results["rows"]
    lines = ["| target | measured | result |", "|---|---|---|"]
    if rows:
        lines += _growth_targets(rows)
    else:
        lines.append(
            "| proofs, custody queries and offline verification at 10,000,000 events | not measured: "
            "this run was the load benchmarks only (`--only-load`) | n/a |"
        )
    reads = results.get("reads")
    if isinstance(reads, dict) and "ratio" in reads:
        interval = reads.get("ratio_ci95")
        spread = f" (95 % interval of the paired runs {interval[0]:.2f}–{interval[1]:.2f})" if interval else ""
        cpu = (
            (
                f"; CPU per read, gunicorn + PostgreSQL: {reads['audited_cpu_ms']:.2f} vs "
                f"{reads['unaudited_cpu_ms']:.2f} ms, custody's {reads['custody_cpu_ms']:.2f} ms"
            )
            if "custody_cpu_ms" in reads
            else ""
        )
        lines.append(
            f"| audited read ≥ 0.90× unaudited (8 clients, synchronous commit) "
            f"| {reads['audited_rps']:.0f} vs {reads['unaudited_rps']:.0f} req/s = "
            f"**{reads['ratio']:.2f}×**{spread}{cpu} | {_mark(reads['ratio'] >= 0.90)} |"
        )
    lines += [
        line
        for line in (
            _upload_target(results.get("upload_ratio")),
            _append_target(results.get("append")),
            _merge_target(results.get("merge_delay")),
        )
        if line
    ]
    exhibits = results.get("exhibits")
    if isinstance(exhibits, dict) and exhibits.get("stores"):
        for store in exhibits["stores"]:
            rss = max(store.get("upload_rss_mib", 0), store.get("download_rss_mib", 0))
            ok = rss < 150 and min(store.get("upload_mb_s", 0), store.get("download_mb_s", 0)) >= 50
            lines.append(
                f"| 1 GiB exhibit ({store.get('store')} store): RSS < 150 MB, ≥ 50 MB/s "
                f"| up {store.get('upload_mb_s', 0):.0f} MB/s, down {store.get('download_mb_s', 0):.0f} "
                f"MB/s, worker RSS ≤ {rss:.0f} MiB | {_mark(ok)} |"
            )
    bundle = results.get("disclosure")
    if isinstance(bundle, dict) and "peak_rss_mib" in bundle:
        ok = bundle["peak_rss_mib"] < 150 and bundle["verify_ok"] and bundle["bagit_ok"]
        lines.append(
            f"| disclosure bundle of {bundle['included']:,} items streamed: server RSS < 150 MB "
            f"| {bundle['bundle_mb']:.0f} MB in {bundle['stream_s']:.1f} s, worker RSS ≤ "
            f"{bundle['peak_rss_mib']:.0f} MiB; verified offline and by bagit | {_mark(ok)} |"
        )
    if results.get("quick"):
        lines.append("| 1 GiB exhibits, disclosure bundle | not measured: load benchmarks only (`--only-load`) | n/a |")
    for name in ("append", "reads", "upload_ratio", "merge_delay", "exhibits", "disclosure"):
        value = results.get(name)
        if isinstance(value, dict) and ("error" in value or "skipped" in value):
            reason = str(value.get("error") or value.get("skipped")).splitlines()[0][:160].replace("|", "/")
            lines.append(f"| bench.{name} | {reason} (see the run's output) | not measured |")
    return lines


def _growth_sections(rows: list[dict[str, Any]]) -> list[str]:
    out = [
        "## Proofs against log size (ms)",
        "",
        (
            '"direct" is `custody.proofs` in an app context (one query for the O(log n) stored nodes); "HTTP" is '
            "the auditor API through the app in process (token, authorization, one query for the leaf, roots and "
            "proof, "
            "the check against the published checkpoint, the auditor's own custody event committed)."
        ),
        "",
        (
            "| events | inclusion direct p50 / p95 | consistency direct p50 / p95 | inclusion HTTP p50 / p95 "
            "| consistency HTTP p50 / p95 | load average |"
        ),
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        q = row["proofs"]
        out.append(
            f"| {row['events']:,} | "
            + " | ".join(
                f"{_ms(q[k]['p50'])} / {_ms(q[k]['p95'])}"
                for k in ("inclusion_direct", "consistency_direct", "inclusion_http", "consistency_http")
            )
            + f" | {row.get('loadavg', 0):.1f} |"
        )
    names = list(rows[-1]["queries"])
    out += [
        "",
        "## Custody queries against log size",
        "",
        (
            "p95 in ms of `GET /api/v1/custody/events` (page of 50 at a random keyset cursor), as "
            "HTTP / SQL: the whole request through the app, and the paged query's own time at the driver."
        ),
        "",
        "| filter | " + " | ".join(f"{row['events']:,}" for row in rows) + " | plan at the largest size |",
        "|---|" + "---|" * (len(rows) + 1),
    ]
    for name in names:
        plan = rows[-1]["queries"][name].get("plan") or {}
        shape = (
            ", ".join(plan.get("indexes", []))
            + (" + sort" if plan.get("sort") else "")
            + (" + seq scan" if plan.get("seq_scan") else "")
            + (" (bitmap)" if plan.get("bitmap") else "")
        )
        out.append(
            f"| {name} | "
            + " | ".join(
                f"{_ms(row['queries'][name]['p95'])} / {_ms(row['queries'][name]['sql']['p95'])}" for row in rows
            )
            + f" | {shape} |"
        )
    out += [
        "",
        "## Offline verification against log size",
        "",
        "| events | export (s) | export (MB) | verify (s) | peak RSS, sum (MB) | peak PSS, sum (MB) | processes |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        v = row["verify"]
        out.append(
            f"| {v['entries']:,} | {v['export_s']:.1f} | {v['export_mb']:.0f} | {v['verify_s']:.2f} "
            f"| {v['verify_peak_rss_mb']:.0f} | {v.get('verify_peak_pss_mb', 0):.0f} "
            f"| {v['verify_processes']} |"
        )
    out += [
        "",
        "## Seeding the growth databases (COPY, leaf form v2 by the app's own leaf hashing, tree nodes)",
        "",
        "| events | grown from | seconds | of which COPY | VACUUM ANALYZE | reused from an earlier run |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        s = row["seed"]
        out.append(
            f"| {row['events']:,} | {s.get('seeded_from') or 0:,} | {s.get('seed_s') or 0:.0f} "
            f"| {s.get('copy_s') or 0:.0f} | {s.get('vacuum_analyze_s') or 0:.1f} "
            f"| {'yes' if s.get('reused') else 'no'} |"
        )
    return out + [""]


def _append_section(append: list[dict[str, Any]]) -> list[str]:
    out = [
        "## Custody appends against pgbench (bench.append)",
        "",
        (
            "Each round: pgbench and the app's writers at the same concurrency, one after the other from a "
            "checkpointed machine, the order alternating. `request`: each writer process is an app with the "
            "background integrator thread a gunicorn worker runs, and does what a request's end does "
            "(`recorder.begin`, one event queued, `recorder.commit()`); `log`: `log.intake(connection, [event], "
            "commit=True)` on a held connection, the same integrator. Events/s count events in the tree (the clock "
            "stops after the final catch-up); every run's log is then recomputed as the signer does "
            "(`publication.recompute`). CPU ms per event: the writer processes / PostgreSQL (every process); per "
            "pgbench insert: pgbench / PostgreSQL."
        ),
        "",
        (
            "| mode | writers | rounds × s | events/s | pgbench inserts/s | ratio | rounds' ratios "
            "| CPU ms per event | CPU ms per pgbench insert | intake backlog at stop |"
        ),
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in append:
        if "events_per_s" not in r:
            continue
        pairs = ", ".join(f"{x:.2f}" for x in r.get("pair_ratios", []))
        cpu = f"{r.get('app_cpu_ms', 0):.2f} / {r.get('postgres_cpu_ms', 0):.2f}"
        bench = (
            (
                f"{r['pgbench_tps']:,} | {r['ratio']:.2f} | {pairs} | {cpu} "
                f"| {r['pgbench_client_cpu_ms']:.3f} / {r['pgbench_postgres_cpu_ms']:.3f}"
            )
            if "ratio" in r
            else f"n/a | n/a | | {cpu} | n/a"
        )
        out.append(
            f"| {r.get('mode', '?')} | {r['writers']} | {r.get('rounds', 1)} × {r.get('seconds_each', '?')} "
            f"| {r['events_per_s']:,} | {bench} | {r.get('backlog_at_stop', '')} |"
        )
    return out + [""]


def _upload_sections(uploads: Any, ratio: Any) -> list[str]:
    out: list[str] = []
    if isinstance(ratio, dict) and "runs" in ratio:
        out += [
            "## 10 KB uploads, custody on against off (bench.http_load.upload_ratio, the target)",
            "",
            (
                f"{ratio['clients']} clients, one server at a time (4 workers), started and warmed, "
                f"{ratio['seconds_each']:g} s each, the order alternating each round. p95 over every sample of "
                "the mode: custody on "
                f"{ratio['audited']['p50']:.1f} / {ratio['audited']['p95']:.1f} / {ratio['audited']['p99']:.1f} ms "
                f"(p50 / p95 / p99, n {ratio['audited']['n']:,}), off "
                f"{ratio['unaudited']['p50']:.1f} / {ratio['unaudited']['p95']:.1f} / "
                f"{ratio['unaudited']['p99']:.1f} ms (n {ratio['unaudited']['n']:,}). CPU ms per upload, gunicorn + "
                f"PostgreSQL: {ratio['audited_cpu_ms']:.2f} on, {ratio['unaudited_cpu_ms']:.2f} off."
            ),
            "",
            (
                "| round | on req/s | off req/s | on p95 ms | off p95 ms | on CPU ms: gunicorn / PostgreSQL / client "
                "| off CPU ms |"
            ),
            "|---|---|---|---|---|---|---|",
        ]
        for i, (a, u) in enumerate(zip(ratio["runs"]["audited"], ratio["runs"]["unaudited"], strict=True)):
            out.append(
                f"| {i + 1} | {a['throughput_rps']:.0f} | {u['throughput_rps']:.0f} | {a['p95']:.1f} "
                f"| {u['p95']:.1f} | {_cpu(a)} | {_cpu(u)} |"
            )
        out.append("")
    if isinstance(uploads, dict) and uploads and "error" not in uploads:
        out += [
            "## 10 KB uploads against clients, custody on (bench.http_load.uploads, gunicorn)",
            "",
            (
                "CPU per request: gunicorn (master and workers), PostgreSQL (every process), the load "
                "generator; from /proc over the run (bench.common.CpuMeter)."
            ),
            "",
            "| clients | req/s | p50 ms | p95 ms | p99 ms | CPU ms: gunicorn / PostgreSQL / client |",
            "|---|---|---|---|---|---|",
        ]
        out += [
            f"| {c} | {u['throughput_rps']:.0f} | {u['p50']:.1f} | {u['p95']:.1f} | {u['p99']:.1f} | {_cpu(u)} |"
            for c, u in uploads.items()
        ]
        out.append("")
    return out


def _merge_section(merge: Any) -> list[str]:
    if not isinstance(merge, dict) or "load" not in merge:
        return []
    out = [
        "## Merge delay: from the answer to its event in the tree (bench.http_load.merge_delay)",
        "",
        (
            "One audited gunicorn (4 workers, each with its background integrator polling every merge delay / 4). "
            "A watcher on a connection of its own polls `custody_events` for new rows every "
            f"{merge['poll_ms']:g} ms and notes when each answer's `X-Request-ID` first appears; the delay is "
            "from the answer's last byte to that poll (0 when the event was in the tree first)."
        ),
        "",
        "| phase | answers | p50 ms | p95 ms | p99 ms | max ms | never seen |",
        "|---|---|---|---|---|---|---|",
    ]
    low, high = merge["idle_gap_s"]
    for name, part in (
        (f"under the {merge['load_clients']}-client read load ({merge['load_rps']:.0f} req/s)", merge["load"]),
        (f"idle: single reads {low:g}–{high:g} s apart", merge["idle"]),
    ):
        if part.get("n"):
            out.append(
                f"| {name} | {part['n']:,} | {part['p50']:.0f} | {part['p95']:.0f} | {part['p99']:.0f} "
                f"| {part['max']:.0f} | {part['missing']} |"
            )
    return out + [""]


def _reads_section(reads: Any) -> list[str]:
    if not isinstance(reads, dict) or "runs" not in reads:
        return []
    runs = reads["runs"]
    diagnostic = runs.get("audited_async_commit") or []
    note = (
        "The last column is a diagnostic only, never the target: the audited server with "
        "`synchronous_commit = off`, so the difference from the audited column is what waiting for each "
        f"commit's WAL flush costs ({reads.get('async_commit_ratio', float('nan')):.2f}× unaudited over the run)."
        if diagnostic
        else ""
    )
    out = [
        "## Audited against unaudited reads (rounds in rotating order)",
        "",
        f"CPU ms per request: gunicorn / PostgreSQL / load generator. {note}".rstrip(),
        "",
        "| round | audited req/s | unaudited req/s | audited CPU ms | unaudited CPU ms "
        + ("| diagnostic: audited, async commit req/s |" if diagnostic else "|"),
        "|---|---|---|---|---|" + ("---|" if diagnostic else ""),
    ]
    for i, (a, u) in enumerate(zip(runs["audited"], runs["unaudited"], strict=True)):
        d = f" {diagnostic[i]['throughput_rps']:.0f} |" if i < len(diagnostic) else ""
        out.append(f"| {i + 1} | {a['throughput_rps']:.0f} | {u['throughput_rps']:.0f} | {_cpu(a)} | {_cpu(u)} |{d}")
    return out + [""]


def render(results: dict[str, Any], plotted: list[str]) -> str:
    m, rows = results["machine"], results["rows"]
    commit = m.get("commit_short") or m["commit"][:7]
    out = [
        "# Benchmark results",
        "",
        (
            f"Command: `{results['command']}` (from the repository root), finished {results.get('finished', '?')}, "
            f"{results.get('total_s', 0) / 60:.0f} min in all."
        ),
        "",
        "| machine | |",
        "|---|---|",
        f"| uname -a | `{m['uname']}` |",
        (
            f"| CPUs, RAM | {m['nproc']} (shared with other work: load average {m['loadavg_start'][0]:.1f} "
            "at the start, "
            f"{m.get('loadavg_end', [0])[0]:.1f} at the end), {m['ram_gib']} GiB |"
        ),
        f"| Python | {m['python']} |",
        f"| PostgreSQL | {m['postgresql'].split(' on ')[0]} on 127.0.0.1; "
        + ", ".join(f"{k} {v}" for k, v in sorted(m["pg_settings"].items()))
        + " |",
        (
            f"| commit | `{commit}` (`git rev-parse --short HEAD`; {m['commit']})"
            f"{' plus uncommitted changes' if m.get('dirty') else ''} |"
        ),
        f"| command | `{results['command']}` |",
        "",
        "## Targets",
        "",
        *_targets(results),
        "",
    ]
    if plotted:
        out += ["Plots: " + ", ".join(f"[{name}]({name})" for name in plotted if name.endswith(".svg")) + ".", ""]
    if rows:
        out += _growth_sections(rows)
    append = results.get("append")
    if isinstance(append, list) and append:
        out += _append_section(append)
    out += _upload_sections(results.get("uploads"), results.get("upload_ratio"))
    out += _merge_section(results.get("merge_delay"))
    out += _reads_section(results.get("reads"))
    analysis = HERE / "ANALYSIS.md"
    if analysis.exists() and rows:  # it discusses a full run's numbers
        out.append(analysis.read_text())
    return "\n".join(out)


if __name__ == "__main__":
    main()
