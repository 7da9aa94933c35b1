"""The results page in a real browser: each post's chart holds exactly the engagement
series stored for it, and a new reading reaches the open page live (its chart is given
the new data, not rebuilt) and the Wall's "what we posted tonight" tile."""

from datetime import timedelta

import pytest
from playwright.sync_api import expect

from approvals import services as approvals
from approvals.models import Account, EngagementSample, Tracked
from playbooks import services as playbooks
from room.flows.engagement import engagement_refresh
from tests.e2e.support import off_main_thread, signed_in_page, wait_until  # noqa: F401  (a fixture)
from tests.fakes.x_api import x_api  # noqa: F401  (a fixture)
from tests.playbooks.test_services import approved_variant, make_event
from warroom import roles

CHART_DATA = """() => {
  const charts = window.__resultsCharts || {};
  const out = {};
  Object.keys(charts).forEach((id) => { out[id] = charts[id].data.map((s) => Array.from(s)); });
  return out;
}"""


@pytest.fixture
def x(x_api, settings):  # noqa: F811
    settings.X_API_BASE_URL = x_api.url
    settings.X_BEARER_TOKEN = "brand-token"
    return x_api


def stored(firing_id_by_tracked: dict[int, int]) -> dict[str, list]:
    series = {}
    for tracked_id, firing_id in firing_id_by_tracked.items():
        samples = list(EngagementSample.objects.filter(tracked_id=tracked_id).order_by("at", "id"))
        series[str(firing_id)] = [[int(s.at.timestamp()) for s in samples], [s.likes for s in samples],
                                  [s.reposts for s in samples], [s.replies for s in samples]]
    return series


def test_the_results_chart_shows_exactly_the_stored_series_and_follows_new_readings(
    transactional_db, room_server, signed_in_page, make_user, x
):
    people = {role: make_user(role) for role in roles.ALL}
    account = Account.objects.create(name="Brand US", handle="brand_us")
    event = make_event(people, account)
    firings = []
    for name, text in (("Blackout", "Lights out? We still deliver."), ("Overtime", "Overtime snacks are on us.")):
        scenario = playbooks.scenario_create(user=people[roles.PRODUCER], event_id=event.id, name=name)
        variant = approved_variant(people, event, scenario, account, text)
        firing = off_main_thread(lambda v=variant: playbooks.variant_fire(user=people[roles.PRODUCER], variant_id=v.id))
        assert off_main_thread(lambda v=variant: approvals.post_publish(post_id=v.post_id)) == "published"
        variant.post.refresh_from_db()
        firings.append((firing, variant.post))
    published = max(post.published_at for _, post in firings)
    for minute, likes in ((1, 4), (2, 11), (3, 19)):
        for number, (_, post) in enumerate(firings):
            x.set_engagement(post.platform_id, likes=likes * (number + 1), reposts=minute, replies=number)
        assert off_main_thread(lambda m=minute: engagement_refresh(now=published + timedelta(minutes=m))) == 2
    by_tracked = {Tracked.objects.get(post=post).id: firing.id for firing, post in firings}

    wall = signed_in_page(room_server, people[roles.COMMUNITY_MANAGER], "/wall/")
    expect(wall.locator("#wall-posted")).to_contain_text("Lights out? We still deliver.")
    page = signed_in_page(room_server, people[roles.LEGAL], f"/playbooks/{event.id}/results/")
    expect(page.locator("#results-best")).to_contain_text("Overtime")
    wait_until(page, "() => Object.keys(window.__resultsCharts || {}).length === 2")
    assert page.evaluate(CHART_DATA) == stored(by_tracked)
    assert page.locator("#results-charts canvas").count() == 2

    _, first = firings[0]
    x.set_engagement(first.platform_id, likes=500, reposts=40, replies=7)
    assert off_main_thread(lambda: engagement_refresh(now=published + timedelta(minutes=4))) == 2
    wait_until(page, "() => Object.values(window.__resultsCharts).some((c) => c.data[1].includes(500))", timeout=20000)
    assert page.evaluate(CHART_DATA) == stored(by_tracked)
    assert page.locator("#results-charts canvas").count() == 2  # the same charts, given new data
    expect(page.locator("#results-best")).to_contain_text("Blackout")
    expect(wall.locator("#wall-posted .likes").first).to_have_text("38")  # Overtime, newest first
    expect(wall.locator("#wall-posted")).to_contain_text("500 likes", timeout=10000)  # the Wall redraws live
