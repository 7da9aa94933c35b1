"""The Queue in real browsers: a manager works cases with the keyboard alone while a second
manager's page follows live (taken rows, the collision badge, closed rows leaving); legal's
browser never receives another team's case; and the README screenshot."""

import re
from datetime import timedelta

import pytest
import redis
from django.conf import settings
from django.utils import timezone
from playwright.sync_api import Page, expect

from approvals.models import Account, Post
from listening import services as listening
from listening.models import Mention
from tests.e2e.support import off_main_thread, signed_in_page, wait_until  # noqa: F401  (a fixture)
from tests.e2e.test_shell import screenshot_dir
from tests.listening import factories as f
from triage import services
from triage.models import Case
from warroom import roles

SELECTED = re.compile(r"\bselected\b")


@pytest.fixture(autouse=True)
def _no_presence_left_over():
    """Case ids start again in each test; who was looking at case 2 last time must not show."""
    def clear():
        client = redis.Redis.from_url(settings.REDIS_URL)
        for key in client.scan_iter(match="*triage:presence:*"):
            client.delete(key)
    clear()
    yield
    clear()


def open_case(text: str, *, priority: str = "P3", team: str = "social", **author) -> Case:
    """A mention heard and its case opened, off Playwright's thread (both publish live events)."""

    def work() -> Case:
        fetched = f.fetched(text, **author)
        listening.mention_ingest_batch(source_id=f.source().id, fetched=[fetched])
        mention = Mention.objects.get(external_id=fetched.external_id)
        return services.case_open_from_mention(mention_id=mention.id, priority=priority, team=team)

    return off_main_thread(work)


def row(page: Page, case: Case):
    return page.locator(f"#case-{case.id}")


def wait_for_order(page: Page, cases: list[Case]) -> None:
    wait_until(
        page, """(ids) => Array.from(document.querySelectorAll("#queue-rows > li.case")).map((li) => li.id).join() === ids""",
        arg=",".join(f"case-{case.id}" for case in cases), timeout=10000,
    )


def never_reloaded(page: Page) -> bool:
    return page.evaluate("performance.getEntriesByType('navigation').length === 1 && window.__sameDocument === 1")


def test_keyboard_only_a_manager_works_three_cases_and_a_second_browser_follows_live(
    transactional_db, room_server, signed_in_page, make_user
):
    maya, noah = make_user(roles.COMMUNITY_MANAGER, "maya"), make_user(roles.COMMUNITY_MANAGER, "noah")
    Account.objects.create(name="Crunchwave", handle="Crunchwave")
    first = open_case("Lights went out during the game and my order vanished", priority="P1", author_handle="ana")
    second = open_case("Half my bag was air", priority="P2", author_handle="sam", author_name="Sam Ortiz")
    third = open_case("Loved the ad!", priority="P3", author_handle="kim")

    a = signed_in_page(room_server, maya, "/queue/")
    b = signed_in_page(room_server, noah, "/queue/")
    b.evaluate("window.__sameDocument = 1")
    expect(b.locator("#queue-rows > li.case")).to_have_count(3)
    expect(a.locator("#queue-rows > li.case")).to_have_count(3)
    expect(row(a, first)).to_have_class(SELECTED)
    expect(a.locator("#queue time.due").first).to_have_text(re.compile(r"^1[45]:\d\d left$"))

    # ? lists the Queue's keys.
    a.keyboard.press("?")
    expect(a.locator("dialog#shortcuts")).to_contain_text("Take the selected case")
    a.keyboard.press("Escape")
    expect(a.locator("dialog#shortcuts")).to_be_hidden()

    # j to the second case, a to take it: B sees Maya's name on the row.
    a.keyboard.press("j")
    expect(row(a, second)).to_have_class(SELECTED)
    a.keyboard.press("a")
    expect(row(a, second).locator(".assignee")).to_have_text("Maya")
    expect(row(b, second).locator(".assignee")).to_have_text("Maya", timeout=10000)

    # r opens the reply form on the case: B sees that Maya is replying.
    a.keyboard.press("r")
    reply = a.locator("#case-detail textarea[name=text]")
    expect(reply).to_be_focused()
    expect(a.locator("#case-detail")).to_contain_text("Half my bag was air")
    expect(b.locator(f"#case-{second.id}-presence")).to_contain_text("Maya replying", timeout=10000)

    # B opens the same reply form and is warned that Maya is already replying.
    b.locator(f"#case-{second.id} a.case-title").click()
    b.locator("#case-detail details.reply-box summary").click()
    expect(b.locator(f"#case-{second.id}-reply-warning")).to_contain_text("Maya is already replying to this case")
    expect(a.locator(f"#case-{second.id}-detail-presence")).to_contain_text("Noah replying", timeout=10000)

    a.keyboard.type("Sorry about that, Sam! DM us your order number.")
    for _ in range(3):  # the three guardrail questions
        a.keyboard.press("Tab")
        a.keyboard.press("Space")
    expect(a.locator("#case-detail .checklist input:checked")).to_have_count(3)
    a.keyboard.press("Tab")  # the override reason
    a.keyboard.press("Tab")  # Send to legal
    a.keyboard.press("Enter")
    expect(a.locator("#case-detail")).to_contain_text("Reply sent to legal")
    assert Post.objects.get().text == "Sorry about that, Sam! DM us your order number."
    expect(b.locator("#case-detail .stale-note")).to_be_visible(timeout=10000)  # B's snapshot is now out of date

    # With legal, the reply has not reached the customer yet: the first-response clock
    # still runs (it stops when the reply is published), so the case keeps its place.
    for page in (a, b):
        wait_for_order(page, [first, second, third])
    expect(row(b, second).locator("time.due")).to_have_attribute("data-due", second.first_response_due.isoformat())

    # Esc leaves the case, j to the third, c then Enter closes it: it leaves B's queue.
    a.keyboard.press("Escape")
    expect(a.locator("#case-detail textarea")).to_have_count(0)
    a.keyboard.press("j")
    expect(row(a, third)).to_have_class(SELECTED)
    a.keyboard.press("c")
    expect(row(a, third).locator(".close-confirm")).to_be_focused()
    a.keyboard.press("Enter")
    expect(row(b, third)).to_have_count(0, timeout=10000)
    expect(row(a, third)).to_have_count(0, timeout=10000)
    expect(row(a, second)).to_have_class(SELECTED)

    # k back to the first, a takes it too.
    a.keyboard.press("k")
    expect(row(a, first)).to_have_class(SELECTED)
    a.keyboard.press("a")
    expect(row(b, first).locator(".assignee")).to_have_text("Maya", timeout=10000)

    assert Case.objects.get(id=third.id).status == Case.Status.RESOLVED
    assert set(Case.objects.filter(assignee=maya).values_list("id", flat=True)) == {first.id, second.id}

    # x picks rows for a bulk change.
    a.keyboard.press("x")
    a.keyboard.press("j")
    a.keyboard.press("x")
    expect(a.locator("#bulk-form .bulk-count")).to_have_text("2 selected")
    a.keyboard.press("x")
    expect(a.locator("#bulk-form .bulk-count")).to_have_text("1 selected")
    assert never_reloaded(b)


def test_wrong_role_cannot_see_or_act_on_another_teams_cases_views_and_sockets(
    transactional_db, room_server, signed_in_page, make_user
):
    maya, lena = make_user(roles.COMMUNITY_MANAGER, "maya"), make_user(roles.LEGAL, "lena")
    legal_page = signed_in_page(room_server, lena, "/queue/")
    manager_page = signed_in_page(room_server, maya, "/queue/")
    legal_page.evaluate("""() => {
        window.__sameDocument = 1;
        window.__frames = [];
        document.body.addEventListener("htmx:wsBeforeMessage", (e) => window.__frames.push(e.detail.message));
    }""")

    social = open_case("Where is my order? <b>now</b>", author_handle="sam")
    expect(row(manager_page, social)).to_be_visible(timeout=10000)  # it was pushed, to the manager
    escalated = open_case("My lawyer says this is false advertising", author_handle="jo")
    expect(row(manager_page, escalated)).to_be_visible(timeout=10000)
    expect(row(legal_page, escalated)).to_have_count(0)

    # The manager escalates it to legal with a note, from the keyboard: j, e, the team, Tab, the note.
    manager_page.keyboard.press("j")
    expect(row(manager_page, escalated)).to_have_class(SELECTED)
    manager_page.keyboard.press("e")
    expect(manager_page.locator("#case-detail select[name=team]")).to_be_focused()
    expect(manager_page.locator("#case-detail select[name=team]")).to_have_value("legal")
    manager_page.keyboard.press("Tab")
    manager_page.keyboard.type("Mentions a lawyer")
    manager_page.keyboard.press("Tab")
    manager_page.keyboard.press("Enter")
    expect(manager_page.locator("#case-detail")).to_contain_text("Escalated to Legal.")

    # Legal sees the escalation arrive live, and its rail names it (a toast is for a P1)...
    expect(row(legal_page, escalated)).to_be_visible(timeout=10000)
    expect(legal_page.locator("#room-events")).to_contain_text(f"Case #{escalated.id} escalated to Legal")
    # ...but never the social case: its events were not sent to legal's socket at all.
    expect(row(legal_page, social)).to_have_count(0)
    frames = legal_page.evaluate("window.__frames")
    assert any(f"row={escalated.id}" in frame for frame in frames)
    assert not any(f"row={social.id}\"" in frame or f"#{social.id} " in frame for frame in frames)

    # The views refuse legal on the social case too, by URL and by a POST with a valid token.
    assert legal_page.request.get(f"{room_server.url}/queue/?case={social.id}").status == 404
    status = legal_page.evaluate(
        """async (id) => {
            const token = JSON.parse(document.body.getAttribute("hx-headers"))["X-CSRFToken"];
            const data = new FormData();
            data.append("action", "close"); data.append("case", id);
            const response = await fetch("/queue/", {method: "POST", body: data, headers: {"X-CSRFToken": token, "HX-Request": "true"}});
            return response.status;
        }""",
        social.id,
    )
    assert status == 404
    assert Case.objects.get(id=social.id).status == Case.Status.NEW
    # Closing the case legal does own works, and the manager's page follows.
    legal_page.locator(f"#case-{escalated.id}").focus()
    legal_page.keyboard.press("c")
    legal_page.keyboard.press("Enter")
    expect(row(manager_page, escalated)).to_have_count(0, timeout=10000)
    assert Case.objects.get(id=escalated.id).status == Case.Status.RESOLVED
    assert never_reloaded(legal_page)


def test_readme_screenshot_of_the_queue(transactional_db, room_server, signed_in_page, make_user, artifacts):
    maya = make_user(roles.COMMUNITY_MANAGER, "maya", last_name="Reyes")
    noah = make_user(roles.COMMUNITY_MANAGER, "noah", last_name="Kim")
    Account.objects.create(name="Crunchwave", handle="Crunchwave")
    late = open_case("The stadium went dark and so did your app. Three orders, zero deliveries. #SuperBowl",
                     priority="P1", author_handle="dana_eats", author_name="Dana Whitfield", author_followers=48200)
    open_case("Is the halftime promo code still valid? It says expired for me", priority="P2",
              author_handle="mike_r", author_name="Mike R.", author_followers=310)
    allergy = open_case("Your new chips say peanut-free but my son had a reaction. Who do I talk to?", priority="P1",
                        author_handle="worried_mom", author_name="Priya S.", author_followers=1250)
    open_case("Best ad of the night, hands down 🏈🔥", priority="P4", author_handle="fanboy99", author_name="Leo",
              author_followers=87)
    open_case("هل يتوفر العرض في الإمارات؟", priority="P3", author_handle="ahmad", author_name="أحمد", author_followers=940)
    taken = open_case("Charged twice for one order during the game", priority="P2", author_handle="jen_k",
                      author_name="Jen K.", author_followers=2210)
    off_main_thread(lambda: services.case_take(case_id=taken.id, user=noah))
    off_main_thread(lambda: services.case_escalate(case_id=allergy.id, user=noah, team="legal",
                                                   note="Possible allergic reaction; product claim."))

    page = signed_in_page(room_server, maya, "/queue/")
    other = signed_in_page(room_server, noah, "/queue/")
    other.locator(f"#case-{taken.id}").focus()
    other.keyboard.press("r")
    expect(page.locator(f"#case-{taken.id}-presence")).to_contain_text("Noah Kim replying", timeout=10000)

    Case.objects.filter(id=late.id).update(first_response_due=timezone.now() - timedelta(minutes=3))
    off_main_thread(services.sla_check)
    expect(page.locator("#room-events")).to_contain_text("case breached its first-response target", timeout=10000)
    expect(page.locator(f"#case-{late.id}")).to_have_class(re.compile(r"\bbreached\b"))
    expect(page.locator(f"#case-{late.id} time.due")).to_have_text(re.compile(r"overdue$"))

    page.keyboard.press("j")
    page.keyboard.press("r")
    expect(page.locator("#case-detail textarea[name=text]")).to_be_focused()
    page.locator("#case-detail select.canned").select_option(index=1)
    page.screenshot(path=str(screenshot_dir(artifacts) / "queue.png"))
