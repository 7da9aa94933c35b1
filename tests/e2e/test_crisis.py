"""Crisis mode in browsers: a crisis mention posted to the fake X is polled (beat ->
worker -> tweepy -> ingest), the tragedy rule declares the crisis, and two open browsers
show the crisis banner live; the lead fires the holding statement from the banner while a
scheduled post stays held; the stand-down asks what to release and releases only that."""

from datetime import timedelta

from django.utils import timezone
from playwright.sync_api import expect

from approvals import services as approvals
from approvals.models import Account, Post, PublishAttempt
from approvals.services import CHECKLIST
from listening import services as listening
from listening.models import Source
from room.models import Crisis
from tests.conftest import celery_beat, celery_worker
from tests.e2e.support import off_main_thread, signed_in_page  # noqa: F401  (a fixture)
from tests.fakes.x_api import x_api  # noqa: F401  (fixture)
from warroom import roles

TICKED = {question: True for question in CHECKLIST}


def cleared(author, legal, account, text, **fields) -> Post:
    post = approvals.post_create(author=author, account_id=account.id, text=text, **fields)
    approvals.post_submit(post_id=post.id, user=author, checklist=TICKED)
    post.refresh_from_db()
    return approvals.post_approve(post_id=post.id, user=legal, content_hash=post.content_hash())


def test_a_crisis_on_x_declares_the_crisis_in_every_browser_and_the_holding_statement_fires_alone(
    transactional_db, room_server, signed_in_page, make_user, x_api, artifacts, tmp_path  # noqa: F811
):
    lead, legal = make_user(roles.LEAD, "leo"), make_user(roles.LEGAL, "lena")
    account = Account.objects.create(name="Crunchwave", handle="Crunchwave")
    scheduled = cleared(lead, legal, account, "Touchdown! Grab a bag")
    approvals.post_schedule(post_id=scheduled.id, user=lead, publish_at=timezone.now() + timedelta(minutes=5))
    holding = cleared(lead, legal, account, "We are aware of reports near the stadium and have paused our posts.",
                      holding=True)
    listening.rule_create(user=lead, name="Tragedy lexicon", kind="crisis", declare_crisis=True,
                          query='shooting OR "shots fired" OR evacuat* OR "stay away" OR injured')
    listening.source_create(user=lead, name="Brand search", kind=Source.Kind.X_SEARCH, query_text="stadium",
                            poll_interval=5)
    lead_page = signed_in_page(room_server, lead, "/approvals/")
    legal_page = signed_in_page(room_server, legal, "/wall/")
    for page in (lead_page, legal_page):
        expect(page.locator("#crisis-banner")).to_be_hidden()

    env = {"X_API_BASE_URL": x_api.url, "X_BEARER_TOKEN": "test-token", "LISTENING_POLL_EVERY_SECONDS": "1",
           "PUBLISH_EVERY_SECONDS": "1"}
    with celery_worker(artifacts, name="crisis", **env), celery_beat(artifacts, tmp_path, **env):
        x_api.add_tweet("shots fired near the stadium, everyone stay away #SuperBowl", author="scanner")
        for page in (lead_page, legal_page):
            banner = page.locator("#crisis-banner")
            expect(banner).to_be_visible(timeout=30000)
            expect(banner).to_contain_text("CRISIS: Tragedy lexicon")
        expect(legal_page.locator("#crisis-banner button[data-holding]")).to_have_count(0)  # legal cannot fire
        assert Crisis.objects.get(open=True).paused_queue

        lead_page.locator(f"#crisis-banner button[data-holding='{holding.id}']").click()
        expect(lead_page.locator("#crisis-banner")).to_contain_text("CRISIS", timeout=10000)

        def until(condition, what: str) -> None:
            for _ in range(300):
                if condition():
                    return
                lead_page.wait_for_timeout(100)
            raise AssertionError(f"still not {what}")

        until(lambda: Post.objects.get(id=holding.id).state == Post.State.PUBLISHED, "published")
        assert [p.text for p in x_api.posts] == [holding.text]
        Post.objects.filter(id=scheduled.id).update(publish_at=timezone.now())
        # Beat enqueues nothing while paused; a publish that runs anyway is held by the pause.
        assert off_main_thread(lambda: approvals.post_publish(post_id=scheduled.id)) == "held"
        assert PublishAttempt.objects.filter(post_id=scheduled.id, outcome="held").exists()
        assert Post.objects.get(id=scheduled.id).state == Post.State.SCHEDULED
        assert [p.text for p in x_api.posts] == [holding.text]

        lead_page.goto(f"{room_server.url}/crisis/")
        expect(lead_page.locator("form.stand-down")).to_contain_text(scheduled.text)
        lead_page.get_by_role("button", name="Stand down, release none").click()
        expect(lead_page.locator("#crisis-banner")).to_be_hidden(timeout=10000)
        expect(legal_page.locator("#crisis-banner")).to_be_hidden(timeout=30000)
    crisis = Crisis.objects.get()
    assert not crisis.open and crisis.released == []
    assert Post.objects.get(id=scheduled.id).state == Post.State.APPROVED  # held: waits for a new time
    assert [p.text for p in x_api.posts] == [holding.text]
