"""The room shell, as each role sees it: who is signed in, the connection dot, the
navigation the role may use, keyboard shortcuts, the 403 page, and untrusted text
rendered as text on every live path. Also takes the README screenshots."""

import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.conftest import ROOT, Server, free_port
from tests.e2e.support import announce_here, signed_in_page  # noqa: F401  (a fixture)
from warroom import roles

LIVE = re.compile(r"\bdot-live\b")

PATHS = {
    "Room": "/", "Feed": "/feed/", "Queue": "/queue/", "Approvals": "/approvals/",
    "Playbooks": "/playbooks/", "Wall": "/wall/", "Audit": "/audit/",
}
# Written out rather than derived from roles.PAGE_ROLES, so that a change there shows up here.
NAVIGATION = {
    roles.COMMUNITY_MANAGER: ["Room", "Feed", "Queue", "Approvals", "Wall"],
    roles.LEGAL: ["Room", "Queue", "Approvals", "Playbooks", "Wall"],
    roles.PRODUCER: ["Room", "Feed", "Queue", "Approvals", "Playbooks", "Wall"],
    roles.LEAD: ["Room", "Feed", "Queue", "Approvals", "Playbooks", "Wall", "Audit"],
    roles.ADMIN: ["Room", "Feed", "Queue", "Approvals", "Playbooks", "Wall", "Audit"],
}
HOSTILE = '<script>window.pwned=1</script><img src=x onerror="window.pwned=2"> {{ 7*7 }} \u202e'
SHOWN = HOSTILE.replace("\u202e", "")  # shown as text, without the bidi override (warroom/text.py)


@pytest.fixture(scope="module")
def shell_server(django_db_setup, artifacts):
    """One daphne for this module's tests: they only read what each test committed."""
    server = Server(free_port(), artifacts / "daphne-shell.log")
    try:
        server.start()
    except Exception:
        server.kill()  # it may be running but unable to answer
        raise
    yield server
    server.stop()


def nav_links(page: Page):
    return page.locator("header nav[aria-label=Main] a")


@pytest.mark.parametrize("role", list(NAVIGATION), ids=roles.slug)
def test_each_role_sees_its_name_role_live_dot_and_only_its_pages(
    role, transactional_db, shell_server, signed_in_page, make_user
):
    user = make_user(role, f"{roles.slug(role).replace('-', '')}user")
    page = signed_in_page(shell_server, user)

    expect(page.locator(".who .user-name")).to_have_text(user.first_name)
    expect(page.locator(".who .role")).to_have_text(role)
    expect(page.locator("#connection")).to_have_class(LIVE)
    expect(page.locator("#connection .dot-label")).to_have_text("live")
    expect(nav_links(page)).to_have_text(NAVIGATION[role])
    expect(page.locator("header nav a[aria-current=page]")).to_have_text("Room")

    # The navigation is not just hiding links: every page it leaves out is refused.
    for label, path in PATHS.items():
        status = page.request.get(shell_server.url + path).status
        expected = 200 if label in NAVIGATION[role] else 403
        assert status == expected, f"{role} opening {path}: {status}, expected {expected}"

    shortcuts = page.locator("dialog#shortcuts")
    expect(shortcuts).to_be_hidden()
    page.keyboard.press("?")
    expect(shortcuts).to_be_visible()
    expect(shortcuts).to_contain_text("Go to Approvals")
    page.keyboard.press("Escape")
    expect(shortcuts).to_be_hidden()

    page.keyboard.press("g")
    page.keyboard.press("a")
    page.wait_for_url(f"{shell_server.url}/approvals/")
    expect(page.locator("main h1")).to_have_text("Approvals")
    expect(page.locator("header nav a[aria-current=page]")).to_have_text("Approvals")
    expect(page.locator("#connection")).to_have_class(LIVE, timeout=10000)


def test_a_page_outside_the_role_shows_403_naming_who_may_open_it(
    transactional_db, shell_server, new_page, make_user
):
    page = new_page(shell_server, make_user(roles.LEGAL, "lena"))  # through the login form
    response = page.goto(f"{shell_server.url}/audit/")
    assert response.status == 403
    expect(page.locator("main h1")).to_have_text("Not for your role")
    expect(page.locator("main")).to_contain_text(re.compile(r"This page is for: (admin, lead|lead, admin)\."))
    expect(page.locator("main")).to_contain_text("You are signed in as lena (legal)")
    expect(page.locator("table")).to_have_count(0)  # no audit entries leak into the 403 page
    page.get_by_role("link", name="Back to the room").click()
    page.wait_for_url(f"{shell_server.url}/")


def test_a_refused_announcement_shows_its_reason_and_keeps_the_text(transactional_db, shell_server, new_page, make_user):
    page = new_page(shell_server, make_user(roles.LEAD, "lena"))
    page.goto(f"{shell_server.url}/")
    form = page.locator("#announce-form")
    form.locator("textarea").fill("   ")  # passes the browser's "required", not the room's check
    form.get_by_role("button", name="Send to the room").click()
    expect(page.locator("#announce-form [role=alert]")).to_contain_text("empty")
    form.locator("textarea").fill("Blackout: hold every scheduled post")
    form.get_by_role("button", name="Send to the room").click()
    expect(page.locator("#announce-form [role=status]")).to_have_text("Sent to everyone in the room.")


def test_hostile_announcement_text_renders_as_text_everywhere(
    transactional_db, shell_server, signed_in_page, make_user
):
    lead_page = signed_in_page(shell_server, make_user(roles.LEAD, "lead"))
    manager_page = signed_in_page(shell_server, make_user(roles.COMMUNITY_MANAGER, "maya"))

    lead_page.fill("#announce-text", HOSTILE)
    lead_page.get_by_role("button", name="Send to the room").click()
    expect(lead_page.locator("#announce-form")).to_contain_text("Sent to everyone in the room.")

    # Live push into a second browser: rail and the announcements list (an announcement
    # that is not urgent asks no decision of anyone: no toast).
    rail_summary = manager_page.locator("#room-events li.event .summary").first
    expect(rail_summary).to_have_count(1, timeout=10000)
    expect(manager_page.locator("#toasts .toast")).to_have_count(0)
    assert rail_summary.text_content() == SHOWN
    assert SHOWN in manager_page.locator("#announcements li").first.text_content()
    for page in (manager_page, lead_page):
        assert page.locator("#room-events img, #toasts img, #announcements img, #main script").count() == 0
        assert page.evaluate("typeof window.pwned") == "undefined"

    # A fresh render of the same page, from the database.
    manager_page.reload()
    expect(manager_page.locator("#connection")).to_have_class(LIVE, timeout=10000)
    assert manager_page.locator("#room-events li.event .summary").first.text_content() == SHOWN
    assert SHOWN in manager_page.locator("#announcements li").first.text_content()
    assert manager_page.locator("#room-events img, #announcements img").count() == 0
    assert manager_page.evaluate("typeof window.pwned") == "undefined"


def screenshot_dir(artifacts: Path) -> Path:
    """The README's screenshots are only replaced on purpose (UPDATE_SCREENSHOTS=1)."""
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        path = ROOT / "docs" / "screenshots"
        path.mkdir(parents=True, exist_ok=True)
        return path
    return artifacts


def test_readme_screenshots_of_the_room_and_the_audit_log(
    transactional_db, shell_server, signed_in_page, make_user, artifacts
):
    lead = make_user(roles.LEAD, "rosa", last_name="Lead")
    announce_here(lead, "Kickoff in 10 minutes: the Super Bowl playbook is loaded.")
    announce_here(lead, "Legal is on call until the final whistle.")
    page = signed_in_page(shell_server, lead)
    page.fill("#announce-text", "Blackout in the stadium: hold every scheduled post.")
    page.get_by_label("Urgent").check()
    page.get_by_role("button", name="Send to the room").click()
    expect(page.locator("#toasts .toast-urgent")).to_contain_text("Blackout in the stadium")
    expect(page.locator("#room-events li.event")).to_have_count(3)

    target = screenshot_dir(artifacts)
    page.screenshot(path=str(artifacts / "room-announcements.png"))  # the README's room.png: test_alarm_grouping

    page.keyboard.press("g")
    page.keyboard.press("l")
    page.wait_for_url(f"{shell_server.url}/audit/")
    expect(page.locator("#audit-results tbody tr")).to_have_count(3)  # the three announcements
    expect(page.locator("#audit-results")).to_contain_text("room.announce")
    page.screenshot(path=str(target / "audit.png"))
    assert (target / "audit.png").stat().st_size > 0
