"""Export a growth database and time the offline verifier on it: wall time and peak RSS.

    python -m bench.verify casework_growth_10000000

The verifier runs as its own process (``casework-verify log``, as an auditor
would run it), hashing with up to 2 worker processes. Its memory is the peak of the *sum* of
the resident sets of the verifier and its workers, sampled every 20 ms from /proc (GNU time's
maximum RSS would only show the largest single process); the sum of their PSS, which counts
pages the forked workers share with the verifier once, is reported beside it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from bench.common import growth_app

OUT = Path(__file__).resolve().parent / "out"
ROOT = Path(__file__).resolve().parent.parent


def _tree(pid: int) -> list[int]:
    pids, i = [pid], 0
    while i < len(pids):
        try:
            with open(f"/proc/{pids[i]}/task/{pids[i]}/children") as f:
                pids += [int(child) for child in f.read().split()]
        except OSError:
            pass
        i += 1
    return pids


def _memory_kib(pid: int) -> tuple[int, int]:
    """(RSS, PSS): PSS shares the pages a forked worker still has in common with its parent."""
    rss = pss = 0
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Rss:"):
                    rss = int(line.split()[1])
                elif line.startswith("Pss:"):
                    pss = int(line.split()[1])
    except OSError:
        pass
    return rss, pss


def run_verifier(directory: Path, jobs: int | None = None) -> dict[str, Any]:
    """Run the verifier on an export directory; its wall time and the peak RSS of its process tree."""
    command = [
        sys.executable,
        "-m",
        "casework_verify",
        "log",
        str(directory / "log.jsonl"),
        "--checkpoint",
        str(directory / "checkpoint.txt"),
        "--vkey",
        str(directory / "log.vkey"),
        "--json",
    ]
    if jobs:
        command += ["--jobs", str(jobs)]
    t0 = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT, text=True)
    peak = {"rss": 0, "pss": 0, "processes": 0}
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            pids = _tree(child.pid)
            sizes = [_memory_kib(p) for p in pids]
            rss, pss = sum(r for r, _ in sizes), sum(p for _, p in sizes)
            peak.update(
                rss=max(peak["rss"], rss), pss=max(peak["pss"], pss), processes=max(peak["processes"], len(pids))
            )
            done.wait(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    stdout, stderr = child.communicate()
    wall = time.perf_counter() - t0
    done.set()
    sampler.join()
    report = json.loads(stdout)
    assert child.returncode == 0 and report["ok"], stdout + stderr
    return {
        "entries": report["entries"],
        "verified_size": report["verified_size"],
        "verify_s": wall,
        "verify_peak_rss_mb": peak["rss"] / 1024,
        "verify_peak_pss_mb": peak["pss"] / 1024,
        "verify_processes": peak["processes"],
        "export_mb": (directory / "log.jsonl").stat().st_size / 1e6,
    }


def run(dbname: str, keep: bool = False) -> dict[str, Any]:
    app = growth_app(dbname)
    directory = OUT / f"export-{dbname}"
    shutil.rmtree(directory, ignore_errors=True)
    published = app.test_cli_runner().invoke(args=["custody", "publish"])  # a checkpoint covering the log
    assert published.exit_code == 0, published.output
    t0 = time.perf_counter()
    result = app.test_cli_runner().invoke(args=["custody", "export", str(directory)])
    assert result.exit_code == 0, result.output
    export_s = time.perf_counter() - t0
    measured = run_verifier(directory)
    if not keep:
        shutil.rmtree(directory, ignore_errors=True)
    return {"export_s": export_s, **measured, "cpus": os.cpu_count()}


if __name__ == "__main__":
    print(json.dumps(run(sys.argv[1], keep="--keep" in sys.argv), indent=2))
