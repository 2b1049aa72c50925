from __future__ import annotations

from tests.conftest import ok


def test_keyset_pagination_walks_every_item_once(app, world):
    interviewer = world.people["interviewer"]
    for n in range(7):
        ok(interviewer.post(f"/api/v1/cases/{world.case_id}/incidents", {"reference": f"P-{n}", "title": "t"}), 201)
    seen, cursor = [], None
    while True:
        query = "limit=3" + (f"&cursor={cursor}" if cursor else "")
        page = ok(interviewer.get(f"/api/v1/cases/{world.case_id}/incidents?{query}"))
        assert len(page["items"]) <= 3
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(seen) and len(seen) == len(set(seen)) == 8
