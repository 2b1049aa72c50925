"""No N+1: a listing or a case file costs the same number of statements for 1 item as for many."""

from __future__ import annotations

import pytest

from tests.conftest import World, ok
from tests.helpers import statements_sent


def _grow(world: World, extra: int) -> None:
    """Add ``extra`` witnesses, each with an interview linked to two incidents and two versions, and cases."""
    interviewer = world.people["interviewer"]
    case = world.case_id
    second = ok(interviewer.post(f"/api/v1/cases/{case}/incidents", {"reference": f"INC-X{extra}", "title": "x"}), 201)
    for n in range(extra):
        witness = ok(
            interviewer.post(f"/api/v1/cases/{case}/witnesses", {"witness_type": "victim", "risk_level": "low"}), 201
        )
        interview = ok(
            interviewer.post(
                f"/api/v1/cases/{case}/interviews",
                {
                    "witness_id": witness["id"],
                    "incident_ids": [world.incident_id, second["id"]],
                    "conducted_at": "2026-03-11T09:00:00Z",
                    "language": "uk",
                },
            ),
            201,
        )
        ok(interviewer.post(f"/api/v1/interviews/{interview['id']}/transcripts", {"text": f"statement {n}"}), 201)
        ok(
            interviewer.post(
                f"/api/v1/interviews/{interview['id']}/transcripts",
                {"text": f"statement {n}, corrected", "reason": "spelling"},
            ),
            201,
        )
        ok(world.people["legal"].post("/api/v1/cases", {"title": f"Another case {extra}.{n}"}), 201)


LISTINGS = [
    ("legal", "/api/v1/cases/{case}/interviews"),
    ("legal", "/api/v1/cases/{case}/witnesses"),
    ("legal", "/api/v1/cases/{case}/incidents"),
    ("legal", "/api/v1/cases"),
    ("legal", "/api/v1/cases/{case}/file"),
    ("auditor", "/api/v1/custody/events?limit=200"),
]


@pytest.mark.parametrize("who,path", LISTINGS, ids=[p for _, p in LISTINGS])
def test_statement_count_does_not_grow_with_the_items(app, world: World, who, path):
    caller, url = world.people[who], path.format(case=world.case_id)
    _grow(world, 1)
    ok(caller.get(url))  # warm: the token's last-use stamp is written at most once a minute
    with statements_sent(app) as few:
        small = ok(caller.get(url))
    _grow(world, 4)
    ok(caller.get(url))
    with statements_sent(app) as many:
        large = ok(caller.get(url))
    assert len(str(large)) > len(str(small))  # the second answer really holds more
    assert len(many) == len(few), "\n".join(many)


def _count(statements: list[str], prefix: str) -> int:
    return sum(1 for statement in statements if " ".join(statement.split()).startswith(prefix))


def test_an_upload_and_a_read_load_each_row_once(app, world: World):
    """The hot paths: the witness is read once (locked, without its consent records, which an
    upload does not need), the interview once plus its lock, and the version is written once
    with its receipt (no UPDATE after the event is placed)."""
    interviewer, legal = world.people["interviewer"], world.people["legal"]
    path = f"/api/v1/interviews/{world.interview_id}/transcripts"
    ok(interviewer.post(path, {"text": "first"}), 201)  # warm: the token's last-use stamp
    with statements_sent(app) as upload:
        receipt = ok(interviewer.post(path, {"text": "second", "reason": "more"}), 201)
    assert receipt["leaf_hash"] is not None
    assert _count(upload, "SELECT witnesses.") == 1, "\n".join(upload)
    assert not [s for s in upload if "consent_records" in s], "\n".join(upload)
    assert _count(upload, "SELECT interviews.") == 2, "\n".join(upload)  # authorisation, then the lock
    assert _count(upload, "INSERT INTO transcript_versions") == 1
    assert not [s for s in upload if s.lstrip().startswith("UPDATE transcript_versions")], "\n".join(upload)

    ok(legal.get(f"{path}/{receipt['version']}"))  # warm
    with statements_sent(app) as read:
        ok(legal.get(f"{path}/{receipt['version']}"))
    assert _count(read, "SELECT witnesses.") == 1, "\n".join(read)
    assert not [s for s in read if "consent_records" in s], "\n".join(read)
