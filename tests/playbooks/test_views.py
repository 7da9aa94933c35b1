"""Playbooks pages: every page renders with real data for each role that may open it,
producers build and fire, legal reads, refusals carry their reason, and untrusted text
is escaped."""

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from approvals import services as approvals
from approvals.models import Account, Post
from listening import services as listening
from playbooks import services
from playbooks.models import Contact, Event, Firing, Moment, Scenario, Suggestion, Variant
from tests.listening import factories as f
from warroom import roles

pytestmark = pytest.mark.django_db(transaction=True)
TICKED = {question: True for question in approvals.CHECKLIST}
HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'


@pytest.fixture
def people(make_user):
    return {role: make_user(role) for role in roles.ALL}


@pytest.fixture
def account(db):
    return Account.objects.create(name="Brand US", handle="brand_us")


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def event(people, account):
    now = timezone.now()
    event = services.event_create(user=people[roles.PRODUCER], name="Emmys 2026", starts_at=now - timedelta(minutes=5),
                                  ends_at=now + timedelta(hours=3), time_zone="America/New_York",
                                  account_ids=[account.id], guardrails={"dont": [HOSTILE]})
    services.contact_add(user=people[roles.PRODUCER], event_id=event.id, name="Priya", role="Producer",
                         phone="+1 212 555 0100")
    scenario = services.scenario_create(user=people[roles.PRODUCER], event_id=event.id, name="Our show wins",
                                        trigger="keywords", keywords=["best drama"])
    variant = services.variant_create(user=people[roles.PRODUCER], scenario_id=scenario.id, account_id=account.id,
                                      text="Congrats! " + HOSTILE[:40])
    services.variant_submit(user=people[roles.PRODUCER], variant_id=variant.id, checklist=TICKED)
    post = Post.objects.get(id=variant.post_id)
    approvals.post_approve(post_id=post.id, user=people[roles.LEGAL], content_hash=post.content_hash())
    services.moment_add(user=people[roles.PRODUCER], event_id=event.id, at=now - timedelta(minutes=1),
                        title="Best Drama", scenario_ids=[scenario.id])
    return event


@pytest.mark.parametrize("role", [roles.PRODUCER, roles.LEGAL, roles.LEAD, roles.ADMIN])
def test_every_page_renders_for_the_roles_that_may_open_it(people, event, role):
    client = client_for(people[role])
    listening.mention_ingest_batch(source_id=f.source().id, fetched=[f.fetched("BEST DRAMA " + HOSTILE)])
    for name, kwargs in [("playbooks", {}), ("playbook_event", {"event_id": event.id}),
                         ("playbook_live", {"event_id": event.id}), ("playbook_report", {"event_id": event.id}),
                         ("playbook_export", {"event_id": event.id})]:
        response = client.get(reverse(name, kwargs=kwargs))
        assert response.status_code == 200, name
        if name == "playbook_export":  # a download, not a page: the text is data
            assert response["Content-Type"].startswith("application/yaml") and "attachment" in response["Content-Disposition"]
            continue
        html = response.content.decode()
        assert "<script>alert" not in html and "onerror=alert(1)>" not in html, name
    live = client.get(reverse("playbook_live", kwargs={"event_id": event.id})).content.decode()
    assert 'class="card scenario-card lit"' in live and 'href="tel:+12125550100"' in live
    assert 'class="moment now"' in live
    assert ("fire-button" in live) == (role != roles.LEGAL)


def test_community_managers_cannot_open_playbooks(people, event):
    client = client_for(people[roles.COMMUNITY_MANAGER])
    assert client.get(reverse("playbook_live", kwargs={"event_id": event.id})).status_code == 403


def test_producer_fires_with_a_confirm_step(people, event):
    client = client_for(people[roles.PRODUCER])
    variant = Variant.objects.get()
    url = reverse("playbook_live", kwargs={"event_id": event.id})
    confirm = client.get(url + f"?confirm={variant.id}").content.decode()
    assert "Fire now" in confirm and 'name="confirm" value="yes"' in confirm
    unconfirmed = client.post(url, {"action": "fire", "variant": variant.id}, HTTP_HX_REQUEST="true")
    assert unconfirmed.status_code == 400 and "Confirm the fire" in unconfirmed.content.decode()
    fired = client.post(url, {"action": "fire", "variant": variant.id, "confirm": "yes"}, HTTP_HX_REQUEST="true")
    assert fired.status_code == 200 and "Fired" in fired.content.decode()
    assert Post.objects.get().state == Post.State.SCHEDULED and Firing.objects.count() == 1
    again = client.post(url, {"action": "fire", "variant": variant.id, "confirm": "yes"}, HTTP_HX_REQUEST="true")
    assert again.status_code == 409 and "Already fired" in again.content.decode()


def test_fire_while_paused_shows_the_pause_reason(people, event):
    approvals.queue_pause(user=people[roles.LEAD], reason="Breaking news <b>stand down</b>")
    client = client_for(people[roles.PRODUCER])
    url = reverse("playbook_live", kwargs={"event_id": event.id})
    response = client.post(url, {"action": "fire", "variant": Variant.objects.get().id, "confirm": "yes"},
                           HTTP_HX_REQUEST="true")
    assert response.status_code == 409
    assert "paused" in response.content.decode() and "Breaking news &lt;b&gt;stand down&lt;/b&gt;" in response.content.decode()
    assert not Firing.objects.exists()


def test_legal_cannot_fire_or_build(people, event):
    client = client_for(people[roles.LEGAL])
    live = reverse("playbook_live", kwargs={"event_id": event.id})
    response = client.post(live, {"action": "fire", "variant": Variant.objects.get().id, "confirm": "yes"})
    assert response.status_code == 403
    response = client.post(reverse("playbook_event", kwargs={"event_id": event.id}),
                           {"action": "contact_add", "name": "Sneaky"})
    assert response.status_code == 403 and Contact.objects.count() == 1


def test_a_variant_picks_a_file_from_the_content_library_with_its_alt_text(people, account, settings, tmp_path):
    from tests.approvals.media_files import image

    settings.MEDIA_ROOT = str(tmp_path)
    producer = people[roles.PRODUCER]
    asset = approvals.media_upload(user=producer, data=image("PNG"), event_tag="Super Bowl", use_tag="blackout")
    event = services.event_create(user=producer, name="Super Bowl LXI", starts_at=timezone.now() + timedelta(days=3),
                                  ends_at=timezone.now() + timedelta(days=3, hours=4), time_zone="UTC",
                                  account_ids=[account.id])
    scenario = services.scenario_create(user=producer, event_id=event.id, name="Power cut")
    client = client_for(producer)
    url = reverse("playbook_event", kwargs={"event_id": event.id})
    assert "Super Bowl · blackout · not cleared" in client.get(url).content.decode()
    refused = client.post(url, {"action": "variant_add", "scenario": scenario.id, "account": account.id,
                                "text": "Lights out?", "library_media": asset.sha256, "library_alt": ""})
    assert refused.status_code == 400 and "alt text is missing" in refused.content.decode()
    assert client.post(url, {"action": "variant_add", "scenario": scenario.id, "account": account.id,
                             "text": "Lights out?", "library_media": asset.sha256,
                             "library_alt": "A glowing bag"}).status_code == 302
    assert Variant.objects.get().post.media == [{"sha256": asset.sha256, "alt": "A glowing bag"}]


def test_producer_builds_an_event_in_the_editor(people, account):
    client = client_for(people[roles.PRODUCER])
    response = client.post(reverse("playbooks"), {"action": "create", "name": "Super Bowl LXI",
                                                  "starts_at": "2027-02-14T18:30", "ends_at": "2027-02-14T22:30",
                                                  "time_zone": "America/New_York"})
    event = Event.objects.get()
    assert response.status_code == 302 and event.starts_at.hour == 23  # 18:30 EST is 23:30 UTC
    url = reverse("playbook_event", kwargs={"event_id": event.id})
    assert client.post(url, {"action": "update", "name": event.name, "time_zone": "America/New_York",
                             "starts_at": "2027-02-14T18:30", "ends_at": "2027-02-14T22:30", "hashtags": "SuperBowl, SBLXI",
                             "accounts": [account.id], "checklist": "No politics\nNo injuries"}).status_code == 302
    assert client.post(url, {"action": "scenario_add", "name": "Power cut", "trigger": "keywords",
                             "keywords": "blackout, power cut", "expires_minutes": "10"}).status_code == 302
    scenario = Scenario.objects.get()
    assert scenario.keywords == ["blackout", "power cut"]
    assert client.post(url, {"action": "variant_add", "scenario": scenario.id, "account": account.id,
                             "text": "Lights out? We still glow."}).status_code == 302
    variant = Variant.objects.get()
    refused = client.post(url, {"action": "variant_submit", "variant": variant.id, "checklist": ["0", "1", "2", "3"]})
    assert refused.status_code == 400 and "No injuries" in refused.content.decode()
    assert client.post(url, {"action": "variant_submit", "variant": variant.id,
                             "checklist": ["0", "1", "2", "3", "4"]}).status_code == 302
    assert Post.objects.get().state == Post.State.PENDING
    assert client.post(url, {"action": "moment_add", "at": "2027-02-14T20:00", "title": "Half-time",
                             "scenarios": [scenario.id]}).status_code == 302
    assert Moment.objects.get().scenarios.get() == scenario
    bad = client.post(url, {"action": "scenario_add", "name": "Spike", "trigger": "spike"})
    assert bad.status_code == 400 and "Rule: choose" in bad.content.decode()


def test_import_page_lists_errors_with_lines_and_stores_nothing(people, account):
    client = client_for(people[roles.PRODUCER])
    text = "version: 1\nevent:\n  name: X\n  starts_at: 2026-01-01T00:00:00+00:00\n  ends_at: soon\n  time_zone: UTC\n"
    response = client.post(reverse("playbooks"), {"action": "import", "yaml": text})
    html = response.content.decode()
    assert response.status_code == 400 and "event.ends_at (line 5)" in html
    assert not Event.objects.exists()


def test_drill_report_page(people, event, account):
    sandbox = Account.objects.create(name="Sandbox", handle="brand_sandbox", sandbox=True)
    Event.objects.filter(id=event.id).update(starts_at=timezone.now() + timedelta(days=3),
                                             ends_at=timezone.now() + timedelta(days=3, hours=3))
    client = client_for(people[roles.PRODUCER])
    url = reverse("playbook_live", kwargs={"event_id": event.id})
    assert client.post(url, {"action": "drill_start", "sandbox": sandbox.id}).status_code == 302
    live = client.get(url).content.decode()
    assert "DRILL" in live and "@brand_sandbox" in live
    listening.mention_ingest_batch(source_id=f.source().id, fetched=[f.fetched("best drama!")])
    suggestion = Suggestion.objects.get()
    assert client.post(url, {"action": "fire", "variant": Variant.objects.get().id, "confirm": "yes",
                             "suggestion": suggestion.id}).status_code == 302
    drill = suggestion.drill
    page = client.get(reverse("playbook_drill", kwargs={"drill_id": drill.id})).content.decode()
    assert "Trigger to fire: median" in page and "Our show wins" in page
    assert Post.objects.get().state == Post.State.APPROVED  # the real variant stays ready


def test_post_event_report_shows_what_fired_legal_times_and_the_chart(people, event):
    source = f.source()
    listening.mention_ingest_batch(source_id=source.id, fetched=[
        f.fetched("best drama, so happy"), f.fetched("this is awful"), f.fetched("meh")])
    services.variant_fire(user=people[roles.PRODUCER], variant_id=Variant.objects.get().id)
    approvals.post_publish(post_id=Post.objects.get().id)  # no X configured: it fails, and the report says so
    html = client_for(people[roles.LEGAL]).get(reverse("playbook_report", kwargs={"event_id": event.id})).content.decode()
    assert "What fired, and when" in html and "@brand_us" in html and "Our show wins" in html
    assert "Yes by" in html and "min" in html  # legal's answer and how long it took
    assert "<svg" in html and html.count('class="bar"') >= 1 and 'class="sentiment"' in html
    assert "@media print" not in html  # the print rules live in the stylesheet
