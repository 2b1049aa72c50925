"""Export the seeded log and time the offline verifier on it (wall time and peak RSS).

    python -m bench.verify
"""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from bench.common import bench_app

OUT = Path(__file__).resolve().parent / "out"


def run() -> dict:
    app = bench_app()
    directory = OUT / "export"
    t0 = time.perf_counter()
    result = app.test_cli_runner().invoke(args=["custody", "export", str(directory)])
    assert result.exit_code == 0, result.output
    export_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    # /usr/bin/time reports the verifier's own peak RSS (getrusage would count the forked parent).
    child = subprocess.run(
        ["/usr/bin/time", "-f", "%M", "-o", str(OUT / "verify.rss"),
         sys.executable, "-m", "casework.custody.verify", str(directory / "log.jsonl"),
         "--checkpoint", str(directory / "checkpoint.txt"), "--vkey", str(directory / "log.vkey"), "--json"],
        capture_output=True, text=True, cwd=Path(__file__).resolve().parent.parent,
    )
    verify_s = time.perf_counter() - t0
    peak_rss_mb = int((OUT / "verify.rss").read_text().split()[-1]) / 1024
    report = json.loads(child.stdout)
    assert child.returncode == 0 and report["ok"], child.stdout + child.stderr
    return {"entries": report["entries"], "export_s": export_s, "verify_s": verify_s, "verify_peak_rss_mb": peak_rss_mb}


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
