"""Playbooks in real browsers, with a real Celery worker and the fake X: a producer builds
the Emmys, legal clears two variants from another browser, a post on the fake X lights the
scenario up live, the producer fires with the keyboard and X receives it exactly once; a
fire while paused is refused with the reason; an edited variant goes back to legal; and a
drill only ever reaches the sandbox account."""

import re
import time
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from approvals import services as approvals
from approvals.models import Account, Post
from listening import services as listening
from listening.models import Source
from playbooks.models import Drill, Firing, Scenario, Suggestion, Variant
from tests.conftest import celery_worker
from tests.e2e.support import off_main_thread, signed_in_page  # noqa: F401  (a fixture)
from tests.e2e.test_shell import screenshot_dir
from tests.fakes.x_api import x_api  # noqa: F401  (a fixture)
from warroom import roles

LIVE = 10000  # ms a live change may take to arrive
TEXTS = ["Best Drama. Best night. Congratulations! 🏆", "Drama, but make it award-winning.",
         "Plot twist: we saw it coming."]


@pytest.fixture
def x(x_api, settings):  # noqa: F811
    settings.X_API_BASE_URL = x_api.url
    settings.X_BEARER_TOKEN = "brand-token"
    settings.X_SANDBOX_USER_ACCESS_TOKEN = "sandbox-token"
    return x_api


def worker_env(fake) -> dict:
    return {"X_API_BASE_URL": fake.url, "X_BEARER_TOKEN": "brand-token", "X_SANDBOX_USER_ACCESS_TOKEN": "sandbox-token"}


def local(moment) -> str:
    return timezone.localtime(moment, timezone.get_fixed_timezone(-240)).strftime("%Y-%m-%dT%H:%M")


def build_emmys(page, account) -> None:
    """The producer's clicks: the event, its account, a keyword scenario, three variants sent to legal."""
    page.goto(page.url.split("/playbooks")[0] + "/playbooks/") if "/playbooks/" not in page.url else None
    form = page.locator("#event-create")
    form.locator("input[name=name]").fill("Emmys 2026")
    form.locator("input[name=time_zone]").fill("Etc/GMT+4")
    form.locator("input[name=starts_at]").fill(local(timezone.now() - timedelta(minutes=10)))
    form.locator("input[name=ends_at]").fill(local(timezone.now() + timedelta(hours=3)))
    form.locator("button[type=submit]").click()
    expect(page.locator("h1")).to_have_text("Emmys 2026")
    page.locator("summary", has_text="Edit the event").click()
    update = page.locator("#event-update")
    update.locator(f"input[name=accounts][value='{account.id}']").check()
    update.locator("textarea[name=checklist]").fill("No spoilers before the West Coast")
    update.locator("button[type=submit]").click()
    expect(page.locator(".facts")).to_contain_text("@brand_us")
    page.locator("#scenario-add summary").click()
    scenario_form = page.locator("#scenario-form")
    scenario_form.locator("input[name=name]").fill("Our show wins Best Drama")
    scenario_form.locator("select[name=trigger]").select_option("keywords")
    scenario_form.locator("input[name=keywords]").fill("best drama, #emmyswin")
    scenario_form.locator("button[type=submit]").click()
    card = page.locator("article.scenario", has_text="Our show wins Best Drama")
    for n, text in enumerate(TEXTS):
        card.locator(".add-variant summary").click()
        card.locator(".variant-form textarea[name=text]").fill(text)
        card.locator(".variant-form input[name=label]").fill(f"take {n + 1}")
        card.locator(".variant-form button[type=submit]").click()
        expect(card.locator("li.variant")).to_have_count(n + 1)
    for n in range(3):
        variant = card.locator("li.variant").nth(n)
        for box in variant.locator(".submit-form input[name=checklist]").all():
            box.check()
        variant.locator(".submit-form button[type=submit]").click()
        expect(card.locator("li.variant").nth(n).locator(".badge")).to_have_text("Waiting for approval")


def test_producer_builds_legal_clears_a_trigger_lights_it_up_and_one_fire_reaches_x_once(
    transactional_db, room_server, signed_in_page, make_user, x, artifacts
):
    account = Account.objects.create(name="Brand US", handle="brand_us")
    producer = make_user(roles.PRODUCER, "priya")
    legal = make_user(roles.LEGAL, "lena")
    lead = make_user(roles.LEAD, "leo")
    producer_page = signed_in_page(room_server, producer, "/playbooks/")
    build_emmys(producer_page, account)
    scenario = Scenario.objects.get()
    variants = list(Variant.objects.filter(scenario=scenario).order_by("order"))

    legal_page = signed_in_page(room_server, legal, "/approvals/")
    expect(legal_page).to_have_title("(3) Approvals · Warroom")
    for remaining in (2, 1):
        expect(legal_page.locator("#requests .approval-item:not(.answered)").first).to_have_class(re.compile(r"\bselected\b"))
        legal_page.keyboard.press("y")
        expect(legal_page).to_have_title(f"({remaining}) Approvals · Warroom", timeout=LIVE)
    states = [Post.objects.get(id=v.post_id).state for v in variants]
    assert states == [Post.State.APPROVED, Post.State.APPROVED, Post.State.PENDING]

    producer_page.goto(f"{room_server.url}/playbooks/{scenario.event_id}/live/")
    producer_page.wait_for_selector("#connection.dot-live", timeout=15000)
    card = producer_page.locator(f"#live-scenario-{scenario.id}")
    expect(card).not_to_have_class(re.compile(r"\blit\b"))
    expect(card.locator(".fire-button")).to_have_count(2)  # the pending one cannot fire

    source = Source.objects.create(name="X: Emmys", kind=Source.Kind.X_SEARCH, query="emmys")
    x.add_tweet("And the Emmy for BEST DRAMA goes to... #Emmys", author="tv_fan", followers=900)
    assert off_main_thread(lambda: listening.source_poll(source_id=source.id)) == "ok"
    expect(card).to_have_class(re.compile(r"\blit\b"), timeout=LIVE)
    expect(card.locator(".reason")).to_contain_text("best drama")
    expect(producer_page.locator("#toasts")).to_contain_text("Scenario suggested")

    with celery_worker(artifacts, name="playbooks-fire", **worker_env(x)):
        producer_page.keyboard.press("f")
        dialog = producer_page.locator("#fire-dialog")
        expect(dialog).to_be_visible()
        expect(dialog).to_contain_text(TEXTS[0])
        expect(dialog).to_contain_text("@brand_us")
        producer_page.keyboard.press("Enter")
        deadline = time.monotonic() + 15
        while not x.posts and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(3)  # a second delivery would have arrived by now
        assert [post.text for post in x.posts] == [TEXTS[0]]
        assert x.posts[0].auth.get("token") == "brand-token"
        expect(card).not_to_have_class(re.compile(r"\blit\b"), timeout=LIVE)
        expect(producer_page.locator(f"#live-variant-{variants[0].id} .badge")).to_have_text("Fired", timeout=LIVE)
    assert Suggestion.objects.get().state == Suggestion.State.FIRED
    assert Post.objects.get(id=variants[0].post_id).state == Post.State.PUBLISHED
    producer_page.screenshot(path=str(screenshot_dir(artifacts) / "playbook-cockpit.png"))

    # The lead pauses: a fire is refused with the reason, in place.
    off_main_thread(lambda: approvals.queue_pause(user=lead, reason="Breaking news: stand down"))
    expect(producer_page.locator(".pause-note")).to_contain_text("Breaking news", timeout=LIVE)
    producer_page.locator(f"#live-variant-{variants[1].id} .fire-button").click()
    producer_page.locator("#fire-dialog button.fire").click()
    expect(producer_page.locator("#fire-error")).to_contain_text("paused", timeout=LIVE)
    expect(producer_page.locator("#fire-error")).to_contain_text("Breaking news: stand down")
    assert Firing.objects.count() == 1 and len(x.posts) == 1

    # An edit of a cleared variant goes back to legal, who sees it arrive live.
    producer_page.goto(f"{room_server.url}/playbooks/{scenario.event_id}/")
    edited = producer_page.locator(f"#variant-{variants[1].id}")
    edited.locator("details.edit summary").click()
    edited.locator(".edit-form textarea[name=text]").fill("Drama, but make it award-winning. Again.")
    edited.locator(".edit-form button[type=submit]").click()
    expect(producer_page.locator(f"#variant-{variants[1].id} .badge")).to_have_text("Waiting for approval")
    expect(legal_page).to_have_title("(2) Approvals · Warroom", timeout=LIVE)
    expect(legal_page.locator("#requests .approval-item .badge.edited")).to_have_count(1, timeout=LIVE)


def test_a_drill_fires_to_the_sandbox_and_never_to_a_real_account(
    transactional_db, room_server, signed_in_page, make_user, x, artifacts
):
    account = Account.objects.create(name="Brand US", handle="brand_us")
    sandbox = Account.objects.create(name="Drill sandbox", handle="brand_sandbox", sandbox=True)
    producer = make_user(roles.PRODUCER, "priya")
    legal = make_user(roles.LEGAL, "lena")

    def prepare():
        from playbooks import services

        start = timezone.now() + timedelta(days=7)
        event = services.event_create(user=producer, name="Super Bowl LXI", starts_at=start,
                                      ends_at=start + timedelta(hours=4), account_ids=[account.id])
        scenario = services.scenario_create(user=producer, event_id=event.id, name="Power cut", trigger="keywords",
                                            keywords=["blackout"])
        variant = services.variant_create(user=producer, scenario_id=scenario.id, account_id=account.id,
                                          text="Lights out? Our snacks glow in the dark.")
        services.variant_submit(user=producer, variant_id=variant.id,
                                checklist={q: True for q in approvals.CHECKLIST})
        post = Post.objects.get(id=variant.post_id)
        approvals.post_approve(post_id=post.id, user=legal, content_hash=post.content_hash())
        return event, scenario, variant

    event, scenario, variant = off_main_thread(prepare)
    page = signed_in_page(room_server, producer, f"/playbooks/{event.id}/live/")
    page.locator("#drill-start select[name=sandbox]").select_option(str(sandbox.id))
    page.locator("#drill-start button[type=submit]").click()
    expect(page.locator(".drill-banner")).to_contain_text("@brand_sandbox")
    page.wait_for_selector("#connection.dot-live", timeout=15000)

    source = Source.objects.create(name="Demo replay", kind=Source.Kind.X_SEARCH, query="superbowl")
    x.add_tweet("Total BLACKOUT at the #SuperBowl", author="fan")
    assert off_main_thread(lambda: listening.source_poll(source_id=source.id)) == "ok"
    card = page.locator(f"#live-scenario-{scenario.id}")
    expect(card).to_have_class(re.compile(r"\blit\b"), timeout=LIVE)
    with celery_worker(artifacts, name="playbooks-drill", **worker_env(x)):
        page.keyboard.press("f")
        expect(page.locator("#fire-dialog")).to_contain_text("sandbox @brand_sandbox")
        page.keyboard.press("Enter")
        deadline = time.monotonic() + 15
        while not Firing.objects.filter(published_at__isnull=False).exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(2)
    assert [(post.text, post.auth.get("token")) for post in x.posts] == [(variant.post.text, "sandbox-token")]
    assert not [post for post in x.posts if post.auth.get("token") != "sandbox-token"]
    assert Post.objects.get(id=variant.post_id).state == Post.State.APPROVED  # still ready for the real night
    drill = Drill.objects.get()
    page.goto(f"{room_server.url}/playbooks/drills/{drill.id}/")
    expect(page.locator("#drill-timings")).to_contain_text("Power cut")
    expect(page.locator("#median")).to_be_visible()
