"""Helpers shared by the browser tests in this directory."""

from concurrent.futures import ThreadPoolExecutor

import pytest
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore
from django.db import connection
from playwright.sync_api import Page

from warroom import services
from warroom.models import LiveEvent


@pytest.fixture
def signed_in_page(browser):
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
        context = browser.new_context(viewport={"width": 1400, "height": 900})
        contexts.append(context)
        context.add_cookies([{"name": "sessionid", "value": session.session_key, "url": server.url}])
        page = context.new_page()
        page.goto(server.url + path)
        page.wait_for_selector("#connection.dot-live", timeout=15000)
        return page

    yield open_page
    for context in contexts:
        context.close()


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
