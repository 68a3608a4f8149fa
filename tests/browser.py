"""Headless Chromium for the browser tests: Debian's `chromium`, driven by Playwright (never `playwright install`).

`make test` installs Chromium (`make browser`) and sets VIPIE_CHROMIUM, so there a missing browser fails the
test instead of skipping it; a bare `pytest` on a machine without Chromium skips the browser tests.
"""

import os
import shutil

import pytest

# Without these, Chromium tries to reach Google's hosts at start, and this machine's closed network refuses them.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str:
    """The Chromium binary to drive; fails under `make test` when it is missing, skips otherwise."""
    configured = os.environ.get("VIPIE_CHROMIUM")
    found = shutil.which(configured or "chromium")
    if found:
        return found
    if configured:
        pytest.fail(f"VIPIE_CHROMIUM={configured}: no such executable; run `make browser`")
    pytest.skip("Chromium is not installed (`make browser` installs Debian's package)")


@pytest.fixture
def browser_page(tmp_path):
    """A fresh headless Chromium page with its own profile; yields (page, console_errors)."""
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1400, "height": 900})
        page = context.new_page()
        console_errors: list[str] = []
        page.on("console", lambda message: message.type == "error" and console_errors.append(message.text))
        page.on("pageerror", lambda error: console_errors.append(str(error)))
        try:
            yield page, console_errors
        finally:
            context.close()
            browser.close()
