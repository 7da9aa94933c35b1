"""Crisis mode against real PostgreSQL: declaring pauses the queue with the crisis named,
holds what was scheduled, is idempotent, reaches the contact tree (Django's locmem mail
and a loopback Slack webhook, once), and an alert rule with "declare crisis" does it from
ingest; the crisis's terms route new cases to the crisis team at P1; a cleared holding
statement goes out through the fake X while everything else stays held; standing down
releases only what the lead chose and saves the report."""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from approvals import services as approvals
from approvals.models import Account, Post
from approvals.services import CHECKLIST
from listening import services as listening
from room.flows import crisis as flow
from room.models import Crisis, CrisisContact, CrisisNotice
from tests.fakes.x_api import x_api  # noqa: F401  (fixture)
from tests.listening import factories as f
from tests.wall.test_notifications import slack  # noqa: F401  (fixture)
from triage.models import Case
from warroom import netguard, roles
from warroom.errors import Conflict, Forbidden, InvalidInput
from warroom.models import AuditEntry, LiveEvent

pytestmark = pytest.mark.django_db(transaction=True)
TICKED = {question: True for question in CHECKLIST}


@pytest.fixture
def lead(make_user):
    return make_user(roles.LEAD, "lena")


@pytest.fixture
def legal(make_user):
    return make_user(roles.LEGAL, "lou")


@pytest.fixture
def crisis_channels(settings, slack):  # noqa: F811 - the Wall's loopback Slack: crisis notices fall back to its URL
    settings.NETGUARD_ALLOW_HOSTS = ["127.0.0.1"]
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    return slack


def cleared(author, legal, text, **fields) -> Post:
    account = Account.objects.first() or Account.objects.create(name="Brand", handle="brand")
    post = approvals.post_create(author=author, account_id=account.id, text=text, **fields)
    approvals.post_submit(post_id=post.id, user=author, checklist=TICKED)
    post.refresh_from_db()
    return approvals.post_approve(post_id=post.id, user=legal, content_hash=post.content_hash())


def test_declaring_pauses_holds_notifies_once_and_a_second_declare_sees_the_open_crisis(lead, legal, crisis_channels):
    slack = crisis_channels
    CrisisContact.objects.create(name="Dana (PR)", email="dana@example.com", slack=True)
    CrisisContact.objects.create(name="Ed (CEO office)", email="ed@example.com")
    scheduled = cleared(lead, legal, "Halftime in five!")
    approvals.post_schedule(post_id=scheduled.id, user=lead, publish_at=timezone.now() + timedelta(minutes=5))

    crisis, created = flow.crisis_declare(user=lead, name="Stadium incident", reason="Shots reported near gate B",
                                          terms='shooting OR "stay away"')
    assert created and crisis.paused_queue and crisis.held == [scheduled.id]
    queue = approvals.queue_state()
    assert queue.paused and "Stadium incident" in queue.reason
    assert AuditEntry.objects.filter(action="crisis.declare").count() == 1
    assert LiveEvent.objects.filter(kind="crisis.declared").count() == 1
    assert crisis.entries.filter(kind="crisis.declared").exists()
    # The task ran after commit (Celery eager in tests, or run here): mail to both, Slack for Dana.
    assert flow.crisis_notify(crisis_id=crisis.id) in (0, 3)
    assert flow.crisis_notify(crisis_id=crisis.id) == 0  # a retry sends nothing twice
    assert sorted(m.to[0] for m in mail.outbox) == ["dana@example.com", "ed@example.com"]
    assert len(slack) == 1 and "Stadium incident" in slack[0]["text"]
    assert CrisisNotice.objects.filter(sent_at__isnull=False).count() == 3

    again, created = flow.crisis_declare(user=lead, name="Another", reason="again")
    assert (again.id, created) == (crisis.id, False)
    assert Crisis.objects.count() == 1


def test_only_the_lead_declares_and_a_declaration_needs_a_reason(lead, make_user):
    with pytest.raises(Forbidden):
        flow.crisis_declare(user=make_user(roles.PRODUCER, "pat"), name="X", reason="Y")
    with pytest.raises(InvalidInput):
        flow.crisis_declare(user=lead, name="X", reason="  ")
    assert not Crisis.objects.exists() and not approvals.queue_state().paused


def test_a_crisis_rule_declares_from_ingest_and_routes_matching_cases_to_the_crisis_team(lead):
    listening.rule_create(user=lead, name="Tragedy lexicon", kind="crisis", query='shooting OR "stay away" OR evacuat*',
                          declare_crisis=True, pause_queue=True)
    source = f.source()
    listening.mention_ingest_batch(source_id=source.id, fetched=[
        f.fetched("shots fired near the stadium, everyone stay away #SuperBowl", external_id="1")])
    crisis = Crisis.objects.get(open=True)
    assert crisis.name == "Tragedy lexicon" and crisis.paused_queue and crisis.alert_id
    assert "Tragedy lexicon" in approvals.queue_state().reason
    listening.mention_ingest_batch(source_id=source.id, fetched=[
        f.fetched("they are evacuating section 112", external_id="2"), f.fetched("great ad", external_id="3")])
    case = Case.objects.get(mention__external_id="2")
    assert (case.team, case.priority, case.tags) == ("crisis", "P1", ["crisis"])
    assert not Case.objects.filter(mention__external_id="3").exists()


def test_a_holding_statement_goes_out_while_everything_else_stays_held(lead, legal, x_api, settings):  # noqa: F811
    settings.X_API_BASE_URL, settings.X_BEARER_TOKEN = x_api.url, "test"
    other = cleared(lead, legal, "Touchdown! What a play")
    approvals.post_schedule(post_id=other.id, user=lead, publish_at=timezone.now() + timedelta(seconds=1))
    holding = cleared(lead, legal, "We are aware of reports near the stadium and are pausing our posts.", holding=True)
    assert holding.fire_only
    flow.crisis_declare(user=lead, name="Stadium incident", reason="Reports near gate B")
    assert [p.id for p in flow.holding_statements()] == [holding.id]
    with pytest.raises(Forbidden):
        flow.holding_fire(user=legal, post_id=holding.id)
    flow.holding_fire(user=lead, post_id=holding.id)
    assert approvals.post_publish(post_id=holding.id) == "published"
    assert [p.text for p in x_api.posts] == [holding.text]
    crisis = Crisis.objects.get()
    assert {"holding.fired", "post.published"} <= set(crisis.entries.values_list("kind", flat=True))  # the timeline
    Post.objects.filter(id=other.id).update(publish_at=timezone.now())
    assert approvals.post_publish(post_id=other.id) == "held"
    with pytest.raises(Conflict):
        flow.holding_fire(user=lead, post_id=holding.id)  # once
    assert AuditEntry.objects.filter(action="holding.fire").count() == 1


def test_an_edited_holding_statement_is_not_fired(lead, legal):
    holding = cleared(lead, legal, "We are aware and pausing our posts.", holding=True)
    approvals.post_edit(post_id=holding.id, user=lead, text="We are aware, pausing.")
    with pytest.raises(Conflict):
        flow.holding_fire(user=lead, post_id=holding.id)


def test_standing_down_releases_only_the_lead_s_choice_and_saves_the_report(lead, legal):
    one, two = cleared(lead, legal, "First post"), cleared(lead, legal, "Second post")
    for post in (one, two):
        approvals.post_schedule(post_id=post.id, user=lead, publish_at=timezone.now() + timedelta(seconds=1))
    crisis, _ = flow.crisis_declare(user=lead, name="Stadium incident", reason="Reports near gate B")
    Post.objects.filter(id__in=[one.id, two.id]).update(publish_at=timezone.now() - timedelta(seconds=1))
    with pytest.raises(InvalidInput):
        flow.crisis_stand_down(user=lead, crisis_id=crisis.id, release=None)
    assert approvals.queue_state().paused
    closed = flow.crisis_stand_down(user=lead, crisis_id=crisis.id, release=[one.id])
    assert closed.released == [one.id] and not closed.open and not approvals.queue_state().paused
    assert Post.objects.get(id=two.id).state == Post.State.APPROVED  # held: needs a new time
    report = closed.report
    assert {h["id"]: h["released"] for h in report["held"]} == {one.id: True, two.id: False}
    assert [e["kind"] for e in report["timeline"]][0] == "crisis.declared"
    assert report["timeline"][-1]["kind"] == "crisis.stood_down"
    with pytest.raises(Conflict):
        flow.crisis_stand_down(user=lead, crisis_id=crisis.id, release="all")


def test_the_net_guard_refuses_private_addresses(settings):
    settings.NETGUARD_ALLOW_HOSTS = []
    for url in ("http://127.0.0.1:8080/x", "http://169.254.169.254/latest", "http://10.0.0.5:6379/", "ftp://x"):
        with pytest.raises(netguard.NotPublic):
            netguard.check_url(url)


def test_the_demo_room_declares_its_crisis_from_the_replay_s_crisis_moment(tmp_path):
    import json as json_module

    from django.core.management import call_command

    from listening.adapters import demo

    call_command("seed_demo", logins_file=str(tmp_path / "logins.txt"), stdout=open(tmp_path / "out", "w"))
    call_command("seed_demo", logins_file=str(tmp_path / "logins.txt"), stdout=open(tmp_path / "out", "w"))  # idempotent
    assert CrisisContact.objects.count() == 3 and len(flow.holding_statements()) == 1
    lines = [json_module.loads(line) for line in demo.DATA_FILE.read_text(encoding="utf-8").split("\n") if line]
    before = [line for line in lines if 10000 <= line["offset_s"] < 10500]
    moment = [line for line in lines if 10500 <= line["offset_s"] < 10560]
    source = f.source()
    listening.mention_ingest_batch(source_id=source.id, fetched=[
        f.fetched(line["text"], external_id=line["id"]) for line in before])
    assert not Crisis.objects.exists()  # the night so far trips nothing
    listening.mention_ingest_batch(source_id=source.id, fetched=[
        f.fetched(line["text"], external_id=line["id"]) for line in moment])
    crisis = Crisis.objects.get(open=True)
    assert crisis.name == "Tragedy lexicon" and approvals.queue_state().paused
    crisis_ids = {line["id"] for line in moment if line["handle"] in {"BayfrontScanner", "kels_at_the_game",
                                                                       "ChannelSevenNow", "dad_of_three_tx"}}
    assert len(crisis_ids) == 4 and len(moment) > 4  # the night goes on around it
    cases = Case.objects.filter(team="crisis", priority="P1")
    assert set(cases.values_list("mention__external_id", flat=True)) == crisis_ids


def test_a_paused_queue_still_hands_a_fired_holding_statement_to_the_publisher(lead, legal):
    other = cleared(lead, legal, "Touchdown!")
    approvals.post_schedule(post_id=other.id, user=lead, publish_at=timezone.now() + timedelta(seconds=1))
    holding = cleared(lead, legal, "We are aware and have paused our posts.", holding=True)
    flow.crisis_declare(user=lead, name="Stadium incident", reason="Reports near gate B")
    flow.holding_fire(user=lead, post_id=holding.id)
    Post.objects.filter(id=other.id).update(publish_at=timezone.now())
    assert approvals.posts_due() == [holding.id]  # a lost task is found again by beat; the rest stays held
