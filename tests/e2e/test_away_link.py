"""Approve away from the desk, in real browsers: an approver on deck opens the link from
their notice on a phone-sized screen in a browser context of its own, lands on sign-in,
answers Yes on the card legal sees in the room, and a second use of the link is refused."""

import re

import pytest
from playwright.sync_api import expect

from approvals import services
from approvals.models import Account, ApprovalRequest, Post
from tests.conftest import PASSWORD, Server, free_port
from tests.e2e.support import close_watched, off_main_thread, watch_csp
from wall import services as wall
from warroom import presence, roles
from warroom.models import LiveEvent

pytestmark = pytest.mark.django_db(transaction=True)
TICKED = {question: True for question in services.CHECKLIST}
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def away_server(django_db_setup, artifacts):
    server = Server(free_port(), artifacts / "daphne-away.log")
    try:
        server.start()
    except Exception:
        server.kill()
        raise
    yield server
    server.stop()


@pytest.fixture
def phone(browser, csp_violations):
    """phone() -> a Page in a new browser context the size of a phone, signed in as nobody."""
    contexts = []

    def open_phone():
        context = watch_csp(browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True), csp_violations)
        contexts.append(context)
        return context.new_page()

    yield open_phone
    close_watched(contexts)


def sign_in_from_the_link(page, server, url: str, user) -> None:
    page.goto(server.url + url)
    page.wait_for_url(re.compile(r"/login/\?next="))
    page.fill("input[name=username]", user.username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(server.url + url)


def no_horizontal_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")


def test_an_approver_answers_from_the_link_on_a_phone_and_a_second_use_is_refused(away_server, phone, make_user,
                                                                                   mailoutbox, artifacts):
    expiry, who = presence._keys()
    presence._redis().delete(expiry, who)
    ana = make_user(roles.LEGAL, "ana", email="ana@example.com")
    wall.notification_preference_set(user=ana, on_deck=True)
    author = make_user(roles.COMMUNITY_MANAGER, "cam")
    account = Account.objects.create(name="Crunchwave", handle="Crunchwave")

    def submit():
        draft = services.post_create(author=author, account_id=account.id, publish_on_approval=True,
                                     text="Lights out? Our chips still crunch, even in the dark. #SuperBowl")
        return services.post_submit(post_id=draft.id, user=author, checklist=TICKED)

    post = off_main_thread(submit)
    request = post.requests.get(state=ApprovalRequest.State.OPEN)
    event = LiveEvent.objects.filter(kind="approval.requested", payload__request_id=request.id).get()
    assert off_main_thread(lambda: wall.approval_notify(event_id=event.id)) == 1
    url = re.search(r"/approvals/away/[^/\s]+/", mailoutbox[0].body).group(0)

    page = phone()
    sign_in_from_the_link(page, away_server, url, ana)
    card = page.locator(".approval-item")
    expect(card.locator(".post-text")).to_have_text("Lights out? Our chips still crunch, even in the dark. #SuperBowl")
    expect(card.locator(".checklist li")).to_have_count(len(services.CHECKLIST))
    expect(card.locator("button.yes")).to_be_visible()
    expect(card.locator("input[name=reason]")).to_be_visible()
    assert no_horizontal_scroll(page)
    page.screenshot(path=str(artifacts / "away-link-phone.png"), full_page=True)

    card.locator("button.yes").click()
    expect(page.locator("#away-answered")).to_contain_text("Yes sent")
    post.refresh_from_db()
    assert post.state == Post.State.SCHEDULED
    assert post.requests.get(state=ApprovalRequest.State.APPROVED).answered_by == ana

    again = phone()  # the link forwarded, or opened again later: another context, signed in again
    sign_in_from_the_link(again, away_server, url, ana)
    expect(again.locator("#away-refused")).to_contain_text("used already")
    expect(again.locator(".approval-item")).to_have_count(0)
    assert no_horizontal_scroll(again)
    page.goto(away_server.url + url)
    expect(page.locator("#away-refused")).to_contain_text("used already")
