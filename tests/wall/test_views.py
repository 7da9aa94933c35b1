"""The Wall's pages and data endpoints: what each shows, who may open them, bad input."""

import re
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from approvals import services as approvals
from approvals.models import Account
from approvals.services import CHECKLIST
from listening import services as listening
from listening.models import Mention
from tests.listening import factories as f
from triage import services as triage
from wall import services
from wall.models import NotificationPreference, Topic
from warroom import roles
from warroom.models import AuditEntry

pytestmark = pytest.mark.django_db(transaction=True)
HOSTILE = '<script>window.pwned=1</script>'


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_wall_shows_pause_alerts_breaches_and_legal_at_a_glance(make_user):
    lead, maya = make_user(roles.LEAD, "leo"), make_user(roles.COMMUNITY_MANAGER, "maya")
    page = client_for(maya)
    html = page.get(reverse("wall")).content.decode()
    assert "Queue running" in html and 'id="volume-chart"' in html and "Nobody is waiting" in html

    listening.rule_create(user=lead, name="Angry", kind="keyword", query="refund", priority="P1", open_case=True)
    listening.mention_ingest_batch(source_id=f.source().id, fetched=[f.fetched(f"I want a refund {HOSTILE}")])
    account = Account.objects.create(name="Crunchwave", handle="Crunchwave")
    post = approvals.post_create(author=maya, account_id=account.id, text="Lights out? We still crunch.")
    approvals.post_submit(post_id=post.id, user=maya, checklist={q: True for q in CHECKLIST})
    approvals.queue_pause(user=lead, reason=f"Blackout {HOSTILE}")

    html = page.get(reverse("wall_panels"), HTTP_HX_REQUEST="true").content.decode()
    assert 'class="tile pause-tile paused"' in html and "PAUSED" in html
    assert "&lt;script&gt;" in html and HOSTILE not in html
    assert "Angry" in html
    assert "Lights out? We still crunch." in html  # waiting for legal
    assert "Oldest waiting: <strong>P1</strong>" in html


def test_the_wall_loads_its_vendored_chart_library_and_no_other_page_does(make_user):
    page = client_for(make_user(roles.LEAD))
    html = page.get(reverse("wall")).content.decode()
    assert "/static/vendor/uplot-1.6.32.iife.min.js" in html and "/static/vendor/uplot-1.6.32.min.css" in html
    assert not re.search(r'(src|href)="(https?:)?//', html)  # nothing from a CDN
    assert "uplot" not in page.get(reverse("room")).content.decode()
    vendor = Path(__file__).resolve().parents[2] / "static" / "vendor"
    assert "(v1.6.32)" in (vendor / "uplot-1.6.32.iife.min.js").read_text()[:200]
    assert "MIT License" in (vendor / "uplot-1.6.32.LICENSE").read_text()


def test_chart_data_is_json_shaped_for_the_charts(make_user):
    listening.mention_ingest_batch(source_id=f.source().id, fetched=[f.fetched("great"), f.fetched("awful")])
    page = client_for(make_user(roles.LEGAL))
    volume = page.get(reverse("wall_volume"), {"minutes": "100000"}).json()
    assert len(volume["total"]) == 24 * 60 and sum(volume["total"][-2:]) == 2  # a minute may turn meanwhile
    assert len(page.get(reverse("wall_volume"), {"minutes": "x"}).json()["total"]) == 60
    sentiment = page.get(reverse("wall_sentiment")).json()
    assert sentiment["overall"] == {"positive": 1, "neutral": 0, "negative": 1}


def test_the_lead_tracks_a_story_and_sees_its_arc(make_user):
    lead = make_user(roles.LEAD, "leo")
    source = f.source()
    now = timezone.now()
    listening.mention_ingest_batch(source_id=source.id, fetched=[
        f.fetched("The blackout was awful", posted_at=now - timezone.timedelta(days=2)),
        f.fetched("lights out and I love it", posted_at=now - timezone.timedelta(days=2)),
        f.fetched("blackout again, terrible", posted_at=now),
        f.fetched("nice halftime show", posted_at=now),
        f.fetched("blackout from last month", posted_at=now - timezone.timedelta(days=40)),
    ])
    page = client_for(lead)
    response = page.post(reverse("topics"), {"name": "Stadium blackout", "query": 'blackout OR "lights out"', "days_back": "7"})
    topic = Topic.objects.get()
    assert response.status_code == 302 and response["Location"].endswith(f"?topic={topic.id}")
    assert services.topic_refresh(topic_id=topic.id) == 3
    assert services.topic_refresh(topic_id=topic.id) == 0  # counted once
    arc = page.get(reverse("topic_arc"), {"topic": topic.id}).json()
    assert len(arc["days"]) == 7 and arc["sum"] == 3
    assert [d["total"] for d in arc["days"]][-3:] == [2, 0, 1]
    assert arc["days"][-1]["negative"] == 1 and arc["days"][-1]["sentiment"] < 0
    html = page.get(reverse("topics"), {"topic": topic.id}).content.decode()
    assert "Stadium blackout" in html and 'id="arc-chart"' in html
    assert AuditEntry.objects.filter(action="topic.create").count() == 1
    # New mentions are added on the next refresh.
    listening.mention_ingest_batch(source_id=source.id, fetched=[f.fetched("blackout is over")])
    assert services.topic_refresh(topic_id=topic.id) == 1


def test_a_bad_query_is_named_and_nothing_is_stored(make_user):
    page = client_for(make_user(roles.LEAD))
    response = page.post(reverse("topics"), {"name": "Broken", "query": "blackout AND (", "days_back": "7"})
    assert response.status_code == 400
    assert 'class="error"' in response.content.decode()
    assert not Topic.objects.exists()


def test_story_arcs_are_for_the_lead(make_user):
    page = client_for(make_user(roles.COMMUNITY_MANAGER))
    assert page.get(reverse("topics")).status_code == 403
    assert page.post(reverse("topics"), {"name": "x", "query": "x"}).status_code == 403
    assert page.get(reverse("topic_arc")).status_code == 403
    assert not Topic.objects.exists()


def test_each_person_sets_their_own_notifications(make_user):
    ana = make_user(roles.LEGAL, "ana", email="ana@example.com")
    page = client_for(ana)
    assert "On call" in page.get(reverse("notification_settings")).content.decode()
    response = page.post(reverse("notification_settings"), {"on_deck": "on", "email": "on", "pauses": "on"})
    assert response.status_code == 200 and "Saved." in response.content.decode()
    pref = NotificationPreference.objects.get(user=ana)
    assert pref.on_deck and pref.pauses and not pref.breaches and not pref.escalations
    assert "Ana" in page.get(reverse("notification_settings")).content.decode().split('id="on-deck"')[1]
    nomail = client_for(make_user(roles.LEGAL, "nomail"))
    response = nomail.post(reverse("notification_settings"), {"on_deck": "on", "email": "on"})
    assert response.status_code == 400 and "e-mail address" in response.content.decode()


def test_legal_sees_legal_cases_and_no_alert_titles_on_the_wall(make_user):
    lead, maya = make_user(roles.LEAD, "leo"), make_user(roles.COMMUNITY_MANAGER, "maya")
    listening.rule_create(user=lead, name="Refunds", kind="keyword", query="refund", priority="P2", open_case=True)
    listening.mention_ingest_batch(source_id=f.source().id, fetched=[f.fetched("I want a refund now")])
    legal = client_for(make_user(roles.LEGAL, "lena"))
    html = legal.get(reverse("wall_panels")).content.decode()
    assert "Nobody is waiting for a first response." in html and "0 open cases" in html
    assert "Refunds" not in html and 'id="wall-alerts"' in html
    case = triage.case_escalate(case_id=Mention.objects.get().cases.get().id, user=maya, team="legal", note="Claim")
    html = legal.get(reverse("wall_panels")).content.decode()
    assert f"#{case.id}" in html and "1 open case" in html
    assert "Refunds" in client_for(maya).get(reverse("wall_panels")).content.decode()


def test_response_times_are_median_minutes_per_hour(make_user):
    from triage.models import Case

    now = timezone.now()
    hour = now.replace(minute=0, second=0, microsecond=0)
    for minutes, team in ((10, "social"), (20, "social"), (90, "social"), (5, "legal")):
        Case.objects.create(title="c", team=team, opened_at=hour - timezone.timedelta(minutes=minutes),
                            first_responded_at=hour + timezone.timedelta(seconds=1))
    data = client_for(make_user(roles.LEAD)).get(reverse("wall_responses")).json()
    assert len(data["median_minutes"]) == 24 and data["median_minutes"][-1] == 15.0 and data["responses"][-1] == 4
    assert data["median_minutes"][0] is None
    legal = client_for(make_user(roles.LEGAL)).get(reverse("wall_responses")).json()
    assert legal["responses"][-1] == 1 and legal["median_minutes"][-1] == 5.0


def test_the_wall_shows_tonights_event_and_its_lit_scenarios(make_user):
    from datetime import timedelta

    from playbooks import services as playbooks

    producer = make_user(roles.PRODUCER)
    wall = client_for(make_user(roles.COMMUNITY_MANAGER))
    assert 'id="wall-event"' not in wall.get("/wall/panels/").content.decode()  # an ordinary day
    now = timezone.now()
    event = playbooks.event_create(user=producer, name="Emmys <live>", starts_at=now - timedelta(minutes=10),
                                   ends_at=now + timedelta(hours=3))
    wins = playbooks.scenario_create(user=producer, event_id=event.id, name="Our show wins Best Drama")
    playbooks.scenario_create(user=producer, event_id=event.id, name="Power cut")
    panels = wall.get("/wall/panels/").content.decode()
    assert "Emmys &lt;live&gt;" in panels and "No scenario has triggered; 2 ready." in panels
    playbooks.scenario_suggest_manually(user=producer, scenario_id=wins.id)
    panels = wall.get("/wall/panels/").content.decode()
    assert "1 lit" in panels and "Our show wins Best Drama" in panels
