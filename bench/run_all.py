"""Run every benchmark and rewrite bench/RESULTS.md (and bench/growth.svg).

    python -m bench.run_all            # 10k, 100k and 1M events (about 10 minutes)
    python -m bench.run_all --quick    # 10k and 100k only

Ratios are measured within one run on the same machine; absolute times on a shared 2-core
box drift, so compare the ratios and the targets, not numbers across runs.
"""
from __future__ import annotations

import argparse
import json
import platform
from datetime import UTC, datetime
from pathlib import Path

from bench import http_load, proofs, seed, verify

HERE = Path(__file__).resolve().parent
SCALES = [(10_000, 1_000), (100_000, 10_000), (1_000_000, 100_000)]


def _svg(rows: list[dict]) -> str:
    """A small log-x line chart of p95 latencies and verify time against log size."""
    series = [("inclusion p95 (ms, HTTP)", "inclusion_http", "#1f77b4"),
              ("consistency p95 (ms, HTTP)", "consistency_http", "#ff7f0e"),
              ("query by resource p95 (ms, HTTP)", "query_by_resource_http", "#2ca02c"),
              ("offline verify (s)", "verify_s", "#d62728")]
    width, height, left, bottom = 640, 360, 60, 40
    xs = [row["events"] for row in rows]
    values = [(row["proofs"][key]["p95"] if key != "verify_s" else row["verify"]["verify_s"])
              for row in rows for _, key, _ in series]
    top = max(values) * 1.1 or 1
    import math

    def x(v: float) -> float:
        lo, hi = math.log10(min(xs)), math.log10(max(xs))
        return left + (math.log10(v) - lo) / ((hi - lo) or 1) * (width - left - 20)

    def y(v: float) -> float:
        return height - bottom - v / top * (height - bottom - 20)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             'font-family="sans-serif" font-size="11">',
             f'<line x1="{left}" y1="{height - bottom}" x2="{width - 10}" y2="{height - bottom}" stroke="black"/>',
             f'<line x1="{left}" y1="20" x2="{left}" y2="{height - bottom}" stroke="black"/>']
    for v in xs:
        parts.append(f'<text x="{x(v):.0f}" y="{height - bottom + 15}" text-anchor="middle">{v:,}</text>')
    for tick in range(5):
        value = top * tick / 4
        parts.append(f'<text x="{left - 5}" y="{y(value) + 4:.0f}" text-anchor="end">{value:.1f}</text>')
    for i, (label, key, colour) in enumerate(series):
        points = [(x(row["events"]), y(row["proofs"][key]["p95"] if key != "verify_s" else row["verify"]["verify_s"]))
                  for row in rows]
        parts.append('<polyline fill="none" stroke="{}" stroke-width="2" points="{}"/>'.format(
            colour, " ".join(f"{a:.0f},{b:.0f}" for a, b in points)))
        parts.append(f'<text x="{left + 10}" y="{30 + 14 * i}" fill="{colour}">{label}</text>')
    parts.append(f'<text x="{width / 2}" y="{height - 5}" text-anchor="middle">custody events (log scale)</text></svg>')
    return "\n".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--load-only", action="store_true",
                        help="rerun only the HTTP load (reads, uploads) on the data already seeded")
    args = parser.parse_args()
    scales = SCALES[:2] if args.quick else SCALES
    rows = json.loads((HERE / "out" / "results.json").read_text())["rows"] if args.load_only else []
    for events, transcripts in [] if args.load_only else scales:
        seeded = seed.seed(events, transcripts)
        rows.append({"events": events, "transcripts": transcripts, "seed_s": seeded["total_s"],
                     "proofs": proofs.run(), "verify": verify.run()})
        print(json.dumps(rows[-1]["verify"]), flush=True)
    reads = http_load.reads()
    uploads = http_load.uploads()
    (HERE / "out").mkdir(exist_ok=True)
    (HERE / "out" / "results.json").write_text(json.dumps({"rows": rows, "reads": reads, "uploads": uploads},
                                                          indent=2, default=str))
    (HERE / "growth.svg").write_text(_svg(rows))
    command = "python -m bench.run_all" + (" --quick" if args.quick else "")
    if args.load_only:
        command += "` then, on an idle machine, `python -m bench.run_all --load-only"
    (HERE / "RESULTS.md").write_text(render(rows, reads, uploads, command))
    print((HERE / "RESULTS.md").read_text())


def _mark(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def render(rows: list[dict], reads: dict, uploads: dict, command: str) -> str:
    big = rows[-1]
    p = big["proofs"]
    lines = [
        "# Benchmark results",
        "",
        f"Command: `{command}` (from the repository root, with `.venv/bin/python`), "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.node()}, 2 cores shared; "
        "gunicorn with 4 sync workers and PostgreSQL 15 on 127.0.0.1; load from Python threads on the same machine.",
        "",
        "## Targets",
        "",
        "| target | measured | result |",
        "|---|---|---|",
        f"| audited transcript read ≥ 0.85× unaudited (8 clients, 10 KB) "
        f"| {reads['audited_rps']:.0f} vs {reads['unaudited_rps']:.0f} req/s = **{reads['ratio']:.2f}×** "
        f"| {_mark(reads['ratio'] >= 0.85)} |",
        f"| 10 KB upload p95 ≤ 25 ms at 8 clients "
        f"| p95 **{uploads['8']['p95']:.1f} ms** ({uploads['8']['throughput_rps']:.0f} req/s) "
        f"| {_mark(uploads['8']['p95'] <= 25)} |",
        f"| inclusion proof p95 ≤ 10 ms at {big['events']:,} events "
        f"| direct {p['inclusion_direct']['p95']:.2f} ms; HTTP {p['inclusion_http']['p95']:.2f} ms "
        f"| {_mark(p['inclusion_http']['p95'] <= 10)} |",
        f"| consistency proof p95 ≤ 10 ms at {big['events']:,} events "
        f"| direct {p['consistency_direct']['p95']:.2f} ms; HTTP {p['consistency_http']['p95']:.2f} ms "
        f"| {_mark(p['consistency_http']['p95'] <= 10)} |",
        f"| custody query by resource p95 ≤ 50 ms "
        f"| {p['query_by_resource_http']['p95']:.2f} ms "
        f"(who read witness W: {p['query_who_read_witness_http']['p95']:.2f} ms) "
        f"| {_mark(p['query_by_resource_http']['p95'] <= 50)} |",
        f"| offline verification of {big['verify']['entries']:,} events ≤ 10 s, < 200 MB RSS "
        f"| {big['verify']['verify_s']:.2f} s, {big['verify']['verify_peak_rss_mb']:.0f} MB "
        f"| {_mark(big['verify']['verify_s'] <= 10 and big['verify']['verify_peak_rss_mb'] < 200)} |",
        "",
        "## Growth (p95 in ms through the HTTP API unless noted; see growth.svg)",
        "",
        "| events | transcripts | seed (s) | inclusion direct | inclusion HTTP | consistency HTTP "
        "| query by resource | who read W | export (s) | verify (s) | verify RSS (MB) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        q, v = row["proofs"], row["verify"]
        lines.append(
            f"| {row['events']:,} | {row['transcripts']:,} | {row['seed_s']:.1f} "
            f"| {q['inclusion_direct']['p95']:.2f} | {q['inclusion_http']['p95']:.2f} "
            f"| {q['consistency_http']['p95']:.2f} | {q['query_by_resource_http']['p95']:.2f} "
            f"| {q['query_who_read_witness_http']['p95']:.2f} | {v['export_s']:.1f} | {v['verify_s']:.2f} "
            f"| {v['verify_peak_rss_mb']:.0f} |")
    lines += ["", "## Uploads (10 KB, each client its own interview)", "",
              "| clients | req/s | p50 ms | p95 ms | p99 ms |", "|---|---|---|---|---|"]
    for clients, u in uploads.items():
        lines.append(f"| {clients} | {u['throughput_rps']:.0f} | {u['p50']:.1f} | {u['p95']:.1f} | {u['p99']:.1f} |")
    lines += ["", "## Reads, custody on vs off (alternating runs)", "",
              "| run | audited req/s | unaudited req/s |", "|---|---|---|"]
    for i, (a, u) in enumerate(zip(reads["runs"]["audited"], reads["runs"]["unaudited"], strict=True)):
        lines.append(f"| {i + 1} | {a['throughput_rps']:.0f} | {u['throughput_rps']:.0f} |")
    lines.append("")
    lines.append((HERE / "ANALYSIS.md").read_text() if (HERE / "ANALYSIS.md").exists() else "")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
