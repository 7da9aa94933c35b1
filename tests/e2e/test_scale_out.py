"""Scale-out: two ASGI server processes on two ports share the channel layer in Redis; an
event committed through one reaches a browser connected to the other, without a reload."""

import pytest
from playwright.sync_api import expect

from tests.conftest import Server, free_port
from tests.e2e.support import signed_in_page  # noqa: F401  (a fixture)
from warroom import roles


@pytest.fixture
def push_only_server(django_db_setup, artifacts):
    """A daphne whose sockets never re-read the event table on their own (the periodic sync
    is an hour away): whatever reaches its browsers came through the channel layer."""
    server = Server(free_port(), artifacts / "daphne-push-only.log", LIVE_SYNC_SECONDS="3600")
    try:
        server.start()
    except Exception:
        server.kill()  # it may be running but unable to answer
        raise
    yield server
    server.stop()


def test_an_announcement_sent_through_one_server_reaches_a_browser_on_another(
    transactional_db, start_server, push_only_server, signed_in_page, make_user
):
    server_a, server_b = start_server(), push_only_server
    assert server_a.port != server_b.port
    lead_page = signed_in_page(server_a, make_user(roles.LEAD, "lead"))
    manager_page = signed_in_page(server_b, make_user(roles.COMMUNITY_MANAGER, "maya"))
    manager_page.evaluate(
        """() => {
          window.__warroomSamePage = true;
          window.__socketCloses = 0;
          document.body.addEventListener("htmx:wsClose", () => { window.__socketCloses += 1; });
        }"""
    )
    # A quiet room: nothing reaches the manager's socket for longer than one blocking read of
    # the channel layer (5 s); the socket must still be open when something finally happens.
    manager_page.wait_for_timeout(6500)
    text = "Scoreboard outage on the east feed: hold every scheduled post"

    lead_page.fill("#announce-text", text)
    lead_page.get_by_role("button", name="Send to the room").click()
    expect(lead_page.locator("#announce-form")).to_contain_text("Sent to everyone in the room.")

    newest = manager_page.locator("#room-events li.event").first
    expect(newest).to_contain_text(text, timeout=10000)
    expect(newest.locator(".actor")).to_have_text("Lead")
    expect(manager_page.locator("#announcements")).to_contain_text(text)
    expect(manager_page.locator("#room-events li.event")).to_have_count(1)
    closes = manager_page.evaluate("window.__socketCloses")
    assert closes == 0, f"the manager's socket closed {closes} time(s); the event came by a catch-up, not a push"
    assert manager_page.evaluate("window.__warroomSamePage === true"), "the manager's page was reloaded"
    assert manager_page.evaluate("performance.getEntriesByType('navigation').length") == 1
    # The sender's own page, on the other server, shows it too.
    expect(lead_page.locator("#room-events li.event").first).to_contain_text(text)
