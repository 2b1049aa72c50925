"""Every auditor filter is served by an index in page order, so it stays flat as the log grows.

Flatness is a property of the plan, not of a timing: a query whose page is read from an
index in (filter..., seq) order stops after ``limit + 1`` rows at any log size, while a Seq
Scan or a Sort grows with the log. The SQL the API really runs (captured from the request) is
EXPLAINed on PostgreSQL over 60,000 events where each filtered value is rare (1 in 500), with
sorts and full scans priced out, so the plan shows whether a suitable index exists at all.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import pytest
from flask import Flask
from sqlalchemy import text

from casework.db import db
from casework.pagination import encode_cursor
from tests.conftest import make_caller
from tests.helpers import explain_nodes, publish, statements_sent

BASE = 1_000_000_000  # far above the seqs the requests themselves append
ROWS = 60_000

FILL = f"""
INSERT INTO custody_events (seq, recorded_at, actor_id, actor_username, actor_role, action, outcome,
    resource_type, resource_id, case_id, witness_id, request_id, client_addr, details, salt, leaf_hash)
SELECT {BASE} + g, timestamptz '2025-01-01 00:00:00+00' + g * interval '1 second', 1000 + g % 500,
    'user' || (g % 500), 'legal', 'action.' || (g % 500), CASE WHEN g % 500 = 0 THEN 'denied' ELSE 'allowed' END,
    'type' || (g % 500), (g % 7)::text, 1000 + g % 500, 1000 + g % 500, md5(g::text), '127.0.0.1', '{{}}',
    sha256(('salt' || g)::bytea), sha256(g::text::bytea)
FROM generate_series(0, {ROWS - 1}) AS g
"""

# filter -> the index that must serve it
SHAPES: dict[str, tuple[dict[str, Any], str]] = {
    "witness": ({"witness_id": 1007}, "ix_custody_events_witness"),
    "who did an action to a witness": ({"witness_id": 1007, "action": "action.7"}, "ix_custody_events_witness_action"),
    "action": ({"action": "action.7"}, "ix_custody_events_action"),
    "resource": ({"resource_type": "type7", "resource_id": "0"}, "ix_custody_events_resource"),
    "actor id": ({"actor_id": 1007}, "ix_custody_events_actor"),
    "actor username": ({"actor": "user7"}, "ix_custody_events_actor_username"),
    "case": ({"case_id": 1007}, "ix_custody_events_case"),
    "outcome": ({"outcome": "denied"}, "ix_custody_events_outcome"),
    "time range": ({"since": "2025-01-01T10:00:00Z", "until": "2025-01-01T10:05:00Z"}, "ix_custody_events_time"),
    "time range, later page": (
        {"since": "2025-01-01T10:00:00Z", "until": "2025-01-01T12:00:00Z", "cursor": encode_cursor(BASE + 36_100)},
        "ix_custody_events_time",
    ),
}


def plan_nodes(app: Flask, statement: str, parameters: Any) -> list[dict[str, Any]]:
    with app.app_context(), db.engine.connect() as conn:
        for setting in ("enable_seqscan", "enable_sort", "enable_bitmapscan", "enable_incremental_sort"):
            conn.execute(text(f"SET LOCAL {setting} = off"))
        raw = conn.exec_driver_sql("EXPLAIN (FORMAT JSON) " + statement, parameters).scalar()
    return explain_nodes(raw)


@pytest.fixture
def filled(app: Flask, pg_only: None) -> None:
    with app.app_context():
        db.session.execute(text(FILL))
        db.session.commit()
        db.session.execute(text("ANALYZE custody_events"))
        db.session.commit()


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_each_filter_reads_one_index_in_page_order(app: Flask, filled: None, shape: str) -> None:
    auditor = make_caller(app, "auditor", "auditor")
    args, index = SHAPES[shape]
    with statements_sent(app) as sent:
        response = auditor.get(f"/api/v1/custody/events?{urlencode({**args, 'limit': 50})}")
    seen = [s for s in sent if "FROM custody_events" in s and "ORDER BY" in s and "LIMIT" in s]
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["items"], "the filter should match seeded events"
    assert len(seen) == 1, seen
    nodes = plan_nodes(app, seen[0], seen[0].parameters)
    kinds = [node["Node Type"] for node in nodes]
    assert not {"Seq Scan", "Sort", "Incremental Sort", "Bitmap Heap Scan"} & set(kinds), (shape, kinds)
    # The page's own scan; a later time-window page also reads its cursor's event by primary key.
    scans = [
        node["Index Name"]
        for node in nodes
        if node["Node Type"] in ("Index Scan", "Index Only Scan")
        and node.get("Relation Name") == "custody_events"
        and node.get("Parent Relationship") != "InitPlan"
    ]
    assert scans == [index], (shape, scans)


def test_time_pages_follow_event_time_and_cover_the_window_once(app: Flask, filled: None) -> None:
    """The (recorded_at, seq) keyset: pages do not overlap or skip, whatever the page size."""
    auditor = make_caller(app, "auditor", "auditor")
    window = {"since": "2025-01-01T10:00:00Z", "until": "2025-01-01T10:02:00Z", "limit": 7}
    seqs: list[int] = []
    cursor = None
    while True:
        page = auditor.get(f"/api/v1/custody/events?{urlencode({**window, **({'cursor': cursor} if cursor else {})})}")
        body = page.get_json()
        seqs += [item["seq"] for item in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seqs == list(range(BASE + 36_000, BASE + 36_120))


def test_a_proof_reads_tree_nodes_from_the_index_alone(app: Flask, pg_only: None) -> None:
    """At 10 million events a proof's node probes are cold; the primary key carries the hash,
    so after VACUUM (an append-only table: every page all-visible) no probe reads the table."""
    auditor = make_caller(app, "auditor", "auditor")
    for _ in range(5):  # a few events, so the tree has nodes above its leaves
        assert auditor.get("/api/v1/custody/public-key").status_code == 200
    size = int(publish(app).splitlines()[1])
    with app.app_context(), db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM (ANALYZE) custody_nodes"))
    with statements_sent(app) as sent:
        response = auditor.get(f"/api/v1/custody/proofs/inclusion?seq=1&tree_size={size}")
    assert response.status_code == 200, response.get_data(as_text=True)
    [statement] = [s for s in sent if "JOIN custody_nodes" in s]
    nodes = plan_nodes(app, statement, statement.parameters)
    probes = [node for node in nodes if node.get("Relation Name") == "custody_nodes"]
    assert [(node["Node Type"], node.get("Index Name")) for node in probes] == [
        ("Index Only Scan", "pk_custody_nodes")
    ], probes
