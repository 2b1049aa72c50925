"""Run every benchmark; rewrite bench/RESULTS.md, bench/out/results.json and the plots.

    make bench                                   # BENCH_EVENTS=10000000 (the SPEC's scale)
    make bench BENCH_EVENTS=1000000              # a quicker run
    python -m bench.run_all --events 10000000 [--skip-load] [--skip-exhibits]

The custody log grows through 10k, 100k, 1M, 3M and 10M events (``bench.seed.grow``: one
PostgreSQL database per size, seeded by COPY with the app's own leaf hashing and tree nodes,
kept between runs and rebuilt only when the schema or the generator changes). At each size:
proofs (``bench.proofs``), custody queries with their plans (``bench.queries``), export and
offline verification (``bench.verify``). Then, when present, the other benchmarks are called
through their ``main()``: ``bench.append`` (custody appends against writers), ``bench.http_load``
(audited reads and 10 KB uploads on gunicorn) and ``bench.exhibits`` (1 GiB exhibits).

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
        settings = dict(conn.execute("SELECT name, setting || coalesce(unit, '') FROM pg_settings WHERE name IN "
                                     "('shared_buffers', 'synchronous_commit', 'work_mem', 'max_wal_size')"))
    with open("/proc/meminfo") as f:
        ram_kib = int(f.readline().split()[1])
    status = _run(["git", "status", "--porcelain", "--untracked-files=no"])
    return {"uname": " ".join(platform.uname()), "nproc": os.cpu_count(), "ram_gib": round(ram_kib / 2**20, 1),
            "python": sys.version.split()[0], "postgresql": pg, "pg_settings": settings,
            "commit": _run(["git", "rev-parse", "HEAD"]), "dirty": bool(status and status != "?"),
            "loadavg_start": os.getloadavg()}


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


def append_bench(module: Any) -> list[dict[str, Any]]:
    """The append alone (``log``: the target) and through a request's recorder (``intake``)."""
    rows = []
    for mode in ("log", "intake"):
        rows += [row for row in _main_with(module, ["--mode", mode, "--writers", "1", "2", "4", "8", "16"])
                 if "events_per_s" in row]
    return rows


def http_bench(module: Any) -> dict[str, Any]:
    from bench import seed

    seed.seed(100_000, 10_000)  # bench/out/seed.json: the small database the load runs use
    return {"reads": module.reads(), "uploads": module.uploads(),
            "uploads_unaudited": module.uploads((8,), extra_env={"CASEWORK_BENCH_DISABLE_CUSTODY": "1"})}


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
        row = {"events": size, "seed": {k: info.get(k) for k in ("seed_s", "seeded_from", "copy_s",
                                                                "vacuum_analyze_s", "reused")}}
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
    parser.add_argument("--load-only", action="store_true",
                        help="rerun only the load benchmarks, keeping the growth rows of results.json")
    args = parser.parse_args()
    from bench import plots

    OUT.mkdir(exist_ok=True)
    if args.replot:
        results = json.loads((OUT / "results.json").read_text())
    else:
        started = time.perf_counter()
        if args.load_only:
            results = json.loads((OUT / "results.json").read_text())
            results["command"] += f"` then `{_command(args)}"
        else:
            results = {"machine": machine(), "command": _command(args), "rows": growth(args.events)}
            (OUT / "results.json").write_text(json.dumps(results, indent=2, default=str))  # kept if a load run dies
        if not args.skip_load:
            results["append"] = _guarded("append", append_bench)
            load = _guarded("http_load", http_bench)
            results["reads"], results["uploads"] = (load.get("reads"), load.get("uploads")) if "reads" in load \
                else (load, None)
            results["uploads_unaudited"] = load.get("uploads_unaudited")
            if not args.skip_exhibits:
                results["exhibits"] = _guarded("exhibits", exhibits_bench)
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
    return {"rows": results["rows"], "append": append if isinstance(append, list) else [],
            "uploads": uploads if isinstance(uploads, dict) and "error" not in uploads else {}}


def _command(args: argparse.Namespace) -> str:
    command = f"make bench BENCH_EVENTS={args.events}"
    if args.load_only:
        command += " BENCH_ARGS=--load-only"
    elif args.skip_load:
        command += " BENCH_ARGS=--skip-load"
    elif args.skip_exhibits:
        command += " BENCH_ARGS=--skip-exhibits"
    return command


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
    it is bounded by those matches, not by the log (tests/test_custody_queries_plan.py shows an
    ordered index scan exists for every filter)."""
    bad = [f"{name} at {row['events']:,}" for row in rows
           for name, q in row["queries"].items() if (q.get("plan") or {}).get("seq_scan")]
    return not bad, ", ".join(bad)


def _flat_by_time(rows: list[dict[str, Any]]) -> tuple[bool, float, str]:
    """Flat by timing: each query's own SQL p95 at the largest size within 3x + 1 ms of the smallest."""
    first, last = rows[0]["queries"], rows[-1]["queries"]
    ratio = max(last[n]["sql"]["p95"] / max(first[n]["sql"]["p95"], 0.01) for n in last)
    worst = max(last, key=lambda n: last[n]["sql"]["p95"])
    ok = all(last[n]["sql"]["p95"] <= 3 * first[n]["sql"]["p95"] + 1 for n in last)
    return ok, ratio, f"worst at the largest size: {worst}, {last[worst]['sql']['p95']:.1f} ms"


def _targets(results: dict[str, Any]) -> list[str]:
    rows = results["rows"]
    big = rows[-1]
    p, v = big["proofs"], big["verify"]
    worst_name, worst = max(big["queries"].items(), key=lambda item: item[1]["p95"])
    flat, not_flat = _flat_by_plan(rows)
    timely, ratio, worst_sql = _flat_by_time(rows)
    lines = ["| target | measured | result |", "|---|---|---|"]
    for kind in ("inclusion", "consistency"):
        http, direct = p[f"{kind}_http"]["p95"], p[f"{kind}_direct"]["p95"]
        lines.append(f"| {kind} proof p95 ≤ 10 ms at {big['events']:,} events | HTTP **{_ms(http)} ms** "
                     f"(direct from the log {_ms(direct)} ms) "
                     f"| HTTP {_mark(http <= 10)}, direct {_mark(direct <= 10)} |")
    lines.append(f"| custody queries p95 ≤ 50 ms at {big['events']:,} events ({len(big['queries'])} filter shapes, "
                 f"HTTP) | worst **{_ms(worst['p95'])} ms** ({worst_name}) | {_mark(worst['p95'] <= 50)} |")
    sorted_after = sorted({f"{name} at {row['events']:,}" for row in rows for name, q in row["queries"].items()
                           if (q.get("plan") or {}).get("sort")})
    bounded = f"; bitmap + sort of the few matches after a deep cursor: {', '.join(sorted_after)}" \
        if sorted_after else ""
    lines.append(f"| custody queries flat as the log grows: by plan (no query scans the log at any size; each "
                 f"reads an index from the cursor on) | "
                 f"{'no Seq Scan anywhere' if flat else 'Seq Scan: ' + not_flat}{bounded} | {_mark(flat)} |")
    lines.append(f"| custody queries flat as the log grows: by timing (each query's own SQL p95 at "
                 f"{rows[-1]['events']:,} within 3× + 1 ms of {rows[0]['events']:,}) | worst ratio {ratio:.1f}×; "
                 f"{worst_sql} | {_mark(timely)} |")
    lines.append(f"| offline verification of {v['entries']:,} events ≤ 60 s, < 200 MB RSS | **{v['verify_s']:.1f} s**, "
                 f"**{v['verify_peak_rss_mb']:.0f} MB** (sum of RSS of {v['verify_processes']} processes; "
                 f"PSS {v.get('verify_peak_pss_mb', 0):.0f} MB) "
                 f"| {_mark(v['verify_s'] <= 60 and v['verify_peak_rss_mb'] < 200)} |")
    append = results.get("append")
    if isinstance(append, list) and append:
        alone = [r for r in append if r.get("mode", "log") == "log"] or append
        best = max(alone, key=lambda r: r["events_per_s"])
        lines.append(f"| custody appends ≥ 3,000 events/s sustained (PostgreSQL, concurrent writers; the append "
                     f"alone, bench.append --mode log) "
                     f"| **{best['events_per_s']:,}** events/s at {best['writers']} writers "
                     f"| {_mark(best['events_per_s'] >= 3000)} |")
    reads = results.get("reads")
    if isinstance(reads, dict) and "ratio" in reads:
        interval = reads.get("ratio_ci95")
        spread = f" (95 % interval of the paired runs {interval[0]:.2f}–{interval[1]:.2f})" if interval else ""
        lines.append(f"| audited read ≥ 0.90× unaudited | {reads['audited_rps']:.0f} vs {reads['unaudited_rps']:.0f} "
                     f"req/s = **{reads['ratio']:.2f}×**{spread} | {_mark(reads['ratio'] >= 0.90)} |")
    uploads = results.get("uploads")
    if isinstance(uploads, dict) and "8" in uploads:
        off = (results.get("uploads_unaudited") or {}).get("8")
        diagnostic = (f"; with custody recording off, as a diagnostic: {off['p95']:.1f} ms "
                      f"({off['throughput_rps']:.0f} req/s)") if off else ""
        lines.append(f"| 10 KB upload p95 ≤ 25 ms at 8 clients | **{uploads['8']['p95']:.1f} ms** "
                     f"({uploads['8']['throughput_rps']:.0f} req/s){diagnostic} | {_mark(uploads['8']['p95'] <= 25)} |")
    exhibits = results.get("exhibits")
    if isinstance(exhibits, dict) and exhibits.get("stores"):
        for store in exhibits["stores"]:
            rss = max(store.get("upload_rss_mib", 0), store.get("download_rss_mib", 0))
            ok = rss < 150 and min(store.get("upload_mb_s", 0), store.get("download_mb_s", 0)) >= 50
            lines.append(f"| 1 GiB exhibit ({store.get('store')} store): RSS < 150 MB, ≥ 50 MB/s "
                         f"| up {store.get('upload_mb_s', 0):.0f} MB/s, down {store.get('download_mb_s', 0):.0f} "
                         f"MB/s, worker RSS ≤ {rss:.0f} MiB | {_mark(ok)} |")
    bundle = results.get("disclosure")
    if isinstance(bundle, dict) and "peak_rss_mib" in bundle:
        ok = bundle["peak_rss_mib"] < 150 and bundle["verify_ok"] and bundle["bagit_ok"]
        lines.append(f"| disclosure bundle of {bundle['included']:,} items streamed: server RSS < 150 MB "
                     f"| {bundle['bundle_mb']:.0f} MB in {bundle['stream_s']:.1f} s, worker RSS ≤ "
                     f"{bundle['peak_rss_mib']:.0f} MiB; verified offline and by bagit | {_mark(ok)} |")
    for name in ("append", "reads", "exhibits", "disclosure"):
        value = results.get(name)
        if isinstance(value, dict) and ("error" in value or "skipped" in value):
            reason = str(value.get("error") or value.get("skipped")).splitlines()[0][:160].replace("|", "/")
            lines.append(f"| bench.{name} | {reason} (see the run's output) | not measured |")
    return lines


def render(results: dict[str, Any], plotted: list[str]) -> str:
    m, rows = results["machine"], results["rows"]
    out = [
        "# Benchmark results", "",
        f"Command: `{results['command']}` (from the repository root), finished {results.get('finished', '?')}, "
        f"{results.get('total_s', 0) / 60:.0f} min in all.", "",
        "| machine | |", "|---|---|",
        f"| uname -a | `{m['uname']}` |",
        f"| CPUs, RAM | {m['nproc']} (shared with other work: load average {m['loadavg_start'][0]:.1f} at the start, "
        f"{m.get('loadavg_end', [0])[0]:.1f} at the end), {m['ram_gib']} GiB |",
        f"| Python | {m['python']} |",
        f"| PostgreSQL | {m['postgresql'].split(' on ')[0]} on 127.0.0.1; "
        + ", ".join(f"{k} {v}" for k, v in sorted(m["pg_settings"].items())) + " |",
        f"| commit | `{m['commit']}`{' plus uncommitted changes' if m.get('dirty') else ''} |",
        "", "## Targets", "", *_targets(results), "",
        "Plots: " + ", ".join(f"[{name}]({name})" for name in plotted if name.endswith(".svg")) + ".", "",
        "## Proofs against log size (ms)", "",
        "\"direct\" is `custody.log` in an app context (one query for the O(log n) stored nodes); \"HTTP\" is the "
        "auditor API through the app in process (token, authorization, one query for the leaf, roots and proof, the "
        "check against the published checkpoint, the auditor's own custody event committed).", "",
        "| events | inclusion direct p50 / p95 | consistency direct p50 / p95 | inclusion HTTP p50 / p95 "
        "| consistency HTTP p50 / p95 | load average |", "|---|---|---|---|---|---|",
    ]
    for row in rows:
        q = row["proofs"]
        out.append(f"| {row['events']:,} | " + " | ".join(
            f"{_ms(q[k]['p50'])} / {_ms(q[k]['p95'])}"
            for k in ("inclusion_direct", "consistency_direct", "inclusion_http", "consistency_http"))
            + f" | {row.get('loadavg', 0):.1f} |")
    names = list(rows[-1]["queries"])
    out += ["", "## Custody queries against log size", "",
            "p95 in ms of `GET /api/v1/custody/events` (page of 50 at a random keyset cursor), as "
            "HTTP / SQL: the whole request through the app, and the paged query's own time at the driver.", "",
            "| filter | " + " | ".join(f"{row['events']:,}" for row in rows) + " | plan at the largest size |",
            "|---|" + "---|" * (len(rows) + 1)]
    for name in names:
        plan = rows[-1]["queries"][name].get("plan") or {}
        shape = ", ".join(plan.get("indexes", [])) + (" + sort" if plan.get("sort") else "") + \
            (" + seq scan" if plan.get("seq_scan") else "") + (" (bitmap)" if plan.get("bitmap") else "")
        out.append(f"| {name} | " + " | ".join(
            f"{_ms(row['queries'][name]['p95'])} / {_ms(row['queries'][name]['sql']['p95'])}" for row in rows)
            + f" | {shape} |")
    out += ["", "## Offline verification against log size", "",
            "| events | export (s) | export (MB) | verify (s) | peak RSS, sum (MB) | peak PSS, sum (MB) | processes |",
            "|---|---|---|---|---|---|---|"]
    for row in rows:
        v = row["verify"]
        out.append(f"| {v['entries']:,} | {v['export_s']:.1f} | {v['export_mb']:.0f} | {v['verify_s']:.2f} "
                   f"| {v['verify_peak_rss_mb']:.0f} | {v.get('verify_peak_pss_mb', 0):.0f} "
                   f"| {v['verify_processes']} |")
    out += ["", "## Seeding the growth databases (COPY, the app's own leaf hashing and tree nodes)", "",
            "| events | grown from | seconds | of which COPY | VACUUM ANALYZE | reused from an earlier run |",
            "|---|---|---|---|---|---|"]
    for row in rows:
        s = row["seed"]
        out.append(f"| {row['events']:,} | {s.get('seeded_from') or 0:,} | {s.get('seed_s') or 0:.0f} "
                   f"| {s.get('copy_s') or 0:.0f} | {s.get('vacuum_analyze_s') or 0:.1f} "
                   f"| {'yes' if s.get('reused') else 'no'} |")
    append = results.get("append")
    if isinstance(append, list) and append:
        out += ["", "## Custody appends against writers (bench.append; see APPEND.md)", "",
                "`log`: the append alone (intake statements on held connections, a batch integration every "
                "64th row); `intake`: through the recorder as a request's end calls it (session, pool, BEGIN).", "",
                "| mode | writers | events/s | events | seconds |", "|---|---|---|---|---|"]
        out += [f"| {r.get('mode', '?')} | {r['writers']} | {r['events_per_s']:,} | {r['events']:,} | {r['seconds']} |"
                for r in append]
    uploads = results.get("uploads")
    if isinstance(uploads, dict) and uploads and "error" not in uploads:
        out += ["", "## 10 KB uploads against clients (bench.http_load, gunicorn)", "",
                "CPU per request: gunicorn (master and workers), PostgreSQL (every process), the load "
                "generator; from /proc over the run (bench.common.CpuMeter).", "",
                "| clients | req/s | p50 ms | p95 ms | p99 ms | CPU ms: gunicorn / PostgreSQL / client |",
                "|---|---|---|---|---|---|"]
        out += [f"| {c} | {u['throughput_rps']:.0f} | {u['p50']:.1f} | {u['p95']:.1f} | {u['p99']:.1f} | {_cpu(u)} |"
                for c, u in uploads.items()]
    reads = results.get("reads")
    if isinstance(reads, dict) and "runs" in reads:
        runs = reads["runs"]
        diagnostic = runs.get("audited_async_commit") or []
        out += ["", "## Audited against unaudited reads (rounds in rotating order)", "",
                "CPU ms per request: gunicorn / PostgreSQL / load generator. The last column is a "
                "diagnostic only, never the target: the audited server with `synchronous_commit = off`, "
                "so the difference from the audited column is what waiting for each commit's WAL "
                f"flush costs ({reads.get('async_commit_ratio', float('nan')):.2f}× unaudited over the run).", "",
                "| round | audited req/s | unaudited req/s | audited CPU ms | unaudited CPU ms "
                "| diagnostic: audited, async commit req/s |",
                "|---|---|---|---|---|---|"]
        for i, (a, u) in enumerate(zip(runs["audited"], runs["unaudited"], strict=True)):
            d = f"{diagnostic[i]['throughput_rps']:.0f}" if i < len(diagnostic) else ""
            out.append(f"| {i + 1} | {a['throughput_rps']:.0f} | {u['throughput_rps']:.0f} "
                       f"| {_cpu(a)} | {_cpu(u)} | {d} |")
    out.append("")
    analysis = HERE / "ANALYSIS.md"
    if analysis.exists():
        out.append(analysis.read_text())
    return "\n".join(out)


if __name__ == "__main__":
    main()
