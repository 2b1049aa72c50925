"""Inclusion and consistency proof latency, directly from the log and through the auditor API.

    python -m bench.proofs casework_growth_10000000

"direct" is ``casework.custody.proofs`` in an app context: one query for the O(log n) stored
perfect-subtree nodes and the folds. "HTTP" is ``GET /api/v1/custody/proofs/...`` through the
app (in-process WSGI client): bearer token, authorization, the proof, its check against the
latest published checkpoint, serialisation and the auditor's own custody event committed.
Proofs are served up to the latest published checkpoint, so one is published first.
"""

from __future__ import annotations

import json
import random
import sys
from typing import Any

from bench.common import growth_app, percentiles, timed


def run(dbname: str, info: dict, repeat: int = 200) -> dict[str, Any]:
    from casework.custody import proofs

    app = growth_app(dbname)
    rng = random.Random(11)
    results: dict[str, Any] = {}
    published = app.test_cli_runner().invoke(args=["custody", "publish"])
    assert published.exit_code == 0, published.output
    size = int(published.output.splitlines()[1])
    with app.app_context():
        results["inclusion_direct"] = percentiles(
            timed(lambda: proofs.inclusion_proof(rng.randrange(size), size), repeat)
        )
        results["consistency_direct"] = percentiles(
            timed(lambda: proofs.consistency_proof(rng.randrange(1, size), size), repeat)
        )
    client = app.test_client()
    auth = {"Authorization": f"Bearer {info['tokens']['auditor']}"}

    def get(path: str) -> None:
        response = client.get(path, headers=auth)
        assert response.status_code == 200, response.data[:300]

    def inclusion() -> None:
        get(f"/api/v1/custody/proofs/inclusion?seq={rng.randrange(size)}&tree_size={size}")

    def consistency() -> None:
        get(f"/api/v1/custody/proofs/consistency?first={rng.randrange(1, size)}&second={size}")

    for name, fn in (("inclusion_http", inclusion), ("consistency_http", consistency)):
        fn()  # warm
        results[name] = percentiles(timed(fn, repeat))
    results["tree_size"] = size
    return results


if __name__ == "__main__":
    from bench.seed import _databases

    name = sys.argv[1]
    print(json.dumps(run(name, _databases()[name]), indent=2))
