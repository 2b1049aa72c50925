"""An auditor's day in a real browser, on both databases, with two real witnesses cosigning: the
custody timeline and its filters, who read a witness, what a user did, the checkpoint with its
cosignatures, and an inclusion proof verified by the browser itself, which must fail, and say
which check failed, when the event or the proof is altered on its way."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from casework_verify import leaf
from tests.browser import assert_accessible, assert_clean, sign_in, snapshot, watched_context
from tests.conftest import PASSWORD, World, make_app, ok
from tests.helpers import publish
from tests.pg_server import gunicorn
from tests.tlog_witnesses import WitnessProcess, running_witnesses

WITNESSES = ["witness1.partner.example/w", "witness2.partner.example/w"]


def _dispose(app: Flask) -> None:
    from casework.db import db

    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def witnessed(
    app: Flask, backend: dict[str, str], keyring_path: str, world: World, tmp_path: Path
) -> Iterator[tuple[str, list[WitnessProcess]]]:
    """Two witnesses that know the log, a publisher that asks them to cosign (the operator's
    cadence), and the app under gunicorn configured with the same witnesses, on the test's database."""
    with running_witnesses(tmp_path / "witnesses", WITNESSES) as witnesses:
        config = tmp_path / "witnesses.json"
        config.write_text(json.dumps([{"name": w.name, "vkey": w.vkey, "url": w.url} for w in witnesses]))
        vkey = world.people["auditor"].get("/api/v1/custody/public-key").get_data(as_text=True).strip()
        for witness in witnesses:
            witness.add_log(app.config["CASEWORK_LOG_ORIGIN"], vkey)
        publisher = make_app(
            backend,
            keyring_path,
            CASEWORK_SIGNER_STATE=app.config["CASEWORK_SIGNER_STATE"],
            CASEWORK_WITNESSES=str(config),
            CASEWORK_WITNESS_QUORUM=2,
        )
        try:
            publish(publisher)
        finally:
            _dispose(publisher)
        env = {
            "CASEWORK_BLOB_DIR": str(tmp_path / "blobs"),
            "CASEWORK_SIGNER_STATE": app.config["CASEWORK_SIGNER_STATE"],
            "CASEWORK_WITNESSES": str(config),
            "CASEWORK_WITNESS_QUORUM": "2",
        }
        with gunicorn(backend["url"], app.config["CASEWORK_KEYRING"], workers=2, extra_env=env) as server:
            yield f"http://127.0.0.1:{server.port}", witnesses


@pytest.fixture
def auditor_page(browser: Any, witnessed: tuple[str, list[WitnessProcess]]) -> Iterator[Any]:
    """A fresh watched page on that server: no policy violation, other origin or script error."""
    context, watch = watched_context(browser, witnessed[0])
    page = context.new_page()
    try:
        yield page
        assert_clean(page, watch)
    finally:
        context.close()


def _seed(world: World) -> None:
    """Three reads of the witness's interview, and an outsider's refused attempt."""
    for reader in ("legal", "interviewer2", "legal"):
        ok(world.people[reader].get(f"/api/v1/interviews/{world.interview_id}"))
    world.people["outsider"].get(f"/api/v1/interviews/{world.interview_id}")


@pytest.fixture
def seeded(world: World) -> World:
    _seed(world)
    return world


def _summary(page: Any) -> Any:
    summary = page.locator("[data-summary][data-outcome]")
    summary.wait_for(timeout=15000)
    return summary


def test_an_auditor_follows_the_custody_log_and_verifies_an_event(seeded: World, backend, auditor_page, witnessed):
    world, page, database = seeded, auditor_page, backend["name"]
    sign_in(page, "auditor", PASSWORD)

    # The timeline, then narrowed in place (htmx) to refused interview reads.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Custody log").click()
    page.wait_for_url("**/app/custody")
    assert page.get_by_role("heading", name="Custody log", level=1).is_visible()
    assert_accessible(page, "auditor-timeline")
    snapshot(page, database, "auditor-timeline")
    page.get_by_label("Action").fill("interview.read")
    page.get_by_label("Outcome").select_option("denied")
    page.get_by_role("button", name="Apply filters").click()
    page.wait_for_url("**/app/custody?*outcome=denied*")
    table = page.locator("#results table")
    table.locator("tbody tr").first.wait_for()
    assert table.locator("tbody tr").count() == 1
    assert "outsider" in table.inner_text() and "refused" in table.inner_text()
    assert_accessible(page, "auditor-timeline-filtered")
    snapshot(page, database, "auditor-timeline-filtered")
    # A filter the API refuses: its reasons in place of the results, the form kept.
    page.get_by_label("From (inclusive)").fill("yesterday")
    page.get_by_role("button", name="Apply filters").click()
    page.locator("#results [role=alert]").wait_for()
    assert "since" in page.locator("#results [role=alert]").inner_text()
    assert page.get_by_label("Action").input_value() == "interview.read"
    page.get_by_label("From (inclusive)").fill("")
    page.get_by_role("button", name="Apply filters").click()
    table.locator("tbody tr").first.wait_for()

    # Who read the witness: from the row's witness link.
    table.get_by_role("link", name=f"witness {world.witness_id}").click()
    page.wait_for_url(f"**/app/custody/witnesses/{world.witness_id}")
    assert page.get_by_role("heading", name=f"Who accessed witness {world.witness_id}").is_visible()
    page.get_by_label("Action").fill("interview.read")
    page.get_by_role("button", name="Apply filters").click()
    page.wait_for_url("**action=interview.read*")
    page.locator("#results tbody tr").nth(3).wait_for()
    readers = page.locator("#results tbody tr td:nth-child(3) a").all_inner_texts()
    assert readers == ["legal", "interviewer2", "legal", "outsider"]
    assert_accessible(page, "auditor-witness-reads")
    snapshot(page, database, "auditor-witness-reads")

    # Everything the outsider did.
    page.locator("#results").get_by_role("link", name="outsider").click()
    page.wait_for_url(f"**/app/custody/users/{world.people['outsider'].id}")
    assert page.get_by_role("heading", name=f"Everything user {world.people['outsider'].id} did").is_visible()
    assert set(page.locator("#results tbody tr td:nth-child(3) a").all_inner_texts()) == {"outsider"}
    refused_seq = page.locator("#results tbody tr", has_text="refused").locator("th").inner_text()
    assert_accessible(page, "auditor-user-activity")
    snapshot(page, database, "auditor-user-activity")

    # The checkpoint, signed by the log and cosigned by both witnesses.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Checkpoint").click()
    page.wait_for_url("**/app/custody/checkpoint")
    cosignatures = page.locator("table.cosignatures")
    for name in WITNESSES:
        row = cosignatures.locator("tbody tr", has_text=name)
        assert "verified" in row.inner_text()
    size = int(page.locator("[data-tree-size]").inner_text().split()[0])
    assert_accessible(page, "auditor-checkpoint")
    snapshot(page, database, "auditor-checkpoint")

    # The outsider's refused read, verified in the browser from the row's link.
    page.goto(f"/app/custody/users/{world.people['outsider'].id}")
    page.locator("#results tbody tr", has_text="refused").get_by_role("link", name="Verify").click()
    page.wait_for_url(f"**/app/custody/verify?seq={refused_seq}")
    summary = _summary(page)
    assert summary.get_attribute("data-outcome") == "verified", summary.inner_text()
    words = summary.inner_text()
    assert (
        f"Verified: event {refused_seq} is in the log. It is leaf {refused_seq} (counting from 0) "
        f"of the tree of {size} events" in words
    ), words
    assert "signed by the log's key casework.local/custody+" in words
    assert "Witnesses that cosigned this checkpoint, each signature checked: 2." in words
    checks = page.locator("[data-checks] li")
    assert checks.count() == 5 and set(checks.evaluate_all("items => items.map(i => i.dataset.check)")) == {"passed"}
    assert "recomputed in the browser from the event (leaf form v2" in checks.nth(2).inner_text()
    assert_accessible(page, "auditor-verify")
    snapshot(page, database, "auditor-verify")

    # The event altered on its way to the browser: the recomputed leaf gives it away.
    def altered_event(route: Any) -> None:
        event = route.fetch().json()
        event["actor_username"] = "legal"
        route.fulfill(json=event)

    page.route("**/api/v1/custody/events/*", altered_event)
    page.reload()
    summary = _summary(page)
    assert summary.get_attribute("data-outcome") == "failed"
    assert summary.inner_text().startswith("Verification failed.")
    assert "differs from the leaf hash the log holds" in summary.inner_text()
    assert page.locator("[data-checks] li[data-check=failed]").count() == 1
    assert_accessible(page, "auditor-verify-tampered-event")
    snapshot(page, database, "auditor-verify-tampered-event")
    page.unroute("**/api/v1/custody/events/*")

    # The event altered and its claimed leaf hash made to match: the proof no longer reaches the signed root.
    def altered_event_and_claim(route: Any) -> None:
        event = route.fetch().json()
        event["actor_username"] = "legal"
        event["leaf_hash"] = leaf.leaf_hash({k: v for k, v in event.items() if k != "leaf_hash"}).hex()
        route.fulfill(json=event)

    page.route("**/api/v1/custody/events/*", altered_event_and_claim)
    page.reload()
    summary = _summary(page)
    assert summary.get_attribute("data-outcome") == "failed"
    assert "The inclusion proof does not lead from the event's leaf to the signed root" in summary.inner_text()
    assert page.locator("[data-checks] li[data-check=passed]", has_text="equals the leaf hash").count() == 1
    page.unroute("**/api/v1/custody/events/*")

    # The inclusion proof altered: it no longer leads to the signed root.
    def altered_proof(route: Any) -> None:
        proof = route.fetch().json()
        proof["proof"][0] = ("0" if proof["proof"][0][0] != "0" else "1") + proof["proof"][0][1:]
        route.fulfill(json=proof)

    page.route("**/api/v1/custody/proofs/inclusion*", altered_proof)
    page.reload()
    summary = _summary(page)
    assert summary.get_attribute("data-outcome") == "failed"
    assert "The inclusion proof does not lead from the event's leaf to the signed root" in summary.inner_text()
    snapshot(page, database, "auditor-verify-tampered-proof")
    page.unroute("**/api/v1/custody/proofs/inclusion*")

    # An event logged after the checkpoint (this very journey's reads): not yet covered, and said so.
    page.goto("/app/custody/verify")
    page.get_by_label("Event sequence number").fill(str(size))
    page.get_by_role("button", name="Verify").click()
    summary = _summary(page)
    assert summary.get_attribute("data-outcome") == "failed"
    assert f"Event {size} is not yet covered by the latest signed checkpoint ({size} events)" in summary.inner_text()

    # In Ukrainian, the same verdict in words.
    page.goto(f"/app/custody/verify?seq={refused_seq}&lang=uk")
    summary = _summary(page)
    assert summary.get_attribute("data-outcome") == "verified"
    assert summary.inner_text().startswith("Перевірено"), summary.inner_text()
    assert_accessible(page, "auditor-verify-uk")
    snapshot(page, database, "auditor-verify-uk")
