"""Disclosures: consent decides each item, numbers are stable, the register and the log say it all."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest
from sqlalchemy import func, select

from casework.db import db
from casework.disclosure import rules
from casework.disclosure.models import Disclosure, DisclosureItem, EvidenceRegistration
from tests.conftest import World, ok
from tests.helpers import all_events, assert_problem, events_of, statements_sent
from tests.redactions.test_redactions import _everything_stored

STATEMENTS = {
    1: "W1: Oksana saw the prisoners at the quarry.",
    2: "W2: Taras heard the shots.",
    3: "W3: Mykola buried the bodies.",
}
PURPOSE = "Article 15 communication for the trial chamber; requested by counsel Ivan Sirko"
IDENTITY = {"full_name": "Oksana Protected", "contact": "via NGO liaison", "date_of_birth": None, "notes": None}


def consent(*, prosecutors: bool, un: bool, identity: bool, withdrawn: bool = False) -> dict:
    body = {
        "scopes": {
            "record": True,
            "share_with_prosecutors": prosecutors,
            "share_with_un_bodies": un,
            "disclose_identity": identity,
        },
        "given_at": "2026-03-10T09:00:00Z",
    }
    if withdrawn:
        body["withdrawn_at"] = "2026-04-01T00:00:00Z"
    return body


@dataclass
class Scene:
    world: World
    witnesses: dict[int, int]  # 1, 2, 3 -> witness id
    interviews: dict[int, int]
    redaction_id: int

    def transcript(self, n: int) -> dict:
        return {"kind": "transcript_version", "interview_id": self.interviews[n], "version": 1}

    def identity(self, n: int) -> dict:
        return {"kind": "witness_identity", "witness_id": self.witnesses[n]}

    @property
    def incident(self) -> dict:
        return {"kind": "incident", "incident_id": self.world.incident_id}

    @property
    def redaction(self) -> dict:
        return {"kind": "redaction", "redaction_id": self.redaction_id}


@pytest.fixture
def scene(world: World) -> Scene:
    """W1 consents to prosecutors and identity; W2 to UN bodies only; W3 gave no consent record."""
    interviewer, legal = world.people["interviewer"], world.people["legal"]
    ok(world.people["admin"].patch(f"/api/v1/cases/{world.case_id}", {"reference": "UKR-OTP"}))
    witnesses, interviews = {1: world.witness_id}, {1: world.interview_id}
    for n in (2, 3):
        witnesses[n] = ok(
            interviewer.post(
                f"/api/v1/cases/{world.case_id}/witnesses", {"witness_type": "eyewitness", "risk_level": "high"}
            ),
            201,
        )["id"]
        interviews[n] = ok(
            interviewer.post(
                f"/api/v1/cases/{world.case_id}/interviews",
                {"witness_id": witnesses[n], "conducted_at": "2026-03-10T10:00:00Z", "language": "uk"},
            ),
            201,
        )["id"]
    ok(interviewer.patch(f"/api/v1/witnesses/{witnesses[1]}", {"identity": IDENTITY}))
    ok(
        interviewer.post(
            f"/api/v1/witnesses/{witnesses[1]}/consent", consent(prosecutors=True, un=False, identity=True)
        ),
        201,
    )
    ok(
        interviewer.post(
            f"/api/v1/witnesses/{witnesses[2]}/consent", consent(prosecutors=False, un=True, identity=False)
        ),
        201,
    )
    for n, text in STATEMENTS.items():
        ok(interviewer.post(f"/api/v1/interviews/{interviews[n]}/transcripts", {"text": text}), 201)
    redaction = ok(
        legal.post(
            f"/api/v1/interviews/{interviews[1]}/transcripts/1/redactions",
            {"spans": [{"start": 4, "end": 10, "category": "witness_identity", "legal_basis": "Rule 81(4) RPE"}]},
        ),
        201,
    )
    return Scene(world, witnesses, interviews, redaction["id"])


def made(response) -> dict:
    """A disclosure made: 202 (pending) exactly when the rules ask for a second lawyer, else 201."""
    body = ok(response, 202 if response.status_code == 202 else 201)
    assert (response.status_code == 202) == bool(body["approval_reasons"]) == (body["status"] == "pending")
    return body


def disclose(scene: Scene, kind: str, items: list[dict], *, include_identity: bool = False, caller: str = "legal"):
    return scene.world.people[caller].post(
        f"/api/v1/cases/{scene.world.case_id}/disclosures",
        {
            "recipient": {"name": "Karim Prosecutor", "organisation": "Office of the Prosecutor", "kind": kind},
            "purpose": PURPOSE,
            "include_identity": include_identity,
            "items": items,
        },
    )


def decisions(disclosure: dict) -> list[tuple[str, str, str | None]]:
    return [(item["decision"], item["reason"], item["registration_number"]) for item in disclosure["items"]]


def test_prosecutor_disclosure_excludes_the_witness_who_did_not_consent(app, scene: Scene):
    items = [
        scene.transcript(1),
        scene.redaction,
        scene.transcript(2),
        scene.transcript(3),
        scene.incident,
        scene.identity(1),
    ]
    response = disclose(scene, "prosecutor", items)
    created = made(response)
    assert decisions(created) == [
        ("included", "consent:share_with_prosecutors", "UKR-OTP-0001"),
        ("included", "consent:share_with_prosecutors", "UKR-OTP-0002"),
        ("excluded", "consent_scope_missing:share_with_prosecutors", None),
        ("excluded", "no_consent_record", None),
        ("included", "no_witness", "UKR-OTP-0003"),
        ("excluded", "identity_not_requested", None),
    ]
    assert created["purpose"] == PURPOSE and (created["included_count"], created["excluded_count"]) == (3, 3)
    assert [item["consent_version"] for item in created["items"]] == [1, 1, 1, None, None, 1]
    assert [item["item_ref"] for item in created["items"]][:2] == [f"{scene.interviews[1]}/1", str(scene.redaction_id)]
    # The log: one event naming the recipient, then one per item against the item itself.
    events = events_of(app, response)
    assert [e["action"] for e in events] == ["disclosure.create"] + ["disclosure.item"] * 6
    recipient = {"name": "Karim Prosecutor", "organisation": "Office of the Prosecutor", "kind": "prosecutor"}
    assert events[0]["details"]["recipient"] == recipient and events[0]["resource_type"] == "case"
    assert events[0]["details"]["created_disclosure"] == created["id"]
    assert [(e["resource_type"], e["resource_id"], e["witness_id"]) for e in events[1:]] == [
        ("transcript", f"{scene.interviews[1]}/1", scene.witnesses[1]),
        ("redaction", str(scene.redaction_id), scene.witnesses[1]),
        ("transcript", f"{scene.interviews[2]}/1", scene.witnesses[2]),
        ("transcript", f"{scene.interviews[3]}/1", scene.witnesses[3]),
        ("incident", str(scene.world.incident_id), None),
        ("witness", str(scene.witnesses[1]), scene.witnesses[1]),
    ]
    for event, item in zip(events[1:], created["items"], strict=True):
        details = event["details"]
        assert details["recipient"] == recipient and details["disclosure_id"] == created["id"]
        assert (details["decision"], details["reason"], details["registration_number"]) == (
            item["decision"],
            item["reason"],
            item["registration_number"],
        )
    logged = json.dumps(all_events(app), ensure_ascii=False)
    for text in [*STATEMENTS.values(), PURPOSE, "Oksana Protected"]:
        assert text not in logged
    # The purpose is sealed at rest (it names people); the recipient is not witness data.
    stored = _everything_stored(app)
    assert PURPOSE not in stored and "Karim Prosecutor" in stored


def test_registration_numbers_are_stable_and_never_reused(app, scene: Scene):
    first = made(disclose(scene, "prosecutor", [scene.transcript(1), scene.redaction, scene.incident]))
    assert [n for *_, n in decisions(first)] == ["UKR-OTP-0001", "UKR-OTP-0002", "UKR-OTP-0003"]
    # To a UN body: W2 now goes (a new number); W1 does not (no consent), the incident keeps its number.
    second = made(
        disclose(scene, "un_body", [scene.incident, scene.transcript(2), scene.transcript(1), scene.redaction])
    )
    assert decisions(second) == [
        ("included", "no_witness", "UKR-OTP-0003"),
        ("included", "consent:share_with_un_bodies", "UKR-OTP-0004"),
        ("excluded", "consent_scope_missing:share_with_un_bodies", None),
        ("excluded", "consent_scope_missing:share_with_un_bodies", None),
    ]
    third = made(disclose(scene, "court", [scene.redaction, scene.transcript(2), scene.transcript(1)]))
    assert [n for *_, n in decisions(third)] == ["UKR-OTP-0002", None, "UKR-OTP-0001"]
    # A renamed case keeps the numbers already handed out.
    ok(scene.world.people["admin"].patch(f"/api/v1/cases/{scene.world.case_id}", {"reference": "UKR-OTP-2"}))
    fourth = made(disclose(scene, "prosecutor", [scene.transcript(1), scene.identity(1)], include_identity=True))
    assert [n for *_, n in decisions(fourth)] == ["UKR-OTP-0001", "UKR-OTP-2-0005"]
    with app.app_context():
        rows = db.session.execute(
            select(EvidenceRegistration.sequence, EvidenceRegistration.kind).order_by(EvidenceRegistration.sequence)
        ).all()
    assert [tuple(r) for r in rows] == [
        (1, "transcript_version"),
        (2, "redaction"),
        (3, "incident"),
        (4, "transcript_version"),
        (5, "witness_identity"),
    ]


def test_identity_needs_consent_and_the_explicit_request(app, scene: Scene):
    asked = made(
        disclose(scene, "prosecutor", [scene.identity(1), scene.identity(2), scene.identity(3)], include_identity=True)
    )
    assert decisions(asked) == [
        ("included", "consent:share_with_prosecutors+disclose_identity", "UKR-OTP-0001"),
        ("excluded", "consent_scope_missing:share_with_prosecutors", None),
        ("excluded", "no_consent_record", None),
    ]
    # W2 may go to a UN body, but never their identity: they did not consent to it.
    un = made(disclose(scene, "un_body", [scene.identity(2)], include_identity=True))
    assert decisions(un) == [("excluded", "consent_scope_missing:disclose_identity", None)]
    other = made(
        disclose(scene, "other", [scene.identity(1), scene.transcript(1), scene.incident], include_identity=True)
    )
    assert [d[:2] for d in decisions(other)] == [
        ("excluded", "recipient_kind_not_covered"),
        ("excluded", "recipient_kind_not_covered"),
        ("included", "no_witness"),
    ]


def test_withdrawn_consent_excludes_everything_of_the_witness(app, scene: Scene):
    ok(
        scene.world.people["interviewer"].post(
            f"/api/v1/witnesses/{scene.witnesses[1]}/consent",
            consent(prosecutors=True, un=True, identity=True, withdrawn=True),
        ),
        201,
    )
    created = made(
        disclose(scene, "prosecutor", [scene.transcript(1), scene.redaction, scene.identity(1)], include_identity=True)
    )
    assert decisions(created) == [("excluded", "consent_withdrawn", None)] * 3
    assert [item["consent_version"] for item in created["items"]] == [2, 2, 2]


def test_the_register_is_metadata_for_every_reader_of_the_case(app, scene: Scene):
    people = scene.world.people
    first = made(disclose(scene, "prosecutor", [scene.transcript(1), scene.transcript(2)]))
    made(disclose(scene, "un_body", [scene.transcript(2)]))
    url = f"/api/v1/cases/{scene.world.case_id}/disclosures"
    for role in ("legal", "auditor", "admin", "interviewer"):
        page = ok(people[role].get(url))
        assert [(d["recipient"]["kind"], d["purpose"]) for d in page["items"]] == [
            ("prosecutor", None),
            ("un_body", None),
        ]
        assert decisions(page["items"][0]) == decisions(first)
    assert ok(people["legal"].get(f"{url}?limit=1"))["next_cursor"]
    assert_problem(people["outsider"].get(url), 404)
    one = f"/api/v1/disclosures/{first['id']}"
    assert ok(people["auditor"].get(one))["purpose"] is None
    response = people["legal"].get(f"{one}?include=purpose")
    assert ok(response)["purpose"] == PURPOSE
    assert [e["action"] for e in events_of(app, response)] == ["disclosure.read", "disclosure.purpose.read"]
    for role, status in (("auditor", 403), ("interviewer", 403), ("admin", 403)):
        assert_problem(people[role].get(f"{one}?include=purpose"), status)
    assert_problem(people["outsider"].get(one), 404)
    assert_problem(people["legal"].get("/api/v1/disclosures/999999"), 404)


@pytest.mark.parametrize("role,status", [("interviewer", 403), ("auditor", 403), ("admin", 403), ("outsider", 404)])
def test_only_the_case_lawyers_disclose(app, scene: Scene, role, status):
    response = disclose(scene, "prosecutor", [scene.incident], caller=role)
    assert_problem(response, status)
    (event,) = events_of(app, response)
    assert (event["action"], event["outcome"], event["resource_type"]) == ("disclosure.create", "denied", "case")
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Disclosure)) == 0


def test_items_of_another_case_are_refused_like_missing_ones(app, scene: Scene):
    outsider = scene.world.people["outsider"]
    foreign = ok(
        outsider.post(
            f"/api/v1/cases/{scene.world.other_case_id}/incidents", {"reference": "X-1", "title": "elsewhere"}
        ),
        201,
    )["id"]
    body = assert_problem(
        disclose(
            scene,
            "prosecutor",
            [
                scene.incident,
                {"kind": "incident", "incident_id": foreign},
                {"kind": "incident", "incident_id": 999999},
                {"kind": "redaction", "redaction_id": 999999},
                {"kind": "transcript_version", "interview_id": scene.interviews[1], "version": 9},
            ],
        ),
        422,
    )
    errors = body["errors"]["json"]["items"]
    assert set(errors) == {"1", "2", "3", "4"}
    assert len({json.dumps(error) for error in errors.values()}) == 1  # the same answer for each
    with app.app_context():
        for model in (Disclosure, DisclosureItem, EvidenceRegistration):
            assert db.session.scalar(select(func.count()).select_from(model)) == 0
    # The lawyer of the other case cannot disclose this case's items into theirs either.
    body = assert_problem(
        outsider.post(
            f"/api/v1/cases/{scene.world.other_case_id}/disclosures",
            {
                "recipient": {"name": "n", "organisation": "o", "kind": "prosecutor"},
                "purpose": "p",
                "items": [scene.transcript(1)],
            },
        ),
        422,
    )
    assert body["errors"]["json"]["items"]["0"]
    assert "W1" not in json.dumps(body)


@pytest.mark.parametrize(
    "change",
    [
        {"items": []},
        {"items": [{"kind": "incident", "incident_id": 1, "witness_id": 1}]},
        {"items": [{"kind": "incident"}]},
        {"items": [{"kind": "statement", "incident_id": 1}]},
        {"items": [{"kind": "incident", "incident_id": "1"}]},
        {"recipient": {"name": "n", "organisation": "o", "kind": "journalist"}},
        {"recipient": {"name": "n", "organisation": "o", "kind": "court", "email": "x@y"}},
        {"purpose": ""},
        {"secret": True},
    ],
)
def test_hostile_bodies_are_refused(app, scene: Scene, change):
    body = {
        "recipient": {"name": "n", "organisation": "o", "kind": "court"},
        "purpose": "p",
        "items": [scene.incident],
        **change,
    }
    assert_problem(scene.world.people["legal"].post(f"/api/v1/cases/{scene.world.case_id}/disclosures", body), 422)


def test_duplicates_are_refused(app, scene: Scene):
    body = assert_problem(disclose(scene, "court", [scene.transcript(1), scene.incident, scene.transcript(1)]), 422)
    assert "Listed twice" in json.dumps(body["errors"])


def test_exhibits_follow_their_witness(app, scene: Scene):
    from tests.exhibits.test_exhibits import MP3_HEAD, upload

    interviewer = scene.world.people["interviewer"]
    content = MP3_HEAD + b"\x00" * 2000
    w1 = upload(interviewer, f"/api/v1/interviews/{scene.interviews[1]}/exhibits/uploads", content)[1]
    w2 = upload(interviewer, f"/api/v1/interviews/{scene.interviews[2]}/exhibits/uploads", content)[1]
    site = upload(interviewer, f"/api/v1/incidents/{scene.world.incident_id}/exhibits/uploads", content)[1]
    ids = [receipt["exhibit_id"] for receipt in (w1, w2, site)]
    created = made(disclose(scene, "prosecutor", [{"kind": "exhibit", "exhibit_id": i} for i in ids]))
    assert [d[:2] for d in decisions(created)] == [
        ("included", "consent:share_with_prosecutors"),
        ("excluded", "consent_scope_missing:share_with_prosecutors"),
        ("included", "no_witness"),
    ]


def test_bundle_route_is_for_the_case_lawyers(app, scene: Scene):
    created = made(disclose(scene, "prosecutor", [scene.incident]))
    people = scene.world.people
    response = people["legal"].get(f"/api/v1/disclosures/{created['id']}/bundle")
    assert response.status_code == 200 and response.mimetype == "application/zip"
    assert "attachment" in response.headers["Content-Disposition"]
    assert response.get_data()[:2] == b"PK"
    assert "disclosure.bundle" in [e["action"] for e in events_of(app, response)]
    assert_problem(people["auditor"].get(f"/api/v1/disclosures/{created['id']}/bundle"), 403)
    assert_problem(people["outsider"].get(f"/api/v1/disclosures/{created['id']}/bundle"), 404)


def test_concurrent_disclosures_never_hand_out_a_number_twice(app, scene: Scene):
    """Overlapping disclosures raced: every item gets one number, and numbers stay contiguous."""
    legal = scene.world.people["legal"]
    incidents = [scene.world.incident_id] + [
        ok(legal.post(f"/api/v1/cases/{scene.world.case_id}/incidents", {"reference": f"R-{n}", "title": "t"}), 201)[
            "id"
        ]
        for n in range(5)
    ]
    plans = [[{"kind": "incident", "incident_id": incidents[(k + j) % 6]} for j in range(3)] for k in range(8)]

    def run(items):
        client = app.test_client()
        return client.post(
            f"/api/v1/cases/{scene.world.case_id}/disclosures",
            json={"recipient": {"name": "n", "organisation": "o", "kind": "court"}, "purpose": "p", "items": items},
            headers={"Authorization": f"Bearer {legal.token}"},
        )

    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(run, plans))
    number_of: dict[str, set[str]] = {}
    for answer in answers:
        for item in ok(answer, 201)["items"]:
            number_of.setdefault(item["item_ref"], set()).add(item["registration_number"])
    assert all(len(numbers) == 1 for numbers in number_of.values())
    numbers = sorted(n for (n,) in number_of.values())
    assert numbers == [f"UKR-OTP-{i:04d}" for i in range(1, 7)]


@pytest.mark.parametrize(
    "kind,scopes,item,identity,expected",
    [
        (
            "prosecutor",
            {"record": True, "share_with_prosecutors": True},
            "transcript_version",
            False,
            (True, "consent:share_with_prosecutors"),
        ),
        (
            "defence",
            {"record": True, "share_with_prosecutors": True},
            "redaction",
            False,
            (True, "consent:share_with_prosecutors"),
        ),
        (
            "court",
            {"record": True, "share_with_un_bodies": True},
            "exhibit",
            False,
            (False, "consent_scope_missing:share_with_prosecutors"),
        ),
        (
            "un_body",
            {"record": True, "share_with_un_bodies": True},
            "transcript_version",
            False,
            (True, "consent:share_with_un_bodies"),
        ),
        (
            "other",
            {"record": True, "share_with_prosecutors": True, "share_with_un_bodies": True, "disclose_identity": True},
            "transcript_version",
            True,
            (False, "recipient_kind_not_covered"),
        ),
        (
            "prosecutor",
            {"record": False, "share_with_prosecutors": True},
            "transcript_version",
            False,
            (False, "consent_record_scope_missing"),
        ),
        (
            "prosecutor",
            {"record": True, "share_with_prosecutors": True, "disclose_identity": True},
            "witness_identity",
            False,
            (False, "identity_not_requested"),
        ),
        (
            "prosecutor",
            {"record": True, "share_with_prosecutors": "yes", "disclose_identity": True},
            "transcript_version",
            False,
            (False, "consent_scope_missing:share_with_prosecutors"),
        ),
    ],
)
def test_decision_table(kind, scopes, item, identity, expected):
    state = rules.ConsentState(shredded=False, has_record=True, scopes=scopes, has_identity=True)
    verdict = rules.decide(item, kind, state, identity_requested=identity)
    assert (verdict.included, verdict.reason) == expected


def test_decision_order():
    assert rules.decide("incident", "other", None, identity_requested=False) == rules.Verdict(True, "no_witness")
    withdrawn = rules.ConsentState(shredded=True, has_record=True, withdrawn=True, scopes={"record": True})
    assert rules.decide("redaction", "court", withdrawn, identity_requested=True).reason == "consent_withdrawn"
    erased = rules.ConsentState(shredded=True, has_record=True, scopes={"record": True, "share_with_prosecutors": True})
    assert rules.decide("redaction", "court", erased, identity_requested=True).reason == "witness_shredded"
    none = rules.ConsentState(shredded=False, has_record=False)
    assert (
        rules.decide("transcript_version", "prosecutor", none, identity_requested=False).reason == "no_consent_record"
    )
    assert set(rules.SCOPE_FOR_RECIPIENT) == {"prosecutor", "defence", "court", "un_body", "other"}


def test_a_number_another_case_holds_is_refused_not_a_500(app, scene: Scene):
    """A case without a reference numbers as CASE<id>; a case whose reference spells that collides."""
    outsider, world = scene.world.people["outsider"], scene.world
    foreign = ok(
        outsider.post(f"/api/v1/cases/{world.other_case_id}/incidents", {"reference": "X-1", "title": "elsewhere"}), 201
    )["id"]
    theirs = ok(
        outsider.post(
            f"/api/v1/cases/{world.other_case_id}/disclosures",
            {
                "recipient": {"name": "n", "organisation": "o", "kind": "court"},
                "purpose": "p",
                "items": [{"kind": "incident", "incident_id": foreign}],
            },
        ),
        201,
    )
    assert decisions(theirs) == [("included", "no_witness", f"CASE{world.other_case_id}-0001")]
    ok(world.people["admin"].patch(f"/api/v1/cases/{world.case_id}", {"reference": f"CASE{world.other_case_id}"}))
    assert_problem(disclose(scene, "court", [scene.incident]), 409)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Disclosure)) == 1


def test_the_register_costs_the_same_statements_for_one_or_many(app, scene: Scene):
    legal = scene.world.people["legal"]
    url = f"/api/v1/cases/{scene.world.case_id}/disclosures"
    counts = []
    for _ in range(2):
        made(disclose(scene, "prosecutor", [scene.transcript(1), scene.transcript(2), scene.incident]))
        made(disclose(scene, "un_body", [scene.transcript(2), scene.redaction]))
        with statements_sent(app) as statements:
            ok(legal.get(url))
        counts.append(len(statements))
    assert counts[0] == counts[1], counts


def test_kek_rotation_rewraps_purposes_and_leaves_redactions_to_the_witness_key(app, scene: Scene):
    created = made(disclose(scene, "court", [scene.incident, scene.redaction]))
    runner = app.test_cli_runner()
    for args in (["keys", "rotate"], ["keys", "rewrap", "--batch-size", "1"]):
        result = runner.invoke(args=args)
        assert result.exit_code == 0, result.output
    assert "1 disclosure purposes" in result.output, result.output
    legal = scene.world.people["legal"]
    assert ok(legal.get(f"/api/v1/disclosures/{created['id']}?include=purpose"))["purpose"] == PURPOSE
    assert ok(legal.get(f"/api/v1/redactions/{scene.redaction_id}"))["text"].startswith("W1: [REDACTED")


def test_a_translation_is_a_transcript_version_and_follows_its_witness(app, scene: Scene):
    """Translations are versions naming their source; disclosed (and redacted) like any version."""
    interviewer, legal = scene.world.people["interviewer"], scene.world.people["legal"]
    ok(
        interviewer.post(
            f"/api/v1/interviews/{scene.interviews[1]}/transcripts",
            {
                "text": "W1: Оксана бачила полонених у кар'єрі.",
                "translation_of": {"version": 1, "translator": "T. Translator", "method": "human", "certified": True},
            },
        ),
        201,
    )
    redacted = ok(
        legal.post(
            f"/api/v1/interviews/{scene.interviews[1]}/transcripts/2/redactions",
            {"spans": [{"start": 4, "end": 10, "category": "witness_identity", "legal_basis": "Rule 81(4) RPE"}]},
        ),
        201,
    )
    assert "Оксана" not in redacted["text"] and redacted["source_ref"] == f"{scene.interviews[1]}/2"
    translation = {"kind": "transcript_version", "interview_id": scene.interviews[1], "version": 2}
    to_prosecutor = made(
        disclose(scene, "prosecutor", [translation, {"kind": "redaction", "redaction_id": redacted["id"]}])
    )
    assert [d[:2] for d in decisions(to_prosecutor)] == [("included", "consent:share_with_prosecutors")] * 2
    to_un = made(disclose(scene, "un_body", [translation]))
    assert decisions(to_un) == [("excluded", "consent_scope_missing:share_with_un_bodies", None)]
