"""Helpers shared by the browser tests in this directory."""

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore
from django.db import connection
from playwright.sync_api import BrowserContext, Page

from warroom import services
from warroom.models import LiveEvent


# Reports every Content-Security-Policy violation of the page to the test (see watch_csp).
CSP_LISTENER = """
document.addEventListener("securitypolicyviolation", (event) => {
  window.__warroomCspViolation({
    directive: event.effectiveDirective, blocked: event.blockedURI, sample: event.sample,
    where: event.sourceFile + ":" + event.lineNumber,
  });
});
"""


def watch_csp(context: BrowserContext, found: list) -> BrowserContext:
    """Collect into `found` every CSP violation any page of `context` reports, from the
    page's own securitypolicyviolation events and from Chromium's console."""
    context.expose_binding("__warroomCspViolation", lambda source, v: found.append({"page": source["page"].url, **v}))
    context.add_init_script(CSP_LISTENER)
    context.on("console", lambda message: found.append({"page": message.page.url if message.page else "", "console": message.text})
               if "Content Security Policy" in message.text else None)
    return context


def close_watched(contexts: list[BrowserContext]) -> None:
    """Close the contexts, once every page has delivered what it reported (a round trip each)."""
    for context in contexts:
        for page in context.pages:
            try:
                page.evaluate("0")
            except Exception:  # noqa: BLE001 - a page that crashed or closed has nothing more to say
                pass
        context.close()


@pytest.fixture
def signed_in_page(browser, csp_violations):
    """signed_in_page(server, user, path="/") -> a Page in its own browser context, on `path`,
    with the room's connection live.

    It signs in with a session made here rather than through the login form: the form (and
    its password hashing, twice per user) costs seconds a test, and test_room_live and the
    403 test already go through it."""
    contexts = []

    def open_page(server, user, path: str = "/") -> Page:
        session = SessionStore()
        session[SESSION_KEY] = str(user.pk)
        session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
        session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        session.save()
        context = watch_csp(browser.new_context(viewport={"width": 1400, "height": 900}), csp_violations)
        contexts.append(context)
        context.add_cookies([{"name": "sessionid", "value": session.session_key, "url": server.url}])
        page = context.new_page()
        page.goto(server.url + path)
        page.wait_for_selector("#connection.dot-live", timeout=15000)
        return page

    yield open_page
    close_watched(contexts)


def wait_until(page: Page, expression: str, arg=None, timeout: float = 10000) -> None:
    """page.wait_for_function for pages under the room's CSP: Playwright polls that one
    with eval() inside the page, which script-src 'self' refuses. This evaluates
    `expression` (a function of `arg`, or an expression) over the DevTools protocol, which
    the page's policy does not govern, until it is truthy."""
    deadline = time.monotonic() + timeout / 1000
    while not page.evaluate(expression, arg):
        if time.monotonic() > deadline:
            raise AssertionError(f"still false after {timeout:.0f} ms: {expression}")
        page.wait_for_timeout(50)


def announce_here(author, text: str, level: str = "info") -> int:
    """Post an announcement from the test process; return the id of its live event.

    It runs off the main thread: Playwright's event loop runs there, and the live layer
    sends with async_to_sync. Its database connection is closed when done."""

    def post() -> int:
        try:
            services.announcement_post(author=author, text=text, level=level)
            return LiveEvent.objects.filter(kind="room.announced", payload__summary=text).get().id
        finally:
            connection.close()

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(post).result()


def off_main_thread(work):
    """Run a service call that publishes live events away from Playwright's event loop;
    return its result. Its database connection is closed when done."""

    def run():
        try:
            return work()
        finally:
            connection.close()

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(run).result()
