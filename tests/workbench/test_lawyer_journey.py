"""A lawyer's day in a real browser: a case, an incident, a witness (the identity revealed, on
record), an interview and its transcript; a redaction made by selecting words with the mouse,
previewed, created at the exact code-point offsets; a disclosure checked item by item, sent,
approved by a second lawyer in another browser, and its bundle downloaded. Every page passes axe
and is kept as a screenshot. An Arabic transcript reads right to left."""

from __future__ import annotations

import zipfile
from typing import Any

from tests.browser import assert_accessible, sign_in, snapshot
from tests.conftest import PASSWORD, add_lawyer, ok

# An emoji (two UTF-16 units, one code point) and a CR LF before the words chosen: the page must
# count as the API does.
STATEMENT = "Interviewer 🎙: Who was there?\r\nW-0001: Oksana Petrenko saw them lead seven prisoners to the quarry."
CHOSEN, PLACE = "Oksana Petrenko", "the quarry"
ARABIC = "المحقق: أين كنت؟\nالشاهد: رأيت الجنود عند المحجر في الصباح."
ARABIC_WORD = "الجنود"

# The viewport rectangle of the first and last characters of ``word`` in the passage.
_WORD_EDGES = """([id, word]) => {
  const passage = document.getElementById(id);
  const node = passage.firstChild;
  const at = node.data.indexOf(word);
  const range = document.createRange();
  range.setStart(node, at); range.setEnd(node, at + 1);
  const first = range.getBoundingClientRect();
  range.setStart(node, at + word.length - 1); range.setEnd(node, at + word.length);
  const last = range.getBoundingClientRect();
  return {x1: first.left + 1, y1: (first.top + first.bottom) / 2, x2: last.right - 1, y2: (last.top + last.bottom) / 2};
}"""


def check(page: Any, served: Any, name: str) -> None:
    assert_accessible(page, name)
    snapshot(page, served.database, name)


def drag_select(page: Any, word: str) -> None:
    """Press before the word's first letter and release after its last, as a person does."""
    page.locator("#passage").scroll_into_view_if_needed()
    edges = page.evaluate(_WORD_EDGES, ["passage", word])
    page.mouse.move(edges["x1"], edges["y1"])
    page.mouse.down()
    page.mouse.move(edges["x2"], edges["y2"], steps=8)
    page.mouse.up()


def test_a_lawyer_redacts_discloses_and_a_second_lawyer_approves(app, served, open_page):
    world = served.world
    interviewer, legal = world.people["interviewer"], world.people["legal"]
    ok(interviewer.patch(f"/api/v1/witnesses/{world.witness_id}", {"identity": {"full_name": "Olena Protected"}}))
    ok(
        interviewer.post(
            f"/api/v1/witnesses/{world.witness_id}/consent",
            {
                "scopes": {
                    "record": True,
                    "share_with_prosecutors": True,
                    "share_with_un_bodies": False,
                    "disclose_identity": False,
                },
                "given_at": "2026-03-10T09:00:00Z",
            },
        ),
        201,
    )
    ok(interviewer.post(f"/api/v1/interviews/{world.interview_id}/transcripts", {"text": STATEMENT}), 201)
    add_lawyer(app, world)

    page = open_page()
    sign_in(page, "legal", PASSWORD)
    page.goto("/app/")
    page.get_by_role("link", name="Executions of prisoners, sector 4").click()
    page.wait_for_url(f"**/app/cases/{world.case_id}")
    assert page.get_by_role("heading", name="Executions of prisoners, sector 4").is_visible()
    assert "Olena Protected" not in page.content()
    check(page, served, "lawyer-case")

    page.get_by_role("link", name="Execution at the quarry").click()
    page.wait_for_url(f"**/app/incidents/{world.incident_id}")
    assert page.get_by_text("within 200 m").first.is_visible()
    check(page, served, "lawyer-incident")

    page.goto(f"/app/cases/{world.case_id}")
    page.get_by_role("link", name="W-0001").click()
    page.wait_for_url(f"**/app/witnesses/{world.witness_id}")
    assert "Olena Protected" not in page.content()
    check(page, served, "lawyer-witness")
    page.get_by_role("button", name="Reveal identity").click()
    page.get_by_test_id("identity").wait_for()
    assert page.get_by_test_id("identity").get_by_text("Olena Protected").is_visible()
    assert page.url.endswith(f"/app/witnesses/{world.witness_id}")  # revealed in place
    check(page, served, "lawyer-witness-revealed")

    page.goto(f"/app/interviews/{world.interview_id}")
    check(page, served, "lawyer-interview")
    page.get_by_role("link", name="Version 1").first.click()
    page.wait_for_url(f"**/app/interviews/{world.interview_id}/transcripts/1")
    check(page, served, "lawyer-transcript")

    # The redaction: selected with the mouse, previewed, created.
    drag_select(page, CHOSEN)
    start = STATEMENT.index(CHOSEN)  # code points: the emoji counts once
    assert page.get_by_label("From character").input_value() == str(start)
    assert page.get_by_label("Up to character (not included)").input_value() == str(start + len(CHOSEN))
    assert CHOSEN in page.locator("[data-selection-note]").inner_text()
    page.get_by_label("Category").select_option("witness_identity")
    page.get_by_label("Legal basis").fill("Rule 81(4) RPE")
    page.get_by_role("button", name="Add another span").click()  # listed; the editor is free again
    assert page.get_by_role("table", name="Spans to redact").get_by_text(CHOSEN).is_visible()
    drag_select(page, PLACE)
    page.get_by_label("Category").select_option("location")
    page.get_by_role("button", name="Preview").click()
    preview = page.get_by_test_id("preview")
    preview.wait_for()
    assert "W-0001: [REDACTED:witness_identity] saw them lead seven prisoners to [REDACTED:location]." in (
        preview.inner_text()
    )
    check(page, served, "lawyer-redaction-preview")
    page.get_by_role("button", name="Create redaction").click()
    page.wait_for_url("**/app/redactions/**")
    redaction_id = int(page.url.split("/")[-1].split("?")[0])
    assert "[REDACTED:witness_identity] saw them" in page.get_by_test_id("redacted").inner_text()
    assert CHOSEN not in page.content() and PLACE not in page.get_by_test_id("redacted").inner_text()
    check(page, served, "lawyer-redaction")
    made = ok(legal.get(f"/api/v1/redactions/{redaction_id}"))
    place = STATEMENT.index(PLACE)
    assert made["spans"] == [
        {"start": start, "end": start + len(CHOSEN), "category": "witness_identity", "legal_basis": "Rule 81(4) RPE"},
        {"start": place, "end": place + len(PLACE), "category": "location", "legal_basis": "Rule 81(4) RPE"},
    ]

    # The disclosure: checked item by item before it is sent.
    page.goto(f"/app/cases/{world.case_id}")
    page.get_by_role("link", name="New disclosure").click()
    page.wait_for_url(f"**/app/cases/{world.case_id}/disclosures/new")
    check(page, served, "lawyer-disclosure-builder")
    page.get_by_label("Kind of recipient").select_option("prosecutor")
    page.get_by_label("Name", exact=True).fill("Investigations Division")
    page.get_by_label("Organisation").fill("Office of the Prosecutor General")
    page.get_by_label("Purpose").fill("Request for assistance no. 22/4417")
    page.get_by_label("Execution at the quarry").check()
    page.get_by_label("Transcript version 1 (unredacted)").check()
    page.get_by_label("Identity of W-0001").check()
    page.get_by_role("button", name="Check items").click()
    summary = page.get_by_test_id("preview-summary")
    summary.wait_for()
    assert "2 included, 1 excluded" in summary.inner_text()
    result = page.locator("#preview-result")
    assert "The witness's consent does not cover: disclose identity." in result.inner_text()
    assert "A transcript version that has a redaction would be sent unredacted." in result.inner_text()
    assert page.url.endswith("/disclosures/new")  # nothing sent, nothing left the page
    check(page, served, "lawyer-disclosure-check")
    page.get_by_role("button", name="Send for approval").click()
    page.wait_for_url("**/app/disclosures/**")
    disclosure_url = page.url.split("?")[0]
    assert page.get_by_test_id("status").inner_text().strip() == "waiting for approval"
    check(page, served, "lawyer-disclosure-pending")

    # The second lawyer, in a browser of their own.
    second = open_page()
    sign_in(second, "legal2", PASSWORD)
    second.goto("/app/")
    second.get_by_role("link", name="Approvals").click()
    second.wait_for_url("**/app/approvals")
    check(second, served, "lawyer-approvals")
    second.get_by_role("link", name="Disclosure").first.click()
    second.wait_for_url(disclosure_url)
    second.get_by_role("button", name="Approve as second lawyer").click()
    second.wait_for_url("**?approved=1")
    assert second.get_by_test_id("status").inner_text().strip() == "approved"
    check(second, served, "lawyer-disclosure-approved")
    with second.expect_download() as download:
        second.get_by_role("link", name="Download the bundle").click()
    with zipfile.ZipFile(download.value.path()) as bundle:
        assert any(name.endswith("bagit.txt") for name in bundle.namelist())

    page.goto(f"/app/cases/{world.case_id}/disclosures")
    assert page.get_by_text("Investigations Division").first.is_visible()
    check(page, served, "lawyer-register")


def test_an_arabic_transcript_reads_right_to_left_and_is_redacted_by_selection(app, served, open_page):
    world = served.world
    interviewer = world.people["interviewer"]
    interview = ok(
        interviewer.post(
            f"/api/v1/cases/{world.case_id}/interviews",
            {"witness_id": world.witness_id, "conducted_at": "2026-03-12T10:00:00Z", "language": "ar"},
        ),
        201,
    )["id"]
    ok(interviewer.post(f"/api/v1/interviews/{interview}/transcripts", {"text": ARABIC}), 201)
    page = open_page()
    sign_in(page, "legal", PASSWORD)
    page.goto(f"/app/interviews/{interview}/transcripts/1?lang=uk")
    passage = page.locator("#passage")
    assert passage.evaluate("element => getComputedStyle(element).direction") == "rtl"
    assert page.locator("html").get_attribute("dir") == "ltr"  # a Ukrainian page keeps its own direction
    passage.get_by_text(ARABIC_WORD)  # present
    edges = page.evaluate(_WORD_EDGES, ["passage", ARABIC_WORD])
    page.mouse.dblclick((edges["x1"] + edges["x2"]) / 2, edges["y1"])
    start = ARABIC.index(ARABIC_WORD)
    assert page.locator("[data-field='start']").input_value() == str(start)
    assert page.locator("[data-field='end']").input_value() == str(start + len(ARABIC_WORD))
    check(page, served, "lawyer-transcript-arabic")
