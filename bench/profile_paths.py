"""Profile the hot paths in-process (test client, seeded PostgreSQL database).

    python -m bench.profile_paths read      # audited 10 KB transcript read
    python -m bench.profile_paths upload    # 10 KB transcript upload
    python -m bench.profile_paths ratio     # single-client latency, custody on vs off

As production runs custody (``bench.common.bench_app``): requests commit their events to the
intake queue, and the background integrator a gunicorn worker runs (started here in process)
places them within the merge delay; no request integrates after its commit.
"""

from __future__ import annotations

import cProfile
import json
import os
import pstats
import sys
import time
from pathlib import Path

from bench.common import bench_app

OUT = Path(__file__).resolve().parent / "out"
SEED = Path(os.environ.get("CASEWORK_BENCH_SEED", OUT / "seed.json"))
TEXT = "The prisoners were lined up by the quarry wall. " * 210


def _read_path(seed: dict) -> str:
    sample = seed["sample_transcript"]
    return f"/api/v1/interviews/{sample['interview_id']}/transcripts/{sample['version']}"


def _per_request_ms(app, path: str, token: str, n: int = 300) -> float:
    client, headers = app.test_client(), {"Authorization": f"Bearer {token}"}
    for _ in range(30):
        client.get(path, headers=headers)
    start = time.perf_counter()
    for _ in range(n):
        assert client.get(path, headers=headers).status_code == 200
    return (time.perf_counter() - start) / n * 1000


def _audited_app():
    """The app with its background integrator running, as in a gunicorn worker."""
    from casework.custody import integrator

    app = bench_app()
    integrator.start_thread(app)
    return app


def main(which: str) -> None:
    seed = json.loads(SEED.read_text())
    if which == "ratio":
        # Unaudited first: the audited app's integrator thread would otherwise run beside it.
        unaudited = _per_request_ms(
            bench_app(CASEWORK_CUSTODY_RECORDING=False), _read_path(seed), seed["tokens"]["legal"]
        )
        audited = _per_request_ms(_audited_app(), _read_path(seed), seed["tokens"]["legal"])
        print(json.dumps({"audited_ms": audited, "unaudited_ms": unaudited, "ratio": unaudited / audited}))
        return
    app = _audited_app()
    client = app.test_client()
    if which == "read":
        headers = {"Authorization": f"Bearer {seed['tokens']['legal']}"}
        call = lambda n: client.get(_read_path(seed), headers=headers)  # noqa: E731
    else:
        headers = {"Authorization": f"Bearer {seed['tokens']['interviewer']}"}
        call = lambda n: client.post(  # noqa: E731
            "/api/v1/interviews/7/transcripts",
            json={"text": f"{n} {TEXT}", "reason": "profile"},
            headers=headers,
        )
    for n in range(20):
        call(-n)
    profile = cProfile.Profile()
    profile.enable()
    for n in range(200):
        call(n)
    profile.disable()
    pstats.Stats(profile).sort_stats("cumulative").print_stats("casework", 25)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "read")
