"""The results page of an event and of a drill (every variant fired, trigger to
published, latest engagement, best and worst, CSV and PDF), and the room's own short
links (302 with UTM tags, clicks by people counted, bots, prefetches and HEAD not)."""

import csv
import io
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from approvals import engagement
from approvals import services as approvals
from approvals.models import FollowUp, Post, ShortLink, Tracked
from playbooks import services as playbooks
from room.flows.engagement import engagement_refresh
from tests.fakes.x_api import x_api  # noqa: F401  (fixture)
from tests.playbooks.test_services import account, approved_variant, make_event, people, sandbox, x  # noqa: F401
from warroom import roles

pytestmark = pytest.mark.django_db(transaction=True)


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def night(people, account, x, time_machine):  # noqa: F811
    """An event with two variants fired and published, their engagement read twice."""
    start = timezone.now()
    time_machine.move_to(start, tick=False)
    event = make_event(people, account)
    scenario = playbooks.scenario_create(user=people[roles.PRODUCER], event_id=event.id, name="Blackout")
    other = playbooks.scenario_create(user=people[roles.PRODUCER], event_id=event.id, name="Overtime")
    bold = approved_variant(people, event, scenario, account, "Lights out? We still deliver.")
    calm = approved_variant(people, event, other, account, "Overtime snacks are on us.")
    for variant in (bold, calm):
        playbooks.scenario_suggest_manually(user=people[roles.PRODUCER], scenario_id=variant.scenario_id)
        playbooks.variant_fire(user=people[roles.PRODUCER], variant_id=variant.id)
        assert approvals.post_publish(post_id=variant.post_id) == "published"
    bold.post.refresh_from_db()
    calm.post.refresh_from_db()
    x.set_engagement(bold.post.platform_id, likes=40, reposts=9, replies=3, quotes=1, impressions=5000)
    x.set_engagement(calm.post.platform_id, likes=2)
    time_machine.move_to(start + timedelta(minutes=1), tick=False)
    assert engagement_refresh() == 2
    x.set_engagement(bold.post.platform_id, likes=55, reposts=12, replies=4, quotes=1, impressions=7000)
    time_machine.move_to(start + timedelta(minutes=2), tick=False)
    assert engagement_refresh() == 2
    return event, bold, calm


def test_the_results_page_lists_every_variant_fired_with_its_engagement_best_and_worst(people, account, x,  # noqa: F811
                                                                                    time_machine):
    event, bold, calm = night(people, account, x, time_machine)
    page = signed_in(people[roles.LEGAL]).get(f"/playbooks/{event.id}/results/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Lights out? We still deliver." in html and "Overtime snacks are on us." in html
    results = page.context["results"]
    assert [row.text for row in results.rows] == [bold.post.text, calm.post.text]
    assert results.best.text == bold.post.text and results.worst.text == calm.post.text
    assert results.best.likes == 55 and results.best.impressions == 7000
    assert results.best.series["likes"] == [40, 55]  # the stored series, in order
    assert all(row.trigger_to_published is not None and row.trigger_to_published >= 0 for row in results.rows)
    assert 'id="results-series"' in html and 'class="best"' in html


def test_the_wall_shows_what_we_posted_tonight_with_its_latest_engagement(people, account, x,  # noqa: F811
                                                                      time_machine):
    night(people, account, x, time_machine)
    panels = signed_in(people[roles.COMMUNITY_MANAGER]).get("/wall/panels/").content.decode()
    tile = panels.split('id="wall-posted"')[1].split("</section>")[0]
    assert "Overtime snacks are on us." in tile and "Lights out? We still deliver." in tile
    assert tile.index("Overtime") < tile.index("Lights out")  # newest first
    assert '<strong class="likes">55</strong>' in tile and '<strong class="likes">2</strong>' in tile


def test_results_export_as_csv_and_pdf_and_refuse_the_wrong_role(people, account, x, time_machine):  # noqa: F811
    event, bold, calm = night(people, account, x, time_machine)
    lead = signed_in(people[roles.LEAD])
    response = lead.get(f"/playbooks/{event.id}/results.csv")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [(row["text"], row["likes"], row["impressions"]) for row in rows] == [
        (bold.post.text, "55", "7000"), (calm.post.text, "2", "0")]
    pdf = lead.get(f"/playbooks/{event.id}/results.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert signed_in(people[roles.COMMUNITY_MANAGER]).get(f"/playbooks/{event.id}/results/").status_code == 403
    assert lead.get(f"/playbooks/{event.id}/results/?drill=987654").status_code == 404


def test_a_drill_has_its_own_results_from_the_sandbox_posts(people, account, sandbox, x, time_machine):  # noqa: F811
    start = timezone.now()
    time_machine.move_to(start, tick=False)
    event = make_event(people, account, starts_in=timedelta(days=3))  # drills rehearse before the night
    scenario = playbooks.scenario_create(user=people[roles.PRODUCER], event_id=event.id, name="Blackout")
    variant = approved_variant(people, event, scenario, account, "Drill: lights out, we deliver.")
    drill = playbooks.drill_start(user=people[roles.PRODUCER], event_id=event.id, sandbox_account_id=sandbox.id)
    firing = playbooks.variant_fire(user=people[roles.PRODUCER], variant_id=variant.id)
    assert playbooks.drill_publish(firing_id=firing.id) == "published"
    firing.refresh_from_db()
    time_machine.move_to(start + timedelta(minutes=1), tick=False)
    assert engagement_refresh() == 1
    tracked = Tracked.objects.get(platform_id=firing.platform_id)
    assert tracked.sandbox and tracked.account == sandbox
    page = signed_in(people[roles.PRODUCER]).get(f"/playbooks/{event.id}/results/?drill={drill.id}")
    assert [row.account for row in page.context["results"].rows] == ["@brand_sandbox"]
    event_page = signed_in(people[roles.PRODUCER]).get(f"/playbooks/{event.id}/results/")
    assert event_page.context["results"].rows == []  # the drill is not the night


# --- own short links -------------------------------------------------------------------------

PERSON = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148"


def test_a_short_link_redirects_with_utm_tags_and_counts_people_not_bots(people, account):  # noqa: F811
    link = engagement.short_link_create(user=people[roles.PRODUCER], account_id=account.id,
                                        url="https://brand.example/snacks?ref=tv&utm_source=old", campaign="Super Bowl")
    assert link.target == ("https://brand.example/snacks?ref=tv&utm_source=x-brand_us&utm_medium=social"
                           "&utm_campaign=Super+Bowl")
    anyone = Client()
    response = anyone.get(f"/l/{link.code}", HTTP_USER_AGENT=PERSON)
    assert response.status_code == 302 and response["Location"] == link.target
    anyone.get(f"/l/{link.code}", HTTP_USER_AGENT=PERSON)
    assert anyone.head(f"/l/{link.code}", HTTP_USER_AGENT=PERSON).status_code == 302
    for agent in ("Twitterbot/1.0", "Slackbot-LinkExpanding 1.0", "facebookexternalhit/1.1", "", "curl/8.4.0"):
        assert anyone.get(f"/l/{link.code}", HTTP_USER_AGENT=agent).status_code == 302
    anyone.get(f"/l/{link.code}", HTTP_USER_AGENT=PERSON, HTTP_SEC_PURPOSE="prefetch")
    link.refresh_from_db()
    assert (link.clicks, link.bot_hits) == (2, 7)
    assert anyone.get("/l/nosuchcode", HTTP_USER_AGENT=PERSON).status_code == 404


def test_wrapping_a_drafts_links_sends_it_to_legal_with_the_short_links(people, account, settings):  # noqa: F811
    settings.PUBLIC_BASE_URL = "https://room.example"
    author = people[roles.PRODUCER]
    post = approvals.post_create(author=author, account_id=account.id, text="Snacks: https://brand.example/s now")
    wrapped = engagement.post_wrap_links(user=author, post_id=post.id, campaign="Super Bowl")
    link = ShortLink.objects.get(post=post)
    assert wrapped.text == f"Snacks: https://room.example/l/{link.code} now"
    Client().get(f"/l/{link.code}", HTTP_USER_AGENT=PERSON)
    assert ShortLink.objects.get(id=link.id).clicks == 1
    with pytest.raises(Exception, match="http"):
        engagement.short_link_create(user=author, account_id=account.id, url="javascript:alert(1)")


def test_a_producer_adds_a_follow_up_to_a_variant_and_it_goes_to_legal(people, account):  # noqa: F811
    event = make_event(people, account)
    scenario = playbooks.scenario_create(user=people[roles.PRODUCER], event_id=event.id, name="Blackout")
    variant = approved_variant(people, event, scenario, account, "Lights out? We still deliver.")
    producer = signed_in(people[roles.PRODUCER])
    form = {"action": "follow_up_add", "variant": variant.id, "text": "Still dark. Still snacking.", "likes": "500",
            "within_minutes": "60", "checklist": ["0", "1", "2"]}
    assert producer.post(f"/playbooks/{event.id}/", form).status_code in (200, 302)
    follow_up = FollowUp.objects.get(post__reply_to_post=variant.post)
    assert (follow_up.likes, follow_up.within_minutes, follow_up.post.state) == (500, 60, Post.State.PENDING)
    assert follow_up.post.fire_only and follow_up.post.text == "Still dark. Still snacking."
    page = producer.get(f"/playbooks/{event.id}/").content.decode()
    assert f'id="follow-up-{follow_up.id}"' in page and "500 likes within 60 min" in page
    legal = signed_in(people[roles.LEGAL])
    approvals_page = legal.get("/approvals/").content.decode()
    assert f"a reply to our post #{variant.post_id}, sent when it passes 500 likes within 60 min" in approvals_page
    refused = legal.post(f"/playbooks/{event.id}/", {**form, "text": "Legal writes nothing"})
    assert refused.status_code == 403 and FollowUp.objects.count() == 1


def test_a_variants_links_become_short_links_tagged_with_the_event(people, account, settings):  # noqa: F811
    settings.PUBLIC_BASE_URL = "https://room.example"
    event = make_event(people, account, name="Super Bowl LXIV")
    scenario = playbooks.scenario_create(user=people[roles.PRODUCER], event_id=event.id, name="Blackout")
    variant = approved_variant(people, event, scenario, account, "Snacks in the dark: https://brand.example/dark")
    producer = signed_in(people[roles.PRODUCER])
    assert "Use our short links" in producer.get(f"/playbooks/{event.id}/").content.decode()
    producer.post(f"/playbooks/{event.id}/", {"action": "wrap_links", "variant": variant.id})
    link = ShortLink.objects.get(post=variant.post)
    post = Post.objects.get(id=variant.post_id)
    assert post.text == f"Snacks in the dark: https://room.example/l/{link.code}"
    assert post.state == Post.State.PENDING  # the edit voided legal's Yes: it goes back
    assert "utm_campaign=Super+Bowl+LXIV" in link.target and "utm_source=x-brand_us" in link.target


def test_the_sources_page_shows_listening_and_engagement_reads_apart(people):  # noqa: F811
    from listening import services as listening

    listening.engagement_reads_record(reads=42)
    page = signed_in(people[roles.LEAD]).get("/feed/sources/").content.decode()
    assert "engagement of our posts <strong>42</strong>" in page
