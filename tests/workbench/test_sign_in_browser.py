"""Signing in and out in a real browser, in both shipped languages: accessible, under the page
policy, nothing fetched from another origin."""

from __future__ import annotations

from tests.browser import assert_accessible, sign_in, snapshot
from tests.conftest import PASSWORD


def test_sign_in_fail_then_succeed_and_sign_out(open_page, served):
    page = open_page()
    page.goto("/app/cases/1")
    assert page.get_by_role("heading", name="Sign in").is_visible()
    assert_accessible(page, "login")
    snapshot(page, served.database, "login")
    page.get_by_label("Username").fill("legal")
    page.get_by_label("Password", exact=True).fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    assert page.get_by_role("alert").inner_text().strip() == "Invalid username or password."
    page.get_by_label("Username").fill("legal")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/app/cases/1")  # back where the reader was going
    page.goto("/app/")
    assert page.get_by_role("link", name="Executions of prisoners, sector 4").is_visible()
    assert_accessible(page, "home")
    snapshot(page, served.database, "home")
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/app/login")


def test_the_workbench_in_ukrainian(open_page, served):
    page = open_page(locale="uk-UA")
    page.goto("/app/login")
    assert page.locator("html").get_attribute("lang") == "uk"
    assert page.get_by_role("heading", name="Увійти").is_visible()
    page.get_by_label("Ім’я користувача").fill("legal")
    page.get_by_label("Пароль", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Увійти").click()
    page.wait_for_url("**/app/")
    assert page.get_by_role("heading", name="Ваші справи").is_visible()
    assert_accessible(page, "home-uk")
    snapshot(page, served.database, "home-uk")


def test_a_page_without_access_is_the_not_found_page_and_recorded(open_page, served):
    """The outsider (a lawyer of another case) opens case A: the same page as a case that does not
    exist, and the refusal is in the log for the auditor to see."""
    import json

    world = served.world
    page = open_page()
    sign_in(page, "outsider", PASSWORD)
    for path in (f"/app/cases/{world.case_id}", "/app/cases/999999"):
        response = page.goto(path)
        assert response is not None and response.status == 404
        assert page.get_by_role("heading", name="Not Found").is_visible()
        assert page.get_by_role("alert").inner_text().strip() == "This page does not exist, or you may not see it."
    assert_accessible(page, "not-found")
    snapshot(page, served.database, "not-found")
    status, _, body = served.server.request(
        "GET",
        f"/api/v1/custody/events?action=case.read&outcome=denied&resource_id={world.case_id}",
        token=world.people["auditor"].token,
    )
    assert status == 200
    refusals = json.loads(body)["items"]
    assert [(e["actor_username"], e["resource_type"]) for e in refusals] == [("outsider", "case")]
