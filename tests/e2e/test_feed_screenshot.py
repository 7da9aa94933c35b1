"""The Feed on Super Bowl night, from the demo replay's own data, for the README."""

import json
from datetime import timedelta
from pathlib import Path

from django.utils import timezone
from playwright.sync_api import expect

from listening import services
from listening.adapters import FetchedMention
from listening.models import Alert, Source
from tests.e2e.support import off_main_thread
from tests.e2e.test_shell import screenshot_dir
from warroom import roles

DEMO = Path(__file__).resolve().parents[2] / "listening" / "demo" / "superbowl.jsonl"


def test_the_feed_shows_the_night_with_rules_and_alerts(transactional_db, room_server, new_page, make_user, artifacts):
    lead = make_user(roles.LEAD, "leo")
    services.rule_create(user=lead, name="Blackout", kind="keyword", query='blackout OR "lights out"', priority="P2")
    services.rule_create(user=lead, name="Angry customers", kind="sentiment", query="", sentiment_at_most=-0.6)
    source = services.source_create(user=lead, name="Super Bowl night", kind=Source.Kind.DEMO, query_text="speed=10",
                                    poll_interval=5)
    lines = [json.loads(line) for line in DEMO.read_text().splitlines()[1000:1040]]
    now = timezone.now()
    fetched = [
        FetchedMention(external_id=line["id"], text=line["text"], posted_at=now - timedelta(seconds=40 - n),
                       author_handle=line["handle"], author_name=line["name"], author_followers=line["followers"],
                       lang=line.get("lang", ""))
        for n, line in enumerate(lines)
    ]
    off_main_thread(lambda: services.mention_ingest_batch(source_id=source.id, fetched=fetched))
    page = new_page(room_server, make_user(roles.COMMUNITY_MANAGER, "maya"), "/feed/")
    expect(page.locator("#feed-rows li.mention")).to_have_count(40)
    expect(page.locator("#open-alerts")).to_contain_text("Blackout")
    assert Alert.objects.filter(rule__name="Blackout").exists()
    page.screenshot(path=str(screenshot_dir(artifacts) / "feed.png"))
