"""Proof and query latency on the seeded log, directly and through the auditor API.

    python -m bench.proofs
"""
from __future__ import annotations

import json
import random
from pathlib import Path

from bench.common import bench_app, percentiles, timed

OUT = Path(__file__).resolve().parent / "out"


def run(repeat: int = 300) -> dict:
    from casework.custody import log

    seed = json.loads((OUT / "seed.json").read_text())
    app = bench_app()
    rng = random.Random(11)
    results: dict[str, dict] = {}
    published = app.test_cli_runner().invoke(args=["custody", "publish"])  # proofs are served up to it
    assert published.exit_code == 0, published.output
    with app.app_context():
        size = int(published.output.splitlines()[1])
        results["inclusion_direct"] = percentiles(timed(lambda: log.inclusion_proof(rng.randrange(size), size), repeat))
        results["consistency_direct"] = percentiles(
            timed(lambda: log.consistency_proof(rng.randrange(1, size), size), repeat))
    client = app.test_client()
    auth = {"Authorization": f"Bearer {seed['tokens']['auditor']}"}

    def get(path: str) -> None:
        response = client.get(path, headers=auth)
        assert response.status_code == 200, response.data[:300]

    def inclusion() -> None:
        get(f"/api/v1/custody/proofs/inclusion?seq={rng.randrange(size)}&tree_size={size}")

    def consistency() -> None:
        get(f"/api/v1/custody/proofs/consistency?first={rng.randrange(1, size)}&second={size}")

    transcripts = seed["transcripts"]

    def by_resource() -> None:
        get(f"/api/v1/custody/events?resource_type=transcript&resource_id={rng.randrange(1, transcripts + 1)}&limit=50")

    witness = seed["sample_transcript"]["witness_id"]

    def who_read_witness() -> None:
        get(f"/api/v1/custody/events?witness_id={witness}&action=transcript.read&limit=50")

    for name, fn in (("inclusion_http", inclusion), ("consistency_http", consistency),
                     ("query_by_resource_http", by_resource), ("query_who_read_witness_http", who_read_witness)):
        fn()  # warm
        results[name] = percentiles(timed(fn, repeat))
    results["tree_size"] = size
    return results


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
