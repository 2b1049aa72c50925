"""Identifying free text (file names, correction reasons, translators, interpreters, people present)
reaches only those who may read the witness's content; everyone else who may read the metadata
gets each existing value as null with ``<name>_withheld`` true, and never its bytes."""

from __future__ import annotations

import io

import pytest

from tests.conftest import World, ok
from tests.exhibits.test_exhibits import MP3_HEAD, upload
from tests.helpers import events_of

MARK = "FREE-TEXT-MARKER-7d2a"
INTERPRETER = f"{MARK} Iryna the interpreter"
PRESENT = [f"{MARK} Halyna, the witness's sister"]
FILENAME = f"{MARK} Oksana's statement.txt"
REASON = f"{MARK} Oksana corrected the number"
TRANSLATOR = f"{MARK} Taras the translator"
EXHIBIT_NAME = f"{MARK} Oksana at the quarry.mp3"
DEVICE = f"{MARK}-device"

# Who reads which: the interview's interviewer and the case's lawyer read the content; the other
# interviewer of the case, the admin and the auditor read only the metadata.
READERS = ("interviewer", "legal")
METADATA_ONLY = ("interviewer2", "admin", "auditor")


@pytest.fixture
def recorded(world: World) -> dict[str, int]:
    """An interview with an interpreter and others present, three transcript versions (a named file,
    a correction with a reason, a translation with its translator) and an exhibit with a file name."""
    interviewer = world.people["interviewer"]
    ok(
        interviewer.patch(
            f"/api/v1/interviews/{world.interview_id}", {"interpreter": INTERPRETER, "others_present": PRESENT}
        )
    )
    transcripts = f"/api/v1/interviews/{world.interview_id}/transcripts"
    ok(
        interviewer.client.post(
            transcripts,
            data={"file": (io.BytesIO(b"I saw them."), FILENAME)},
            content_type="multipart/form-data",
            headers={"Authorization": f"Bearer {interviewer.token}"},
        ),
        201,
    )
    ok(interviewer.post(transcripts, {"text": "I saw seven.", "reason": REASON}), 201)
    ok(
        interviewer.post(
            transcripts,
            {
                "text": "Я бачила сімох.",
                "translation_of": {"version": 2, "translator": TRANSLATOR, "method": "human", "certified": True},
            },
        ),
        201,
    )
    url, _ = upload(
        interviewer,
        f"/api/v1/interviews/{world.interview_id}/exhibits/uploads",
        MP3_HEAD + b"\x00" * 2000,
        filename=EXHIBIT_NAME,
        device_hash=DEVICE,
    )
    return {"exhibit": int(url.rstrip("/").split("/")[-2])}


def _reads(world: World, exhibit_id: int) -> dict[str, str]:
    return {
        "interview": f"/api/v1/interviews/{world.interview_id}",
        "interviews": f"/api/v1/cases/{world.case_id}/interviews",
        "transcripts": f"/api/v1/interviews/{world.interview_id}/transcripts",
        "exhibit": f"/api/v1/exhibits/{exhibit_id}",
        "exhibits": f"/api/v1/interviews/{world.interview_id}/exhibits",
    }


def _shown(item: dict, name: str) -> tuple:
    return item[name], item[f"{name}_withheld"]


@pytest.mark.parametrize("role", READERS + METADATA_ONLY)
def test_free_text_is_shown_only_to_readers_of_the_content(app, world: World, recorded, role):
    caller, reads = world.people[role], _reads(world, recorded["exhibit"])
    answers = {name: caller.get(path) for name, path in reads.items()}
    interview = ok(answers["interview"])
    (listed,) = ok(answers["interviews"])["items"]
    versions = ok(answers["transcripts"])["items"]
    exhibit = ok(answers["exhibit"])
    (listed_exhibit,) = ok(answers["exhibits"])["items"]
    if role in READERS:
        for item in (interview, listed):
            assert _shown(item, "interpreter") == (INTERPRETER, False)
            assert _shown(item, "others_present") == (PRESENT, False)
        assert [_shown(v, "filename") for v in versions] == [(FILENAME, False), (None, False), (None, False)]
        assert [_shown(v, "reason") for v in versions] == [(None, False), (REASON, False), (None, False)]
        assert [_shown(v, "translator") for v in versions] == [(None, False), (None, False), (TRANSLATOR, False)]
        for item in (exhibit, listed_exhibit):
            assert _shown(item, "filename") == (EXHIBIT_NAME, False)
            assert _shown(item, "device_hash") == (DEVICE, False)
        return
    for name, response in answers.items():
        assert MARK.encode() not in response.data, name
    for item in (interview, listed):
        assert _shown(item, "interpreter") == (None, True)
        assert _shown(item, "others_present") == (None, True)
    # What exists is flagged; what was never given reads the same for everyone.
    assert [_shown(v, "filename") for v in versions] == [(None, True), (None, False), (None, False)]
    assert [_shown(v, "reason") for v in versions] == [(None, False), (None, True), (None, False)]
    assert [_shown(v, "translator") for v in versions] == [(None, False), (None, False), (None, True)]
    for item in (exhibit, listed_exhibit):
        assert _shown(item, "filename") == (None, True)
        assert _shown(item, "device_hash") == (None, True)
    # The rest of the metadata is there as before, and each read is recorded as a metadata read.
    assert interview["language"] == "uk" and versions[2]["translation_method"] == "human"
    assert exhibit["media_type"] == "audio/mpeg" and exhibit["status"] == "complete"
    assert [e["action"] for e in events_of(app, answers["exhibit"])] == ["exhibit.metadata.read"]


def test_absent_free_text_is_not_flagged(app, world: World):
    """An interview without an interpreter: nothing is withheld from anyone."""
    for role in READERS + METADATA_ONLY:
        interview = ok(world.people[role].get(f"/api/v1/interviews/{world.interview_id}"))
        assert _shown(interview, "interpreter") == (None, False), role
        assert _shown(interview, "others_present") == ([], False), role


def test_another_interviewers_interview_is_metadata_to_an_interviewer(app, world: World):
    """Interviewers of one case read the statements of their own interviews only."""
    other = world.people["interviewer2"]
    mine = ok(
        other.post(
            f"/api/v1/cases/{world.case_id}/interviews",
            {
                "witness_id": world.witness_id,
                "conducted_at": "2026-03-12T10:00:00Z",
                "language": "uk",
                "interpreter": INTERPRETER,
            },
        ),
        201,
    )
    assert _shown(mine, "interpreter") == (INTERPRETER, False)  # the one who conducted it
    seen = {
        item["id"]: item
        for item in ok(world.people["interviewer"].get(f"/api/v1/cases/{world.case_id}/interviews"))["items"]
    }
    assert _shown(seen[mine["id"]], "interpreter") == (None, True)
    assert _shown(seen[world.interview_id], "interpreter") == (None, False)  # none was given


def test_the_contract_describes_the_withheld_flags(app, world: World):
    schemas = ok(world.people["legal"].get("/api/v1/openapi.json"))["components"]["schemas"]
    for schema, names in (
        ("Interview", ("interpreter", "others_present")),
        ("TranscriptVersion", ("filename", "reason", "translator")),
        ("Exhibit", ("filename", "device_hash")),
    ):
        properties = schemas[schema]["properties"]
        for name in names:
            assert properties[f"{name}_withheld"]["type"] == "boolean", (schema, name)
            assert properties[f"{name}_withheld"]["readOnly"] is True
