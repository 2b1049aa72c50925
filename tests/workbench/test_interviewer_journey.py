"""An interviewer's day in a real browser: a witness, their consent, an interview, a statement and
its receipt, then an exhibit sent with Uppy's tus plugin, paused half-way, the page reloaded, and
the same file resumed from the server's offset to completion. Every page passes axe and is kept
as a screenshot; the page policy sees no violation (Uppy included)."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import re
from pathlib import Path
from typing import Any

from tests.browser import assert_accessible, sign_in, snapshot
from tests.conftest import PASSWORD

MiB = 1024 * 1024
STATEMENT = (
    "Інтерв’юер: Де ви були вранці 3 березня?\n"
    "W-0002: Біля ринку на вулиці Героїв Праці. Перший снаряд влучив о 07:40.\n"
)
UPLOAD_PATH = re.compile(r"/api/v1/exhibits/(\d+)/upload$")


def wait_until(page: Any, condition: Any, what: str, timeout_ms: int = 20_000) -> None:
    """Poll while Playwright dispatches events (route handlers run only inside its calls)."""
    for _ in range(timeout_ms // 50):
        if condition():
            return
        page.wait_for_timeout(50)
    raise AssertionError(f"timed out waiting for {what}")


def checked_page(page: Any, database: str, name: str) -> None:
    assert_accessible(page, name)
    snapshot(page, database, name)


def test_an_interviewer_records_a_witness_interview_statement_and_a_resumed_exhibit(open_page, served, tmp_path: Path):
    world, database = served.world, served.database
    interviewer = world.people["interviewer"]
    page = open_page()
    sign_in(page, "interviewer", PASSWORD)

    # A new witness, with a sealed identity: from the case page's action.
    page.goto(f"/app/cases/{world.case_id}")
    page.get_by_role("link", name="New witness").click()
    page.wait_for_url(f"**/app/cases/{world.case_id}/witnesses/new")
    checked_page(page, database, "interviewer-new-witness")
    page.get_by_label("Type of witness").select_option("survivor")
    page.get_by_label("Risk level").select_option("high")
    page.get_by_label("Full name").fill("Olena Petrenko")
    page.get_by_role("button", name="Create witness").click()
    page.wait_for_url(re.compile(r"/app/witnesses/\d+$"))
    witness_id = int(page.url.rsplit("/", 1)[1])

    # Their consent.
    page.goto(f"/app/witnesses/{witness_id}/consent")
    assert page.get_by_role("heading", name="Consent of W-0002").is_visible()
    checked_page(page, database, "interviewer-consent")
    page.get_by_label("Record and keep the statement").check()
    page.get_by_label("Share with prosecutors").check()
    page.get_by_label("Given at (UTC)").fill("2026-03-10T09:45")
    page.get_by_role("button", name="Record consent").click()
    page.wait_for_url(f"**/app/witnesses/{witness_id}")
    status, _, body = served.server.request("GET", f"/api/v1/witnesses/{witness_id}", token=interviewer.token)
    assert status == 200 and b'"share_with_prosecutors": true' in body.replace(b'":true', b'": true')

    # An interview of them about the case's incident.
    page.goto(f"/app/cases/{world.case_id}")
    page.get_by_role("link", name="New interview").click()
    page.wait_for_url(f"**/app/cases/{world.case_id}/interviews/new")
    checked_page(page, database, "interviewer-new-interview")
    page.get_by_label("Witness").select_option(label="W-0002")
    page.get_by_label("INC-1: Execution at the quarry").check()
    page.get_by_label("Conducted at (UTC)").fill("2026-03-11T09:30")
    page.get_by_role("textbox", name="Language").fill("uk")
    page.get_by_label("Place").fill("Kharkiv field office")
    page.get_by_role("button", name="Create interview").click()
    page.wait_for_url(re.compile(r"/app/interviews/\d+$"))
    interview_id = int(page.url.rsplit("/", 1)[1])

    # The statement, a UTF-8 file, and its signed receipt.
    statement = tmp_path / "W-0002_statement_uk.txt"
    statement.write_text(STATEMENT, encoding="utf-8")
    page.get_by_role("link", name="Upload statement").click()  # the interview page's action
    page.wait_for_url(f"**/app/interviews/{interview_id}/statement")
    checked_page(page, database, "interviewer-statement")
    page.get_by_label("Statement file (UTF-8 text)").set_input_files(str(statement))
    page.get_by_role("button", name="Upload statement").click()
    page.get_by_role("heading", name="Statement received").wait_for()
    assert page.locator('[data-field="sha256"]').inner_text() == hashlib.sha256(STATEMENT.encode()).hexdigest()
    assert page.locator('[data-field="version"]').inner_text() == "1"
    assert re.fullmatch(r"[0-9a-f]{64}", page.locator('[data-field="leaf_hash"]').inner_text())
    checked_page(page, database, "interviewer-statement-receipt")

    # An exhibit through Uppy: started, paused after its first chunk, the page reloaded, resumed.
    recording = tmp_path / "W-0002_scene.bin"
    recording.write_bytes(os.urandom(3 * MiB + 123_457))
    digest = hashlib.sha256(recording.read_bytes()).hexdigest()
    page.get_by_role("link", name="Upload exhibits").click()  # from the receipt
    page.wait_for_url(f"**/app/interviews/{interview_id}/exhibits/upload")
    page.locator(".uppy-Dashboard").wait_for()
    checked_page(page, database, "interviewer-exhibit-upload")

    created: list[str] = []
    held: list[Any] = []
    patches: list[int] = []

    def on_response(response: Any) -> None:
        if response.request.method == "POST" and response.url.endswith(f"/interviews/{interview_id}/exhibits/uploads"):
            created.append(response.headers.get("location", ""))

    def hold_after_the_first_chunk(route: Any) -> None:
        if route.request.method == "PATCH":
            patches.append(int(route.request.headers["upload-offset"]))
            if len(patches) > 1:
                held.append(route)  # never answered: the network is "slow"
                return
        route.continue_()

    page.on("response", on_response)
    page.route(UPLOAD_PATH, hold_after_the_first_chunk)
    page.get_by_label("Kind of exhibit").select_option("other")
    page.locator("#exhibit-uploader input[type=file]").first.set_input_files(str(recording))
    page.locator(".uppy-StatusBar-actionBtn--upload").click()
    wait_until(page, lambda: held, "the second PATCH")
    assert patches == [0, MiB]
    sent = re.compile(r"Sent ([1-9][0-9]?)% ")
    wait_until(page, lambda: sent.search(page.locator("#upload-status").inner_text()), "progress past 0%")
    percent = int(sent.search(page.locator("#upload-status").inner_text()).group(1))
    assert 0 < percent < 100, percent
    page.get_by_role("button", name="Pause", exact=True).click()
    wait_until(page, lambda: "is paused" in page.locator("#upload-status").inner_text(), "the pause")
    checked_page(page, database, "interviewer-exhibit-paused")
    for route in held:
        with contextlib.suppress(Exception):  # Uppy aborted the request already
            route.abort()
    [location] = created
    exhibit_id = int(UPLOAD_PATH.search(location).group(1))
    status, headers, _ = served.server.request(
        "HEAD", f"/api/v1/exhibits/{exhibit_id}/upload", token=interviewer.token, headers={"Tus-Resumable": "1.0.0"}
    )
    assert status == 200 and int(headers["upload-offset"]) == MiB

    # Reload: Uppy forgets the file, tus-js-client remembers its upload URL (localStorage).
    page.unroute(UPLOAD_PATH)
    seen: list[tuple[str, str, str | None]] = []
    page.on(
        "response",
        lambda response: (
            seen.append((response.request.method, response.url, response.headers.get("upload-offset")))
            if "/api/v1/" in response.url
            else None
        ),
    )
    page.reload()
    page.locator(".uppy-Dashboard").wait_for()
    page.get_by_label("Kind of exhibit").select_option("other")
    page.locator("#exhibit-uploader input[type=file]").first.set_input_files(str(recording))
    page.locator(".uppy-StatusBar-actionBtn--upload").click()
    page.locator("#exhibit-receipts .exhibit-receipt").wait_for(timeout=60_000)
    origin_path = f"{served.origin}/api/v1/exhibits/{exhibit_id}/upload"
    assert ("HEAD", origin_path, str(MiB)) in seen  # the server's offset, asked for after the reload
    assert not [s for s in seen if s[0] == "POST"]  # no new upload was created
    resumed = [s for s in seen if s[0] == "PATCH"]
    assert resumed and resumed[-1][2] == str(recording.stat().st_size)
    assert page.locator("#exhibit-receipts [data-field=sha256]").inner_text() == digest
    assert page.locator("#exhibit-receipts [data-field=exhibit_id]").inner_text() == str(exhibit_id)
    assert "is stored" in page.locator("#upload-status").inner_text()
    checked_page(page, database, "interviewer-exhibit-complete")

    # The API agrees: complete, the right size, the right bytes.
    status, _, body = served.server.request("GET", f"/api/v1/exhibits/{exhibit_id}", token=interviewer.token)
    assert status == 200 and b'"complete"' in body
    status, headers, _ = served.server.request(
        "HEAD", f"/api/v1/exhibits/{exhibit_id}/content", token=interviewer.token
    )
    assert status == 200
    assert headers["repr-digest"] == f"sha-256=:{base64.b64encode(bytes.fromhex(digest)).decode()}:"

    # Its receipt page, with its place in the log.
    page.get_by_role("link", name="The receipt's page, with its place in the log").click()
    page.wait_for_url(f"**/app/exhibits/{exhibit_id}/receipt")
    assert page.get_by_role("heading", name=f"Receipt of exhibit {exhibit_id}").is_visible()
    checked_page(page, database, "interviewer-exhibit-receipt")


def test_the_interviewer_pages_in_ukrainian(open_page, served):
    world = served.world
    page = open_page(locale="uk-UA")
    sign_in_uk(page)
    page.goto(f"/app/cases/{world.case_id}/witnesses/new")
    assert page.get_by_role("heading", name="Новий свідок").is_visible()
    checked_page(page, served.database, "interviewer-new-witness-uk")
    page.goto(f"/app/interviews/{world.interview_id}/exhibits/upload")
    page.locator(".uppy-Dashboard").wait_for()
    assert page.get_by_label("Вид доказу").is_visible()
    checked_page(page, served.database, "interviewer-exhibit-upload-uk")


def sign_in_uk(page: Any) -> None:
    page.goto("/app/login")
    page.get_by_label("Ім’я користувача").fill("interviewer")
    page.get_by_label("Пароль", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Увійти").click()
    page.wait_for_url("**/app/")
