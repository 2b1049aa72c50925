"""The auditor's API: queries, signed checkpoints, proofs that verify with the public key alone."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from casework.db import db
from casework_verify import merkle, note
from tests.conftest import World, ok
from tests.helpers import all_events, assert_problem, database_owner_writes, events_of, publish

CUSTODY_PATHS = [
    "/api/v1/custody/events",
    "/api/v1/custody/events/0",
    "/api/v1/custody/checkpoint",
    "/api/v1/custody/public-key",
    "/api/v1/custody/proofs/inclusion?seq=0&tree_size=1",
    "/api/v1/custody/proofs/consistency?first=1&second=1",
]


@pytest.mark.parametrize("role", ["admin", "interviewer", "legal"])
def test_only_auditors_read_the_log(app, world: World, role):
    """... but for the log's public key, which is public (bundles, receipts)."""
    for path in CUSTODY_PATHS:
        if path.endswith("/public-key"):
            assert world.people[role].get(path).status_code == 200
            continue
        response = world.people[role].get(path)
        assert_problem(response, 403)
        assert events_of(app, response)[0]["outcome"] == "denied"


def _checkpoint(app, auditor):
    publish(app)
    vkey = auditor.get("/api/v1/custody/public-key").get_data(as_text=True).strip()
    signed = auditor.get("/api/v1/custody/checkpoint")
    assert signed.mimetype == "text/plain"
    body = note.open_note(signed.get_data(as_text=True), vkey)
    return note.parse_checkpoint(body), vkey


def test_checkpoint_and_proofs_verify(app, world: World):
    auditor = world.people["auditor"]
    first, _ = _checkpoint(app, auditor)
    world.people["legal"].get(f"/api/v1/interviews/{world.interview_id}")
    second, _ = _checkpoint(app, auditor)
    assert second.size > first.size
    leaves = [bytes.fromhex(e["leaf_hash"]) for e in _all_pages(auditor)]
    frontier = merkle.CompactRange()
    for leaf in leaves[: second.size]:
        frontier.append(leaf)
    assert frontier.root() == second.root
    for seq in (0, 1, first.size - 1, second.size - 1):
        proof = ok(auditor.get(f"/api/v1/custody/proofs/inclusion?seq={seq}&tree_size={second.size}"))
        assert merkle.verify_inclusion(
            leaves[seq], seq, second.size, [bytes.fromhex(h) for h in proof["proof"]], second.root
        )
    consistency = ok(auditor.get(f"/api/v1/custody/proofs/consistency?first={first.size}&second={second.size}"))
    assert merkle.verify_consistency(
        first.size, second.size, first.root, second.root, [bytes.fromhex(h) for h in consistency["proof"]]
    )
    assert_problem(auditor.get(f"/api/v1/custody/proofs/inclusion?seq=0&tree_size={10**9}"), 422)
    # Only what a published checkpoint covers is proven.
    assert_problem(auditor.get(f"/api/v1/custody/proofs/inclusion?seq=0&tree_size={second.size + 1}"), 422)
    assert_problem(auditor.get("/api/v1/custody/proofs/consistency?first=5&second=2"), 422)


def _all_pages(auditor, query=""):
    items, cursor = [], None
    while True:
        page = ok(auditor.get(f"/api/v1/custody/events?limit=200{query}" + (f"&cursor={cursor}" if cursor else "")))
        items += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            return items


def test_events_are_gap_free_and_leaf_hashes_match(app, world: World):
    events = _all_pages(world.people["auditor"])
    assert [e["seq"] for e in events] == list(range(len(events)))
    from casework_verify import leaf

    for event in events:
        stored = event.pop("leaf_hash")
        assert leaf.leaf_hash(event).hex() == stored
        hidden = leaf.hide(event)  # every identifying value hidden: the same leaf, none of the values
        assert leaf.leaf_hash(hidden).hex() == stored and "salts" not in hidden


def test_filters_answer_who_read_a_witness_record(app, world: World):
    for reader in ("legal", "interviewer2", "legal"):
        world.people[reader].get(f"/api/v1/interviews/{world.interview_id}")
    world.people["outsider"].get(f"/api/v1/interviews/{world.interview_id}")  # denied, still about witness W
    auditor = world.people["auditor"]
    reads = _all_pages(auditor, f"&witness_id={world.witness_id}&action=interview.read&outcome=allowed")
    assert [e["actor_username"] for e in reads] == ["legal", "interviewer2", "legal"]
    attempts = _all_pages(auditor, f"&witness_id={world.witness_id}&action=interview.read&outcome=denied")
    assert [e["actor_username"] for e in attempts] == ["outsider"]
    denied = _all_pages(auditor, "&outcome=denied&actor=outsider")
    assert [e["action"] for e in denied] == ["interview.read"]
    created = _all_pages(auditor, f"&case_id={world.case_id}&action=incident.create")
    # A creation is recorded against what its URL names (the case), with the new id in details.
    assert [(e["resource_type"], e["details"]["created_incident_id"]) for e in created] == [("case", world.incident_id)]
    assert _all_pages(auditor, "&since=2999-01-01T00:00:00Z") == []


def test_events_hold_no_plaintext(app, world: World):
    world.people["interviewer"].patch(f"/api/v1/incidents/{world.incident_id}", {"description": "SECRET-DETAIL"})
    text_of_log = str(all_events(app))
    assert "SECRET-DETAIL" not in text_of_log and "correct horse" not in text_of_log
    patch = next(e for e in all_events(app) if e["action"] == "incident.update")
    assert patch["details"]["changed"] == ["description"]


def test_reading_the_log_is_itself_logged(app, world: World):
    response = world.people["auditor"].get("/api/v1/custody/events?limit=1")
    event = events_of(app, response)[0]
    assert event["action"] == "custody.events.list" and event["actor_role"] == "auditor"


def test_never_signs_a_checkpoint_inconsistent_with_an_earlier_one(app, world: World):
    auditor = world.people["auditor"]
    _checkpoint(app, auditor)
    world.people["legal"].get(f"/api/v1/cases/{world.case_id}")
    with app.app_context(), database_owner_writes(app):
        # Rewrite the stored subtree over the first 8 leaves, as an attacker rewriting history would.
        db.session.execute(text("UPDATE custody_nodes SET hash = :h WHERE level = 3 AND idx = 0"), {"h": b"\x00" * 32})
        db.session.commit()
    result = app.test_cli_runner().invoke(args=["custody", "publish"])
    assert result.exit_code == 2 and "REFUSED" in result.output, result.output
    with app.app_context():
        signed_sizes = db.session.execute(text("SELECT tree_size FROM custody_checkpoints")).scalars().all()
    assert len(signed_sizes) == 1
    # The checkpoint served is still the one published before the rewrite.
    served = note.parse_checkpoint(
        note.open_note(
            auditor.get("/api/v1/custody/checkpoint").get_data(as_text=True),
            auditor.get("/api/v1/custody/public-key").get_data(as_text=True),
        )
    )
    assert served.size == signed_sizes[0]


def test_fail_closed_when_the_log_cannot_record(app, world: World, is_postgres):
    """With inserts into the log failing, reads return nothing and writes keep nothing (503)."""
    with app.app_context():
        if is_postgres:
            db.session.execute(
                text(
                    "CREATE FUNCTION custody_down() RETURNS trigger AS $$ "
                    "BEGIN RAISE EXCEPTION 'custody store down'; END $$ LANGUAGE plpgsql"
                )
            )
            db.session.execute(
                text(
                    "CREATE TRIGGER custody_down BEFORE INSERT ON custody_events "
                    "FOR EACH ROW EXECUTE FUNCTION custody_down()"
                )
            )
            # PostgreSQL records a request's events in the intake queue first (integrated later).
            db.session.execute(
                text(
                    "CREATE TRIGGER custody_down BEFORE INSERT ON custody_intake "
                    "FOR EACH ROW EXECUTE FUNCTION custody_down()"
                )
            )
        else:
            db.session.execute(
                text(
                    "CREATE TRIGGER custody_down BEFORE INSERT ON custody_events "
                    "BEGIN SELECT RAISE(ABORT, 'custody store down'); END"
                )
            )
        db.session.commit()
    try:
        legal, interviewer = world.people["legal"], world.people["interviewer"]
        read = legal.get(f"/api/v1/cases/{world.case_id}")
        assert_problem(read, 503)
        assert b"Executions of prisoners" not in read.data
        write = interviewer.post(f"/api/v1/cases/{world.case_id}/incidents", {"reference": "LOST", "title": "x"})
        assert_problem(write, 503)
    finally:
        with app.app_context():
            db.session.execute(text("DROP TRIGGER custody_down" + (" ON custody_events" if is_postgres else "")))
            if is_postgres:
                db.session.execute(text("DROP TRIGGER custody_down ON custody_intake"))
                db.session.execute(text("DROP FUNCTION custody_down()"))
            db.session.commit()
    listed = ok(world.people["legal"].get(f"/api/v1/cases/{world.case_id}/incidents"))["items"]
    assert [i["reference"] for i in listed] == ["INC-1"]
