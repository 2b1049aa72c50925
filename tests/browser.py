"""A real browser for the tests: Debian's chromium driven by Playwright (never a browser that
Playwright downloads), one per test process, and a fresh context per test.

Each page a test opens is watched: a Content-Security-Policy violation, a request to another
origin or an uncaught script error fails the test at its end. ``assert_accessible`` runs
axe-core (from node_modules, pinned by package-lock.json) in the page and refuses serious or
critical violations; ``snapshot`` keeps a full-page screenshot as a test artefact
(``build/screenshots/<database>/`` or ``$CASEWORK_SCREENSHOTS``).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = Path(os.environ.get("CASEWORK_SCREENSHOTS", ROOT / "build" / "screenshots"))
# axe's impact levels a page may not have.
BLOCKING_IMPACTS = ("serious", "critical")


@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's chromium, installed as SoftHSM2 is (scripts/install-chromium) when missing."""
    if not CHROMIUM.exists():
        installed = subprocess.run(
            ["bash", str(ROOT / "scripts" / "install-chromium")], capture_output=True, text=True, timeout=900
        )
        if installed.returncode != 0 or not CHROMIUM.exists():
            pytest.skip(
                f"{CHROMIUM} is absent and scripts/install-chromium could not install it: "
                f"{installed.stderr.strip()[-500:]}"
            )
    return str(CHROMIUM)


@pytest.fixture(scope="session")
def browser(chromium: str) -> Iterator[Any]:
    """One chromium per test process (the sync API allows one Playwright per thread)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@dataclass
class Watch:
    """What a page did that a test must know about."""

    origin: str
    requested: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)

    def off_origin(self) -> list[str]:
        return [
            url
            for url in self.requested
            if urlsplit(url).scheme not in ("data", "blob") and not url.startswith(f"{self.origin}/")
        ]


_VIOLATIONS = """window.__violations = [];
document.addEventListener("securitypolicyviolation",
    e => window.__violations.push(e.violatedDirective + " " + e.blockedURI));"""


def watched_context(browser: Any, origin: str, *, locale: str = "en-GB", **options: Any) -> tuple[Any, Watch]:
    """A fresh context (no cookies) whose pages report policy violations, other origins and errors."""
    context = browser.new_context(
        base_url=origin, locale=locale, viewport={"width": 1280, "height": 900}, service_workers="block", **options
    )
    context.add_init_script(_VIOLATIONS)
    watch = Watch(origin)
    context.on("request", lambda request: watch.requested.append(request.url))
    context.on("page", lambda page: page.on("pageerror", lambda error: watch.page_errors.append(str(error))))
    return context, watch


def violations(page: Any) -> list[str]:
    return page.evaluate("window.__violations || []")


def assert_clean(page: Any, watch: Watch) -> None:
    """No policy violation on the page, nothing fetched from elsewhere, no script error."""
    assert not violations(page), violations(page)
    assert not watch.off_origin(), watch.off_origin()
    assert not watch.page_errors, watch.page_errors


def assert_accessible(page: Any, name: str) -> None:
    """axe-core finds no serious or critical violation (WCAG 2.x A and AA rules) on the page."""
    page.evaluate(AXE.read_text())
    results = page.evaluate("""() => axe.run(document, {
        runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]},
        resultTypes: ["violations"]})""")
    blocking = [
        (v["id"], v["impact"], [n["target"] for n in v["nodes"]][:5])
        for v in results["violations"]
        if v["impact"] in BLOCKING_IMPACTS
    ]
    assert not blocking, f"{name}: {blocking}"


def snapshot(page: Any, database: str, name: str) -> Path:
    """A full-page screenshot, kept as a test artefact."""
    path = SCREENSHOTS / database / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=True)
    return path


def sign_in(page: Any, username: str, password: str) -> None:
    """Through the login form, as a person does."""
    page.goto("/app/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/app/**")
    assert "/app/login" not in page.url, page.content()[:2000]
