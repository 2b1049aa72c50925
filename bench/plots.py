"""Plots of a benchmark run (matplotlib, Agg): written beside RESULTS.md as SVG and PNG.

    python -m bench.plots            # from bench/out/results.json

- growth.svg/png: latency against log size (proofs, custody queries) with the targets;
- verify.svg/png: offline verification time and memory against log size;
- throughput.svg/png: throughput against concurrent clients (custody appends beside pgbench's
  durable one-row inserts, 10 KB uploads), when the run measured them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

plt.rcParams["svg.fonttype"] = "none"  # text stays text: smaller, diffable SVG

HERE = Path(__file__).resolve().parent


def _save(fig: Any, name: str) -> list[str]:
    fig.tight_layout()
    names = []
    for ext in ("svg", "png"):
        path = HERE / f"{name}.{ext}"
        fig.savefig(path, dpi=110, metadata={"Date": None} if ext == "svg" else None)
        names.append(path.name)
    plt.close(fig)
    return names


def growth(rows: list[dict[str, Any]]) -> list[str]:
    if not rows:  # a run of the load benchmarks only
        return []
    sizes = [row["events"] for row in rows]
    fig, (left, right, sql) = plt.subplots(1, 3, figsize=(17, 5), sharex=True)
    for key, label, style in (
        ("inclusion_http", "inclusion, HTTP", "o-"),
        ("consistency_http", "consistency, HTTP", "s-"),
        ("inclusion_direct", "inclusion, direct", "o--"),
        ("consistency_direct", "consistency, direct", "s--"),
    ):
        left.plot(sizes, [row["proofs"][key]["p95"] for row in rows], style, label=label)
    left.axhline(10, color="red", lw=1, ls=":", label="target p95 10 ms")
    left.set_title("RFC 9162 proofs: p95 latency")
    for name in rows[-1]["queries"]:
        right.plot(sizes, [row["queries"][name]["p95"] for row in rows], ".-", lw=1, label=name)
    right.axhline(50, color="red", lw=1, ls=":", label="target p95 50 ms")
    right.set_title("custody queries (HTTP, random keyset page): p95")
    for name in rows[-1]["queries"]:
        sql.plot(sizes, [row["queries"][name]["sql"]["p95"] for row in rows], ".-", lw=1, label=name)
    sql.set_title("the same queries, SQL time only: p95")
    for axis in (left, right, sql):
        axis.set_xscale("log")
        axis.set_xlabel("custody events in the log")
        axis.set_ylabel("ms")
        axis.set_ylim(bottom=0)
        axis.grid(True, which="both", alpha=0.3)
    left.legend(fontsize=8)
    right.legend(fontsize=7, ncol=2)
    sql.legend(fontsize=7, ncol=2)
    return _save(fig, "growth")


def verify(rows: list[dict[str, Any]]) -> list[str]:
    rows = [row for row in rows if row.get("verify")]
    if not rows:
        return []
    sizes = [row["events"] for row in rows]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    left.plot(sizes, [row["verify"]["verify_s"] for row in rows], "o-", label="verify")
    left.plot(sizes, [row["verify"]["export_s"] for row in rows], "s--", label="export (not a target)")
    left.axhline(60, color="red", lw=1, ls=":", label="target 60 s at 10M")
    left.set_title("offline verification: wall time")
    left.set_ylabel("s")
    right.plot(sizes, [row["verify"]["verify_peak_rss_mb"] for row in rows], "o-", label="sum of RSS")
    right.plot(sizes, [row["verify"].get("verify_peak_pss_mb", 0) for row in rows], "s--", label="sum of PSS")
    right.axhline(200, color="red", lw=1, ls=":", label="target < 200 MB")
    right.set_title("offline verification: peak memory (verifier + workers)")
    right.set_ylabel("MB")
    for axis in (left, right):
        axis.set_xscale("log")
        axis.set_xlabel("custody events in the export")
        axis.set_ylim(bottom=0)
        axis.grid(True, which="both", alpha=0.3)
        axis.legend(fontsize=8)
    return _save(fig, "verify")


def throughput(append: list[dict[str, Any]], uploads: dict[str, Any]) -> list[str]:
    panels = [p for p in (append, uploads) if p]
    if not panels:
        return []
    fig, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 4), squeeze=False)
    column = 0
    if append:
        axis = axes[0][column]
        column += 1
        for mode, label in (("request", "custody appends, a request's path"), ("log", "the log's calls alone")):
            points = sorted((row["writers"], row["events_per_s"]) for row in append if row.get("mode") == mode)
            if points:
                axis.plot([p[0] for p in points], [p[1] for p in points], "o-", label=label)
        bench = sorted(
            (row["writers"], row["pgbench_tps"])
            for row in append
            if row.get("mode") == "request" and "pgbench_tps" in row
        )
        if bench:
            axis.plot(
                [p[0] for p in bench],
                [p[1] for p in bench],
                "s--",
                color="grey",
                label="pgbench, durable one-row inserts",
            )
            axis.plot(
                [p[0] for p in bench], [p[1] / 2 for p in bench], ":", color="red", label="target: 50 % of pgbench"
            )
        axis.set_yscale("log")
        axis.set_title("custody appends against pgbench, PostgreSQL")
        axis.set_xlabel("concurrent writer processes")
        axis.set_ylabel("events/s (log scale)")
        axis.grid(True, which="both", alpha=0.3)
        axis.legend(fontsize=8)
    if uploads:
        axis = axes[0][column]
        clients = sorted(uploads, key=int)
        axis.plot([int(c) for c in clients], [uploads[c]["throughput_rps"] for c in clients], "o-", label="uploads/s")
        axis.set_xlabel("concurrent clients")
        axis.set_ylabel("requests/s")
        axis.set_ylim(bottom=0)
        latency = axis.twinx()
        latency.plot(
            [int(c) for c in clients], [uploads[c]["p95"] for c in clients], "s--", color="tab:orange", label="p95 ms"
        )
        latency.set_ylabel("p95 ms")
        latency.set_ylim(bottom=0)
        axis.set_title("10 KB transcript uploads, gunicorn")
        axis.grid(True, alpha=0.3)
        axis.legend(loc="upper left", fontsize=8)
        latency.legend(loc="lower right", fontsize=8)
    return _save(fig, "throughput")


def plot_all(results: dict[str, Any]) -> list[str]:
    rows = results["rows"]
    files = growth(rows) + verify(rows)
    files += throughput(results.get("append") or [], (results.get("uploads") or {}))
    return files


if __name__ == "__main__":
    print(plot_all(json.loads((HERE / "out" / "results.json").read_text())))
