"""A post on X reaches every open Feed page: beat -> worker -> tweepy -> ingest -> live."""

from playwright.sync_api import expect

from listening import services
from listening.models import Mention, Source
from tests.conftest import celery_beat, celery_worker
from tests.fakes.x_api import x_api  # noqa: F401  (fixture)
from warroom import roles


def test_a_mention_posted_to_x_shows_up_in_two_open_feed_pages(
    transactional_db, room_server, new_page, make_user, x_api, artifacts, tmp_path  # noqa: F811
):
    lead = make_user(roles.LEAD, "leo")
    x_api.add_tweet("warming up before kickoff, crunchwave in hand", author="early_fan")
    source = services.source_create(
        user=lead, name="Brand search", kind=Source.Kind.X_SEARCH, query_text="crunchwave", poll_interval=5
    )
    pages = [
        new_page(room_server, make_user(roles.COMMUNITY_MANAGER, "maya"), "/feed/"),
        new_page(room_server, make_user(roles.PRODUCER, "priya"), "/feed/"),
    ]
    env = {"X_API_BASE_URL": x_api.url, "X_BEARER_TOKEN": "test-token", "LISTENING_POLL_EVERY_SECONDS": "1"}
    with celery_worker(artifacts, name="feed", **env), celery_beat(artifacts, tmp_path, **env):
        for page in pages:  # the first poll takes what X already has
            expect(page.locator("#feed-rows")).to_contain_text("warming up before kickoff", timeout=30000)

        x_api.add_tweet(
            "The crunchwave ad during the blackout <script>window.pwned=1</script> 🔥",
            author="big_fan", name="Big \u202eFan", followers=2_500_000,
        )
        for page in pages:
            row = page.locator("#feed-rows li.mention").filter(has_text="during the blackout")
            expect(row).to_have_count(1, timeout=30000)
            expect(row).to_contain_text("<script>window.pwned=1</script>")
            expect(row).to_contain_text("2500000 followers")
            expect(row).to_contain_text("@big_fan")
            assert page.evaluate("window.pwned") is None
            assert page.evaluate("performance.getEntriesByType('navigation').length") == 1
    assert Mention.objects.filter(source=source).count() == 2
