"""Browser fixtures: Debian's Chromium driven by Playwright against live daphne servers."""

import os

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.conftest import PASSWORD
from tests.e2e.support import close_watched, watch_csp

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
]


def pytest_collection_modifyitems(items):
    for item in items:
        if "/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def browser() -> Browser:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def csp_violations():
    """Every Content-Security-Policy violation the pages of this test report: the pages run
    under the room's real policy, and a test whose page broke it fails at teardown."""
    found: list[dict] = []
    yield found
    assert found == [], f"the page reported Content-Security-Policy violations: {found}"


@pytest.fixture
def new_page(browser, csp_violations):
    """new_page(server, user) -> a Page in its own browser context, signed in as user, on the room."""
    contexts = []

    def open_page(server, user, path: str = "/") -> Page:
        context = watch_csp(browser.new_context(viewport={"width": 1400, "height": 900}), csp_violations)
        contexts.append(context)
        page = context.new_page()
        page.goto(f"{server.url}/login/?next={path}")
        page.fill("input[name=username]", user.username)
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{server.url}{path}")
        page.wait_for_selector("#connection.dot-live", timeout=15000)
        return page

    yield open_page
    close_watched(contexts)
