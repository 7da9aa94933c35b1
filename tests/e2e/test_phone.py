"""The room on a phone (390x844): legal reads the exact post with its media and answers
Yes or No with a reason, the lead pauses and resumes, and the Queue's case view opens,
all without scrolling sideways."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from approvals import services as approvals
from approvals.models import Account, Post, QueueState
from listening import services as listening
from listening.models import Mention
from tests.e2e.support import off_main_thread, signed_in_page  # noqa: F401  (a fixture)
from tests.e2e.test_shell import screenshot_dir
from tests.listening import factories as f
from triage import services as triage
from warroom import roles

PHONE = {"width": 390, "height": 844}
TICKED = {question: True for question in approvals.CHECKLIST}
LIVE = 10000
LONG_MEDIA = "https://cdn.example.com/super-bowl-2026/creative/final-final-v7/glow-in-the-dark-snack-halftime-cut.mp4"


def on_phone(page: Page) -> Page:
    page.set_viewport_size(PHONE)
    page.reload()
    page.wait_for_selector("#connection.dot-live", timeout=15000)
    return page


# What sticks out past the right edge, outermost first (for the failure message).
WIDE = """(limit) => Array.from(document.querySelectorAll("body *")).filter((el) => {
  const box = el.getBoundingClientRect();
  return box.right > limit + 1 && getComputedStyle(el).position !== "fixed" && !el.closest("dialog:not([open])");
}).slice(0, 8).map((el) => el.tagName + "#" + el.id + "." + el.className + " " + Math.round(el.getBoundingClientRect().right))"""


def no_sideways_scroll(page: Page, where: str) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], (f"{where}: the page is {width} px wide on a {PHONE['width']} px phone: "
                                     f"{page.evaluate(WIDE, PHONE['width'])}")


@pytest.fixture
def account(transactional_db):
    return Account.objects.create(name="Brand US", handle="brand_us", time_zone="America/New_York")


def test_legal_reads_the_exact_post_and_says_yes_or_no_on_a_phone(
    transactional_db, room_server, signed_in_page, make_user, account, artifacts
):
    author = make_user(roles.COMMUNITY_MANAGER, "maya")

    def submit(text, media=None, hours=1.0):
        post = approvals.post_create(author=author, account_id=account.id, text=text, media=media,
                                     publish_at=timezone.now() + timedelta(hours=hours))
        return approvals.post_submit(post_id=post.id, user=author, checklist=TICKED)

    first = off_main_thread(lambda: submit("Lights out? Our snacks glow in the dark. #SuperBowlLX #GlowSnackHalftimeChallenge",
                                           media=[LONG_MEDIA]))
    second = off_main_thread(lambda: submit("Power's back. So is our half-time deal: two for one.", hours=2))
    page = on_phone(signed_in_page(room_server, make_user(roles.LEGAL, "lena"), "/approvals/"))
    cards = page.locator("#requests .approval-item")
    expect(cards).to_have_count(2)
    expect(cards.first).to_contain_text(first.text)
    expect(cards.first.locator(".media a")).to_have_attribute("href", LONG_MEDIA)
    no_sideways_scroll(page, "Approvals")
    page.screenshot(path=str(artifacts / "phone-approvals.png"), full_page=True)

    cards.first.get_by_role("button", name="Yes").click()
    expect(page.locator("#requests .approval-item:not(.answered)")).to_have_count(1, timeout=LIVE)
    remaining = page.locator("#requests .approval-item:not(.answered)")
    remaining.locator("input[name=reason]").fill("Not while the stadium is dark")
    remaining.get_by_role("button", name="No").click()
    expect(page.locator("#requests .approval-item:not(.answered)")).to_have_count(0, timeout=LIVE)
    no_sideways_scroll(page, "Approvals after answering")
    assert Post.objects.get(id=first.id).state == Post.State.SCHEDULED
    rejected = Post.objects.get(id=second.id)
    assert rejected.state == Post.State.REJECTED and "stadium is dark" in rejected.last_error


def test_the_lead_pauses_and_resumes_on_a_phone(transactional_db, room_server, signed_in_page, make_user, artifacts):
    page = on_phone(signed_in_page(room_server, make_user(roles.LEAD, "leo", last_name="Lead"), "/"))
    no_sideways_scroll(page, "the room")
    page.get_by_role("button", name="Pause everything").click()
    dialog = page.locator("#pause-dialog")
    expect(dialog).to_be_visible()
    dialog.locator("input[name=reason]").fill("Blackout in the stadium: hold everything until the lights are back on")
    no_sideways_scroll(page, "the pause dialog")
    box = dialog.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    dialog.get_by_role("button", name="Pause the queue").click()
    expect(dialog).to_be_hidden(timeout=LIVE)
    expect(page.locator("#pause-banner")).to_contain_text("Blackout in the stadium", timeout=LIVE)
    assert QueueState.objects.filter(paused=True).exists()
    no_sideways_scroll(page, "the room, paused")
    page.screenshot(path=str(artifacts / "phone-paused.png"))

    page.get_by_role("link", name="Review and resume").click()
    page.wait_for_url(f"{room_server.url}/approvals/queue/")
    no_sideways_scroll(page, "review and resume")
    page.get_by_role("button", name="Resume", exact=True).click()
    expect(page.locator("main")).to_contain_text("The queue is running")
    assert not QueueState.objects.filter(paused=True).exists()
    no_sideways_scroll(page, "resumed")


def test_the_queue_and_a_case_on_a_phone(transactional_db, room_server, signed_in_page, make_user, artifacts):
    def open_cases():
        listening.mention_ingest_batch(source_id=f.source().id, fetched=[
            f.fetched("The stadium went dark and so did your app. Three orders, zero deliveries. "
                      "https://example.com/a/very/long/link/that/does/not/break/easily/at/all/0123456789", author_handle="sam"),
            f.fetched("Where is my refund? Order #123456789012345678901234567890", author_handle="jo"),
        ])
        return [triage.case_open_from_mention(mention_id=m.id, priority="P2") for m in Mention.objects.order_by("id")]

    first, _second = off_main_thread(open_cases)
    page = on_phone(signed_in_page(room_server, make_user(roles.COMMUNITY_MANAGER, "maya"), "/queue/"))
    expect(page.locator(f"#case-{first.id}")).to_be_visible()
    no_sideways_scroll(page, "the Queue")
    page.locator(f"#case-{first.id}-title").click()
    detail = page.locator("#case-detail")
    expect(detail).to_contain_text("Three orders, zero deliveries", timeout=LIVE)
    detail.scroll_into_view_if_needed()
    no_sideways_scroll(page, "the case view")
    page.screenshot(path=str(screenshot_dir(artifacts) / "queue-phone.png"), full_page=False)
