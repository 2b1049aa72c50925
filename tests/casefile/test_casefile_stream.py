"""The case file streams, in flat memory, and the witnesses' consent decides what is in it."""

from __future__ import annotations

import base64
import hashlib
import json
import tracemalloc

from tests.conftest import World, ok
from tests.exhibits.test_exhibits import MARK, create, exhibit_id_of, recording, upload
from tests.helpers import all_events, events_of

SHARE = {"record": True, "share_with_prosecutors": True, "share_with_un_bodies": False, "disclose_identity": False}
NO_RECORD = {
    "record": False,
    "share_with_prosecutors": False,
    "share_with_un_bodies": False,
    "disclose_identity": False,
}


def _witness_with_statement(world: World, text: str, scopes: dict | None) -> tuple[int, int]:
    interviewer = world.people["interviewer"]
    witness = ok(
        interviewer.post(
            f"/api/v1/cases/{world.case_id}/witnesses", {"witness_type": "eyewitness", "risk_level": "low"}
        ),
        201,
    )
    if scopes is not None:
        ok(
            interviewer.post(
                f"/api/v1/witnesses/{witness['id']}/consent", {"scopes": scopes, "given_at": "2026-03-10T09:00:00Z"}
            ),
            201,
        )
    interview = ok(
        interviewer.post(
            f"/api/v1/cases/{world.case_id}/interviews",
            {
                "witness_id": witness["id"],
                "incident_ids": [world.incident_id],
                "conducted_at": "2026-03-10T10:00:00Z",
                "language": "en",
            },
        ),
        201,
    )
    ok(interviewer.post(f"/api/v1/interviews/{interview['id']}/transcripts", {"text": text}), 201)
    return witness["id"], interview["id"]


def test_consent_in_force_decides_which_statements_are_in_the_file(app, world: World):
    interviewer = world.people["interviewer"]
    ok(
        interviewer.post(
            f"/api/v1/witnesses/{world.witness_id}/consent", {"scopes": SHARE, "given_at": "2026-03-10T09:00:00Z"}
        ),
        201,
    )
    ok(interviewer.post(f"/api/v1/interviews/{world.interview_id}/transcripts", {"text": "shared statement"}), 201)
    _, kept_out = _witness_with_statement(world, "not for the record", NO_RECORD)
    _, unconsented = _witness_with_statement(world, "no consent recorded", None)
    withdrawn_witness, withdrawn = _witness_with_statement(world, "later withdrawn", SHARE)
    ok(
        interviewer.post(
            f"/api/v1/witnesses/{withdrawn_witness}/consent",
            {"scopes": SHARE, "given_at": "2026-03-10T09:00:00Z", "withdrawn_at": "2026-04-01T00:00:00Z"},
        ),
        201,
    )

    response = world.people["legal"].get(f"/api/v1/cases/{world.case_id}/file")
    assert response.status_code == 200 and response.is_streamed and response.mimetype == "application/json"
    body = response.get_data()
    for secret in (b"not for the record", b"no consent recorded", b"later withdrawn"):
        assert secret not in body
    data = json.loads(body)
    assert "record" in data["consent_rule"]
    statements = {entry["interview"]["id"]: entry["transcripts"] for entry in data["interviews"]}
    assert [(t["text"], t["withheld"]) for t in statements[world.interview_id]] == [("shared statement", None)]
    assert statements[kept_out][0]["withheld"] == "consent_record_scope_missing"
    assert statements[unconsented][0]["withheld"] == "no_consent_record"
    assert statements[withdrawn][0]["withheld"] == "consent_withdrawn"
    assert all(t["text"] is None for ref in (kept_out, unconsented, withdrawn) for t in statements[ref])
    assert all("identity" not in witness for witness in data["witnesses"])

    events = events_of(app, response)
    assert [e["action"] for e in events] == ["casefile.read", "transcript.read"]
    assert events[1]["resource_id"] == f"{world.interview_id}/1" and events[1]["details"]["via"] == "casefile"
    assert events[0]["details"]["withheld"] == {
        "consent_record_scope_missing": 1,
        "no_consent_record": 1,
        "consent_withdrawn": 1,
    }


def test_events_are_committed_before_the_body_is_read(app, world: World):
    interviewer = world.people["interviewer"]
    ok(
        interviewer.post(
            f"/api/v1/witnesses/{world.witness_id}/consent", {"scopes": SHARE, "given_at": "2026-03-10T09:00:00Z"}
        ),
        201,
    )
    ok(interviewer.post(f"/api/v1/interviews/{world.interview_id}/transcripts", {"text": "statement"}), 201)
    response = world.people["legal"].get(f"/api/v1/cases/{world.case_id}/file", buffered=False)
    assert response.status_code == 200
    assert [e["action"] for e in all_events(app)][-2:] == ["casefile.read", "transcript.read"]  # body unread
    assert json.loads(response.get_data())["interviews"][0]["transcripts"][0]["text"] == "statement"
    # A later request on the same thread is its own caller, however the body above was consumed.
    me = ok(interviewer.get("/api/v1/auth/me"))
    assert me["username"] == "interviewer"


def test_memory_stays_flat_while_a_large_case_streams(app, world: World):
    """200 statements of 20 KB (4 MB of text): the body streams without holding the case."""
    interviewer = world.people["interviewer"]
    ok(
        interviewer.post(
            f"/api/v1/witnesses/{world.witness_id}/consent", {"scopes": SHARE, "given_at": "2026-03-10T09:00:00Z"}
        ),
        201,
    )
    url = f"/api/v1/interviews/{world.interview_id}/transcripts"
    ok(interviewer.post(url, {"text": "0" * 20_000}), 201)
    for n in range(1, 200):
        ok(interviewer.post(url, {"text": str(n % 10) * 20_000, "reason": f"correction {n}"}), 201)
    response = world.people["legal"].get(f"/api/v1/cases/{world.case_id}/file", buffered=False)
    assert response.status_code == 200
    tracemalloc.start()
    try:
        total = 0
        for chunk in response.response:
            total += len(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        response.close()
    assert total > 4_000_000
    assert peak < 1_500_000, f"peak {peak} bytes while streaming {total}"


# -- exhibits in the case file: metadata only, each listing recorded ---------------------------------------


EXHIBIT_FIELDS = {
    "id",
    "kind",
    "media_type",
    "size",
    "sha256",
    "sha256_withheld",
    "captured_at",
    "filename",
    "filename_withheld",
    "shredded",
    "withheld",
    "content_path",
}
PNG = b"\x89PNG\r\n\x1a\n" + b"\x07" * 3000 + MARK


def _entries(data: dict) -> tuple[dict[int, dict], dict[int, dict]]:
    """Exhibits of the file by id: those listed under interviews, and those under incidents."""
    return (
        {e["id"]: e for entry in data["interviews"] for e in entry["exhibits"]},
        {e["id"]: e for incident in data["incidents"] for e in incident["exhibits"]},
    )


def test_exhibits_are_in_the_case_file_by_their_metadata(app, world: World, blob_dir):
    interviewer, legal = world.people["interviewer"], world.people["legal"]
    ok(
        interviewer.post(
            f"/api/v1/witnesses/{world.witness_id}/consent", {"scopes": SHARE, "given_at": "2026-03-10T09:00:00Z"}
        ),
        201,
    )
    ok(interviewer.post(f"/api/v1/interviews/{world.interview_id}/transcripts", {"text": "shared statement"}), 201)
    content = recording(50_000)
    url, _ = upload(
        interviewer,
        f"/api/v1/interviews/{world.interview_id}/exhibits/uploads",
        content,
        filename="W-0001 at the quarry.mp3",
        captured_at="2026-03-10T10:05:00Z",
    )
    recorded = exhibit_id_of(url)
    url, _ = upload(
        legal, f"/api/v1/incidents/{world.incident_id}/exhibits/uploads", PNG, kind="photo", filename="quarry.png"
    )
    photo = exhibit_id_of(url)
    unfinished = create(interviewer, f"/api/v1/interviews/{world.interview_id}/exhibits/uploads", 9000)
    assert unfinished.status_code == 201  # not evidence yet: not in the file

    response = legal.get(f"/api/v1/cases/{world.case_id}/file")
    assert response.status_code == 200 and response.is_streamed
    body = response.get_data()
    assert MARK not in body and content[:2000] not in body  # never the bytes
    data = json.loads(body)
    (entry,) = data["interviews"]
    assert [t["text"] for t in entry["transcripts"]] == ["shared statement"]
    (listed,) = entry["exhibits"]
    assert set(listed) == EXHIBIT_FIELDS
    assert listed["id"] == recorded and (listed["kind"], listed["media_type"]) == ("audio", "audio/mpeg")
    assert listed["size"] == len(content) and listed["sha256"] == hashlib.sha256(content).hexdigest()
    assert listed["captured_at"].startswith("2026-03-10T10:05:00")
    assert (listed["filename"], listed["filename_withheld"]) == ("W-0001 at the quarry.mp3", False)
    assert (listed["shredded"], listed["withheld"]) == (False, None)
    assert listed["content_path"] == f"/api/v1/exhibits/{recorded}/content"
    (incident,) = data["incidents"]
    assert incident["reference"] == "INC-1" and incident["id"] == world.incident_id
    (shown,) = incident["exhibits"]
    assert (shown["id"], shown["kind"], shown["media_type"], shown["filename"]) == (
        photo,
        "photo",
        "image/png",
        "quarry.png",
    )
    assert shown["sha256"] == hashlib.sha256(PNG).hexdigest()
    # Each exhibit listed is a read of its own, recorded before the body starts, as the statements are.
    events = events_of(app, response)
    assert [e["action"] for e in events] == [
        "casefile.read",
        "transcript.read",
        "exhibit.metadata.read",
        "exhibit.metadata.read",
    ]
    assert [(e["resource_type"], e["resource_id"]) for e in events[2:]] == [
        ("exhibit", str(recorded)),
        ("exhibit", str(photo)),
    ]
    assert all(e["details"]["via"] == "casefile" and e["outcome"] == "allowed" for e in events[1:])
    assert events[2]["witness_id"] == world.witness_id and events[3]["witness_id"] is None
    assert events[0]["details"]["exhibits_listed"] == 2
    assert "quarry" not in str(events)
    # The path in the file downloads the bytes the file's SHA-256 names (a logged read of its own).
    download = legal.get(listed["content_path"])
    assert download.data == content and hashlib.sha256(download.data).hexdigest() == listed["sha256"]
    assert download.headers["Repr-Digest"] == f"sha-256=:{base64.b64encode(hashlib.sha256(content).digest()).decode()}:"
    assert [e["action"] for e in events_of(app, download)] == ["exhibit.read"]


def test_shredded_and_suspended_exhibits_are_marked_in_the_case_file(app, world: World, blob_dir):
    interviewer, legal = world.people["interviewer"], world.people["legal"]
    exhibits = {}
    for name in ("shredded", "suspended", "kept"):
        witness_id, interview_id = _witness_with_statement(world, f"statement {name}", SHARE)
        url, _ = upload(
            interviewer,
            f"/api/v1/interviews/{interview_id}/exhibits/uploads",
            recording(4000),
            filename=f"FILE-{name}.mp3",
        )
        exhibits[name] = (witness_id, exhibit_id_of(url))
    withdrawal = {"scopes": SHARE, "given_at": "2026-03-10T09:00:00Z", "withdrawn_at": "2026-04-01T00:00:00Z"}
    for name in ("shredded", "suspended"):
        ok(interviewer.post(f"/api/v1/witnesses/{exhibits[name][0]}/consent", withdrawal), 201)
    ok(legal.post(f"/api/v1/witnesses/{exhibits['shredded'][0]}/erasure/confirm"))  # the second person

    response = legal.get(f"/api/v1/cases/{world.case_id}/file")
    body = response.get_data()
    assert b"FILE-shredded" not in body and b"FILE-suspended" not in body
    by_id, _ = _entries(json.loads(body))
    shredded, suspended, kept = (by_id[exhibits[name][1]] for name in ("shredded", "suspended", "kept"))
    assert (shredded["shredded"], shredded["withheld"]) == (True, "witness_shredded")
    assert (suspended["shredded"], suspended["withheld"]) == (False, "consent_withdrawn")
    for gone in (shredded, suspended):  # metadata stays; what was sealed, and the way to the bytes, do not
        assert (gone["size"], gone["kind"]) == (4000, "audio")
        assert gone["filename"] is None and gone["sha256"] is None and gone["content_path"] is None
    assert (kept["withheld"], kept["filename"], kept["shredded"]) == (None, "FILE-kept.mp3", False)
    assert kept["sha256"] == hashlib.sha256(recording(4000)).hexdigest()
    listed = [e for e in events_of(app, response) if e["action"] == "exhibit.metadata.read"]
    assert sorted(int(e["resource_id"]) for e in listed) == sorted(ids for _, ids in exhibits.values())


def test_exhibits_cost_no_statement_per_exhibit(app, world: World, blob_dir):
    """No N+1: the case file's statements do not grow with the exhibits of its interviews and incidents."""
    from tests.helpers import statements_sent

    interviewer, legal = world.people["interviewer"], world.people["legal"]
    interviews = f"/api/v1/interviews/{world.interview_id}/exhibits/uploads"
    incidents = f"/api/v1/incidents/{world.incident_id}/exhibits/uploads"

    def add(count: int) -> None:
        for n in range(count):
            upload(interviewer, interviews, recording(3000, seed=n), filename=f"r{n}.mp3")
            upload(legal, incidents, PNG, kind="photo")

    add(1)
    ok(legal.get(f"/api/v1/cases/{world.case_id}/file"))  # warm: the token's last-use stamp
    with statements_sent(app) as few:
        small = ok(legal.get(f"/api/v1/cases/{world.case_id}/file"))
    add(4)
    with statements_sent(app) as many:
        large = ok(legal.get(f"/api/v1/cases/{world.case_id}/file"))
    assert [len(found) for found in _entries(small)] == [1, 1] and [len(found) for found in _entries(large)] == [5, 5]
    assert len(many) == len(few), "\n".join(many)
