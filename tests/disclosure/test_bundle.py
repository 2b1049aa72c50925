"""The disclosure bundle over the real app: BagIt (Library of Congress bagit), the offline verifier,
consent exclusions, redactions, the PDF index and the custody events of the download."""

from __future__ import annotations

import json
import re
from pathlib import Path

import bagit
import pytest

from tests.bundles import (
    NAME,
    REFUSED_STATEMENT,
    STATEMENT,
    Disclosed,
    disclose,
    fetch_bundle,
    log_vkey,
    members,
    pdf_text,
    run_verifier,
    unzip,
)
from tests.conftest import World, ok
from tests.helpers import all_events, assert_problem


@pytest.fixture
def disclosed(world: World, legal2) -> Disclosed:
    return disclose(world.people, world.case_id, world.incident_id, world.witness_id, world.interview_id)


def test_the_lawyers_bundle_validates_with_bagit_and_offline(app, disclosed: Disclosed, tmp_path: Path):
    assert [item["reason"] for item in disclosed.excluded] == ["consent_scope_missing:share_with_prosecutors"]
    bundle = fetch_bundle(disclosed.legal, disclosed.disclosure_id, tmp_path / "bundle.zip")
    root = unzip(bundle, tmp_path / "unzipped")
    bag = bagit.Bag(str(root))
    assert bag.validate(processes=1) is True  # the Library of Congress implementation
    assert bag.info["External-Identifier"] == root.name == f"disclosure-{disclosed.disclosure_id}"
    assert bag.info["Recipient-Name"] == "Karim Prosecutor" and bag.info["Recipient-Kind"] == "prosecutor"
    registered = sorted(item["registration_number"] for item in disclosed.included)
    assert sorted(bag.info["Registration-Number"]) == registered and len(registered) == 3

    trusted = run_verifier(str(bundle), "--vkey", str(log_vkey(app, tmp_path / "log.vkey")))
    assert trusted.returncode == 0, trusted.stdout + trusted.stderr
    assert trusted.stdout.startswith("OK: ") and "3 items" in trusted.stdout
    assert "trusted, given with --vkey" in trusted.stdout
    selfcheck = run_verifier(str(bundle))
    assert selfcheck.returncode == 0 and "SELF-ASSERTED" in selfcheck.stdout
    report = json.loads(run_verifier(str(bundle), "--json").stdout)
    assert report["ok"] and report["items"] == 3 and report["events"] > 10 and report["problem"] is None


def test_excluded_witness_is_absent_and_the_redaction_hides_its_spans(app, disclosed: Disclosed, tmp_path: Path):
    files = members(fetch_bundle(disclosed.legal, disclosed.disclosure_id, tmp_path / "bundle.zip"))
    everything = b"\n".join(files.values())
    assert REFUSED_STATEMENT.encode() not in everything
    excluded_ref = disclosed.excluded[0]["item_ref"]
    metadata = {rel: json.loads(data) for rel, data in files.items() if rel.endswith("/metadata.json")}
    assert excluded_ref not in {m["item_ref"] for m in metadata.values() if m["kind"] == "transcript_version"}
    by_kind = {m["kind"]: (rel.rsplit("/", 1)[0], m) for rel, m in metadata.items()}
    assert set(by_kind) == {"transcript_version", "redaction", "incident"}
    directory, redaction = by_kind["redaction"]
    redacted = files[f"{directory}/{redaction['content_file']}"].decode()
    assert NAME not in redacted and "[REDACTED:witness_identity]" in redacted
    # The map names each marker's category and basis, never where it was or how long.
    assert redaction["redaction_map"]["markers"] == [
        {"marker": "[REDACTED:witness_identity]", "category": "witness_identity", "legal_basis": "Rule 81(4)"}
    ]
    assert "spans" not in redaction and NAME.encode() not in files[f"{directory}/metadata.json"]
    assert all(set(segment) == {"salt", "sha256"} for segment in redaction["redaction_map"]["segments"])
    # The source's events (its upload names its size) are proven by their hashes alone.
    source_lines = [json.loads(line) for line in files[f"{directory}/source-custody.jsonl"].splitlines()]
    assert source_lines and all(
        set(line) == {"seq", "leaf_hash", "proof", "withheld"} and line["withheld"] == "redaction_source"
        for line in source_lines
    )
    directory, original = by_kind["transcript_version"]
    assert files[f"{directory}/{original['content_file']}"].decode() == STATEMENT
    events = [
        json.loads(line)["entry"]
        for line in files[f"{directory}/custody.jsonl"].splitlines()
        if "entry" in json.loads(line)
    ]
    actions = [(e["action"], e["outcome"], e["details"].get("via")) for e in events]
    assert actions[0][0] == "transcript.create"  # the upload, then every access, then the release
    assert ("transcript.read", "allowed", "disclosure.bundle") in actions and "disclosure.item" in {
        a: o for a, o, _ in actions
    }
    assert (events[0]["resource_type"], events[0]["details"]["created"]) == ("interview", original["item_ref"])
    assert all(e["resource_type"] == "transcript" and e["resource_id"] == original["item_ref"] for e in events[1:])

    pdf = files["data/index.pdf"]
    assert pdf.startswith(b"%PDF") and re.search(rb"/Type\s*/Page\b", pdf)
    text = pdf_text(pdf)
    for item in disclosed.included:
        assert item["registration_number"] in text
    assert excluded_ref not in text


def test_the_download_is_recorded_before_it_streams(app, disclosed: Disclosed, tmp_path: Path):
    """The bundle's own event and each item's release are inside the checkpoint the bag proves
    against: they were in the log before a byte of content was produced."""
    before = len(all_events(app))
    files = members(fetch_bundle(disclosed.legal, disclosed.disclosure_id, tmp_path / "bundle.zip"))
    recorded = all_events(app)[before:]
    actions = [e["action"] for e in recorded]
    assert actions[0] == "disclosure.bundle"
    released = {
        e["details"]["registration_number"]: e["seq"]
        for e in recorded
        if e["details"].get("via") == "disclosure.bundle" and "registration_number" in e["details"]
    }
    assert sorted(released) == sorted(item["registration_number"] for item in disclosed.included)
    assert recorded[0]["details"]["items"] == 3 and recorded[0]["details"]["first_download"] is True
    size = json.loads(files["data/disclosure.json"])["checkpoint"]["tree_size"]
    assert all(seq < size for seq in released.values()) and recorded[0]["seq"] < size
    own = [
        json.loads(line)["entry"]
        for line in files["data/disclosure-custody.jsonl"].splitlines()
        if "entry" in json.loads(line)
    ]
    assert recorded[0]["seq"] in {e["seq"] for e in own}
    for rel, data in files.items():
        if rel.endswith("/metadata.json"):
            meta = json.loads(data)
            trail = [json.loads(line) for line in files[rel.replace("metadata.json", "custody.jsonl")].splitlines()]
            assert released[meta["registration_number"]] in {line["entry"]["seq"] for line in trail if "entry" in line}


@pytest.mark.parametrize("role,status", [("interviewer", 403), ("admin", 403), ("auditor", 403), ("outsider", 404)])
def test_only_the_case_lawyers_download(app, world: World, disclosed: Disclosed, role, status):
    response = world.people[role].get(f"/api/v1/disclosures/{disclosed.disclosure_id}/bundle")
    assert_problem(response, status)
    denied = [e for e in all_events(app) if e["action"] == "disclosure.bundle"]
    assert denied[-1]["outcome"] == "denied" and denied[-1]["actor_username"] == role
    assert_problem(world.people["legal"].get("/api/v1/disclosures/999999/bundle"), 404)


def test_a_withdrawal_after_the_disclosure_withholds_the_bundle_before_a_byte(
    app, disclosed: Disclosed, tmp_path: Path
):
    first = fetch_bundle(disclosed.legal, disclosed.disclosure_id, tmp_path / "first.zip")
    assert first.stat().st_size > 0
    ok(
        disclosed.interviewer.post(
            f"/api/v1/witnesses/{disclosed.witness_id}/consent",
            {
                "scopes": {
                    "record": True,
                    "share_with_prosecutors": True,
                    "share_with_un_bodies": False,
                    "disclose_identity": False,
                },
                "given_at": "2026-03-10T09:00:00Z",
                "withdrawn_at": "2026-04-01T12:00:00Z",
            },
        ),
        201,
    )
    response = disclosed.legal.get(f"/api/v1/disclosures/{disclosed.disclosure_id}/bundle", buffered=False)
    body = assert_problem(response, 410)
    assert body["type"].endswith("/disclosure-withheld") and "CASE1-0001" in body["detail"]
    assert STATEMENT.split(",")[0] not in json.dumps(body)
    event = [e for e in all_events(app) if e["action"] == "disclosure.bundle"][-1]
    assert event["outcome"] == "error" and event["details"]["status"] == 410
    released = [
        e for e in all_events(app) if e["seq"] > event["seq"] and e["details"].get("via") == "disclosure.bundle"
    ]
    assert all(e["outcome"] != "allowed" for e in released), "no item is recorded as released"


def test_exhibits_and_consented_identities_stream_into_the_bundle(app, world: World, legal2, tmp_path: Path, blob_dir):
    """An exhibit's bytes stream from its encrypted chunks; an identity goes only where the
    witness consented to disclose it and the lawyer asked for it."""
    from tests.exhibits.test_exhibits import interview_path, recording, upload

    interviewer, legal = world.people["interviewer"], world.people["legal"]
    ok(
        interviewer.post(
            f"/api/v1/witnesses/{world.witness_id}/consent",
            {
                "scopes": {
                    "record": True,
                    "share_with_prosecutors": True,
                    "share_with_un_bodies": False,
                    "disclose_identity": True,
                },
                "given_at": "2026-03-10T09:00:00Z",
            },
        ),
        201,
    )
    ok(interviewer.patch(f"/api/v1/witnesses/{world.witness_id}", {"identity": {"full_name": "Oksana Protected"}}))
    content = recording(300_000)
    _, receipt = upload(interviewer, interview_path(world), content)
    items = [
        {"kind": "exhibit", "exhibit_id": receipt["exhibit_id"]},
        {"kind": "witness_identity", "witness_id": world.witness_id},
    ]
    recipient = {"name": "Karim Prosecutor", "organisation": "OTP", "kind": "prosecutor"}
    asked = ok(
        legal.post(
            f"/api/v1/cases/{world.case_id}/disclosures",
            {"recipient": recipient, "purpose": "trial", "include_identity": True, "items": items},
        ),
        202,
    )
    assert asked["approval_reasons"] == ["witness_identity"]
    assert_problem(legal.get(f"/api/v1/disclosures/{asked['id']}/bundle"), 409)
    ok(world.people["legal2"].post(f"/api/v1/disclosures/{asked['id']}/approve"))
    not_asked = ok(
        legal.post(
            f"/api/v1/cases/{world.case_id}/disclosures", {"recipient": recipient, "purpose": "trial", "items": items}
        ),
        201,
    )

    bundle = fetch_bundle(legal, asked["id"], tmp_path / "asked.zip")
    files = members(bundle)
    metadata = {
        json.loads(d)["kind"]: (rel.rsplit("/", 1)[0], json.loads(d))
        for rel, d in files.items()
        if rel.endswith("/metadata.json")
    }
    directory, exhibit = metadata["exhibit"]
    assert files[f"{directory}/{exhibit['content_file']}"] == content and exhibit["media_type"] == "audio/mpeg"
    assert exhibit["sha256"] == receipt["sha256"]  # the uploader's receipt and the bundle agree
    events = [
        json.loads(line)["entry"]
        for line in files[f"{directory}/custody.jsonl"].splitlines()
        if "entry" in json.loads(line)
    ]
    assert events[0]["action"] == "exhibit.upload.create" and "exhibit.create" in {e["action"] for e in events}
    directory, identity = metadata["witness_identity"]
    assert json.loads(files[f"{directory}/{identity['content_file']}"])["identity"]["full_name"] == "Oksana Protected"
    assert run_verifier(str(bundle)).returncode == 0
    bagit.Bag(str(unzip(bundle, tmp_path / "u"))).validate()

    without = members(fetch_bundle(legal, not_asked["id"], tmp_path / "not-asked.zip"))
    assert b"Oksana Protected" not in b"".join(without.values())
    assert {json.loads(d)["kind"] for rel, d in without.items() if rel.endswith("/metadata.json")} == {"exhibit"}


def test_a_disclosure_with_nothing_included_still_proves_itself(app, disclosed: Disclosed, tmp_path: Path):
    refused = ok(
        disclosed.legal.post(
            f"/api/v1/cases/{disclosed.case_id}/disclosures",
            {
                "recipient": {"name": "A journalist", "organisation": "Daily", "kind": "other"},
                "purpose": "press",
                "items": [{"kind": "transcript_version", "interview_id": disclosed.interview_id, "version": 1}],
            },
        ),
        201,
    )
    assert refused["included_count"] == 0
    bundle = fetch_bundle(disclosed.legal, refused["id"], tmp_path / "empty.zip")
    files = members(bundle)
    assert not [rel for rel in files if rel.startswith("data/items/")]
    assert STATEMENT.encode() not in b"".join(files.values())
    assert "No items" in pdf_text(files["data/index.pdf"])
    result = run_verifier(str(bundle), "--vkey", str(log_vkey(app, tmp_path / "log.vkey")))
    assert result.returncode == 0 and "0 items" in result.stdout, result.stdout
    assert bagit.Bag(str(unzip(bundle, tmp_path / "u"))).validate()
