"""Playbooks' rules against real PostgreSQL and the fake X: variants cleared by legal through
approvals, triggers heard by listening light scenarios up, a fire goes out exactly once
(never while paused), an edit goes back to legal, and drills only reach the sandbox."""

from datetime import timedelta

import pytest
from django.utils import timezone

from approvals import services as approvals
from approvals.models import Account, Post
from listening import services as listening
from listening.models import AlertRule
from playbooks import selectors, services
from playbooks.models import Firing, Scenario, Suggestion
from tests.fakes.x_api import x_api  # noqa: F401  (fixture)
from tests.listening import factories as f
from warroom import roles
from warroom.errors import Conflict, Forbidden, InvalidInput
from warroom.models import AuditEntry, LiveEvent

pytestmark = pytest.mark.django_db(transaction=True)
TICKED = {question: True for question in approvals.CHECKLIST}


@pytest.fixture
def people(make_user):
    return {role: make_user(role) for role in roles.ALL}


@pytest.fixture
def account(db):
    return Account.objects.create(name="Brand US", handle="brand_us")


@pytest.fixture
def sandbox(db):
    return Account.objects.create(name="Drill sandbox", handle="brand_sandbox", sandbox=True)


@pytest.fixture
def x(x_api, settings):  # noqa: F811
    settings.X_API_BASE_URL = x_api.url
    settings.X_BEARER_TOKEN = "brand-token"
    settings.X_SANDBOX_USER_ACCESS_TOKEN = "sandbox-token"
    return x_api


def make_event(people, account, *, starts_in=timedelta(minutes=-5), **fields):
    now = timezone.now()
    return services.event_create(
        user=people[roles.PRODUCER], name=fields.pop("name", "Emmys 2026"), starts_at=now + starts_in,
        ends_at=now + starts_in + timedelta(hours=4), time_zone="America/Los_Angeles", hashtags=["Emmys"],
        account_ids=[account.id], guardrails=fields.pop("guardrails", {"checklist": ["No spoilers before the West Coast"]}),
    )


def approved_variant(people, event, scenario, account, text):
    producer = people[roles.PRODUCER]
    variant = services.variant_create(user=producer, scenario_id=scenario.id, account_id=account.id, text=text)
    services.variant_submit(user=producer, variant_id=variant.id,
                            checklist={**TICKED, "No spoilers before the West Coast": True})
    post = Post.objects.get(id=variant.post_id)
    approvals.post_approve(post_id=post.id, user=people[roles.LEGAL], content_hash=post.content_hash())
    variant.post.refresh_from_db()
    return variant


def keyword_scenario(people, event, name="Our show wins Best Drama", keywords=("best drama",)):
    return services.scenario_create(user=people[roles.PRODUCER], event_id=event.id, name=name,
                                    trigger=Scenario.Trigger.KEYWORDS, keywords=list(keywords))


def test_variants_go_to_legal_through_approvals_and_need_the_event_checklist(people, account):
    event = make_event(people, account)
    scenario = keyword_scenario(people, event)
    producer = people[roles.PRODUCER]
    variant = services.variant_create(user=producer, scenario_id=scenario.id, account_id=account.id,
                                      text="What a night for drama. Congratulations!")
    with pytest.raises(InvalidInput, match="No spoilers"):
        services.variant_submit(user=producer, variant_id=variant.id, checklist=TICKED)
    services.variant_submit(user=producer, variant_id=variant.id,
                            checklist={**TICKED, "No spoilers before the West Coast": True})
    variant.post.refresh_from_db()
    assert variant.post.state == Post.State.PENDING
    assert LiveEvent.objects.filter(kind="approval.requested", audience__contains=["role.legal"]).exists()


def test_only_builders_change_playbooks(people, account):
    for role in (roles.LEGAL, roles.COMMUNITY_MANAGER):
        with pytest.raises(Forbidden):
            make_event(people | {roles.PRODUCER: people[role]}, account, name=f"By {role}")


def test_variant_account_must_belong_to_the_event(people, account):
    other = Account.objects.create(name="Brand UK", handle="brand_uk")
    scenario = keyword_scenario(people, make_event(people, account))
    with pytest.raises(InvalidInput, match="this event's accounts"):
        services.variant_create(user=people[roles.PRODUCER], scenario_id=scenario.id, account_id=other.id, text="Hi")


def test_a_keyword_in_a_new_mention_suggests_the_scenario_once_and_live(people, account):
    event = make_event(people, account)
    scenario = keyword_scenario(people, event)
    source = f.source()
    listening.mention_ingest_batch(source_id=source.id, fetched=[f.fetched("And the Emmy for Best Drama goes to...")])
    listening.mention_ingest_batch(source_id=source.id, fetched=[f.fetched("BEST DRAMA!!! I knew it")])
    suggestion = Suggestion.objects.get(scenario=scenario)
    assert suggestion.state == Suggestion.State.SUGGESTED and suggestion.matches == 2
    assert "best drama" in suggestion.reason and suggestion.drill is None
    event_row = LiveEvent.objects.get(kind="scenario.suggested")
    assert event_row.payload["scenario_id"] == scenario.id and "role.producer" in event_row.audience
    assert AuditEntry.objects.filter(action="scenario.suggest").count() == 1


def test_a_rule_match_suggests_but_not_outside_the_event_window(people, account):
    rule = listening.rule_create(user=people[roles.LEAD], name="Power cut", kind=AlertRule.Kind.KEYWORD,
                                 query='blackout OR "power cut"')
    later = make_event(people, account, name="Next year", starts_in=timedelta(days=30))
    services.scenario_create(user=people[roles.PRODUCER], event_id=later.id, name="Power cut",
                             trigger=Scenario.Trigger.RULE, rule_id=rule.id)
    tonight = make_event(people, account, name="Tonight")
    now_scenario = services.scenario_create(user=people[roles.PRODUCER], event_id=tonight.id, name="Power cut",
                                            trigger=Scenario.Trigger.RULE, rule_id=rule.id)
    listening.mention_ingest_batch(source_id=f.source().id, fetched=[f.fetched("Total blackout in the stadium")])
    assert list(Suggestion.objects.values_list("scenario_id", flat=True)) == [now_scenario.id]


def test_a_spike_alert_suggests_a_spike_scenario(people, account):
    rule = listening.rule_create(user=people[roles.LEAD], name="Volume", kind=AlertRule.Kind.SPIKE, query="",
                                 spike_min_count=3, spike_window_minutes=5)
    event = make_event(people, account)
    scenario = services.scenario_create(user=people[roles.PRODUCER], event_id=event.id, name="Everyone talks",
                                        trigger=Scenario.Trigger.SPIKE, rule_id=rule.id)
    listening.mention_ingest_batch(source_id=f.source().id, fetched=[f.fetched(f"wow {i}") for i in range(5)])
    listening.spikes_check()
    suggestion = Suggestion.objects.get(scenario=scenario)
    assert suggestion.alert is not None and "Spike" in suggestion.reason


def test_fire_publishes_an_approved_variant_exactly_once(people, account, x):
    event = make_event(people, account)
    scenario = keyword_scenario(people, event)
    variant = approved_variant(people, event, scenario, account, "Drama queens, all of us. Congrats!")
    services.scenario_suggest_manually(user=people[roles.PRODUCER], scenario_id=scenario.id)
    firing = services.variant_fire(user=people[roles.PRODUCER], variant_id=variant.id)
    assert firing.suggestion.state == Suggestion.State.FIRED
    with pytest.raises(Conflict, match="Already fired"):
        services.variant_fire(user=people[roles.PRODUCER], variant_id=variant.id)
    assert approvals.post_publish(post_id=variant.post_id) == "published"
    assert approvals.post_publish(post_id=variant.post_id) == "not due"
    assert [p.text for p in x.posts] == ["Drama queens, all of us. Congrats!"]
    assert x.posts[0].auth["token"] == "brand-token"
    assert AuditEntry.objects.filter(action="scenario.fire", actor=people[roles.PRODUCER]).count() == 1
    assert LiveEvent.objects.filter(kind="scenario.fired").count() == 1


def test_an_approved_variant_cannot_be_scheduled_around_the_fire(people, account):
    event = make_event(people, account)
    variant = approved_variant(people, event, keyword_scenario(people, event), account, "Congrats, Best Drama!")
    with pytest.raises(Conflict, match="playbook variant: it goes out when a producer fires it"):
        approvals.post_schedule(post_id=variant.post_id, user=people[roles.LEAD], publish_at=timezone.now())
    assert Post.objects.get(id=variant.post_id).state == Post.State.APPROVED  # still waiting for the fire


def test_fire_is_refused_while_the_queue_is_paused_with_the_reason(people, account):
    event = make_event(people, account)
    scenario = keyword_scenario(people, event)
    variant = approved_variant(people, event, scenario, account, "Congrats to the winners!")
    approvals.queue_pause(user=people[roles.LEAD], reason="Breaking news: stand down")
    with pytest.raises(Conflict, match="paused.*Breaking news: stand down"):
        services.variant_fire(user=people[roles.PRODUCER], variant_id=variant.id)
    variant.post.refresh_from_db()
    assert variant.post.state == Post.State.APPROVED and not Firing.objects.exists()


def test_an_unapproved_variant_cannot_fire(people, account):
    scenario = keyword_scenario(people, make_event(people, account))
    variant = services.variant_create(user=people[roles.PRODUCER], scenario_id=scenario.id, account_id=account.id,
                                      text="Not cleared yet")
    with pytest.raises(Conflict, match="legal has not approved"):
        services.variant_fire(user=people[roles.PRODUCER], variant_id=variant.id)
    with pytest.raises(Forbidden):
        services.variant_fire(user=people[roles.LEGAL], variant_id=variant.id)


def test_an_edited_variant_goes_back_to_legal_and_cannot_fire_meanwhile(people, account):
    scenario = keyword_scenario(people, make_event(people, account))
    variant = approved_variant(people, scenario.event, scenario, account, "Congrats, drama fans")
    services.variant_edit(user=people[roles.PRODUCER], variant_id=variant.id, text="Congrats, drama lovers")
    variant.post.refresh_from_db()
    assert variant.post.state == Post.State.PENDING
    request = variant.post.requests.get(state="open")
    assert request.previous_text == "Congrats, drama fans"
    with pytest.raises(Conflict, match="legal has not approved"):
        services.variant_fire(user=people[roles.PRODUCER], variant_id=variant.id)


def test_suggestions_expire_and_skips_are_recorded(people, account):
    event = make_event(people, account)
    first = keyword_scenario(people, event)
    second = keyword_scenario(people, event, name="Our show loses", keywords=["snubbed"])
    services.scenario_suggest_manually(user=people[roles.PRODUCER], scenario_id=first.id)
    skipped = services.scenario_suggest_manually(user=people[roles.PRODUCER], scenario_id=second.id)
    services.suggestion_skip(user=people[roles.PRODUCER], suggestion_id=skipped.id, note="not our show")
    assert services.suggestions_expire(now=timezone.now() + timedelta(minutes=16)) == 1
    states = dict(Suggestion.objects.values_list("scenario__name", "state"))
    assert states == {"Our show wins Best Drama": "expired", "Our show loses": "skipped"}
    assert AuditEntry.objects.filter(action__in=["scenario.skip", "scenario.expire"]).count() == 2


def test_a_drill_fires_to_the_sandbox_only_and_records_trigger_to_fire(people, account, sandbox, x):
    event = make_event(people, account, starts_in=timedelta(days=7))
    scenario = keyword_scenario(people, event, name="Power cut", keywords=["blackout"])
    variant = approved_variant(people, event, scenario, account, "Lights out? We still glow.")
    with pytest.raises(InvalidInput, match="sandbox"):
        services.drill_start(user=people[roles.PRODUCER], event_id=event.id, sandbox_account_id=account.id)
    drill = services.drill_start(user=people[roles.PRODUCER], event_id=event.id, sandbox_account_id=sandbox.id)
    listening.mention_ingest_batch(source_id=f.source().id, fetched=[f.fetched("Blackout at the game!")])
    suggestion = Suggestion.objects.get(scenario=scenario)
    assert suggestion.drill == drill
    firing = services.variant_fire(user=people[roles.PRODUCER], variant_id=variant.id)
    assert firing.drill == drill and firing.sandbox_account == sandbox
    assert services.drill_publish(firing_id=firing.id) == "published"
    assert services.drill_publish(firing_id=firing.id) == "done"
    assert [(p.text, p.auth["token"]) for p in x.posts] == [("Lights out? We still glow.", "sandbox-token")]
    variant.post.refresh_from_db()
    assert variant.post.state == Post.State.APPROVED  # the real post is untouched, still ready for the night
    rows = selectors.timings(event=event, drill=drill)
    assert len(rows) == 1 and rows[0].trigger_to_fire is not None and rows[0].published_at is not None
    services.drill_stop(user=people[roles.PRODUCER], drill_id=drill.id)


def test_a_drill_without_sandbox_credentials_sends_nothing(people, account, sandbox, x, settings):
    settings.X_SANDBOX_USER_ACCESS_TOKEN = ""
    event = make_event(people, account, starts_in=timedelta(days=7))
    scenario = keyword_scenario(people, event)
    variant = approved_variant(people, event, scenario, account, "Congrats!")
    services.drill_start(user=people[roles.PRODUCER], event_id=event.id, sandbox_account_id=sandbox.id)
    firing = services.variant_fire(user=people[roles.PRODUCER], variant_id=variant.id)
    assert services.drill_publish(firing_id=firing.id) == "failed"
    firing.refresh_from_db()
    assert "X_SANDBOX_USER_ACCESS_TOKEN" in firing.error
    assert x.posts == []


def test_no_drill_while_the_event_is_live(people, account, sandbox):
    event = make_event(people, account)
    with pytest.raises(Conflict, match="live"):
        services.drill_start(user=people[roles.PRODUCER], event_id=event.id, sandbox_account_id=sandbox.id)


def test_a_drill_against_the_demo_replay_suggests_from_the_replayed_night(people, account, sandbox, monkeypatch):
    from listening.adapters import demo
    from listening.models import Source

    clock = {"t": 1_800_000_000.0}
    monkeypatch.setattr(demo, "now", lambda: clock["t"])
    event = make_event(people, account, starts_in=timedelta(days=7))
    scenario = keyword_scenario(people, event, name="Blackout", keywords=["blackout"])
    drill = services.drill_start(user=people[roles.PRODUCER], event_id=event.id, sandbox_account_id=sandbox.id,
                                 replay_speed=100)
    replay = Source.objects.get(id=drill.replay_source_id)
    assert replay.kind == Source.Kind.DEMO and replay.enabled
    assert listening.source_poll(source_id=replay.id) == "ok"  # starts the night's clock
    clock["t"] += 3  # 300 s of the night: the first "Blackout giveaway" line is at 84 s
    Source.objects.filter(id=replay.id).update(next_poll_at=timezone.now())
    assert listening.source_poll(source_id=replay.id) == "ok"
    suggestion = Suggestion.objects.get(scenario=scenario)
    assert suggestion.drill == drill and "blackout" in suggestion.reason.casefold()
    services.drill_stop(user=people[roles.PRODUCER], drill_id=drill.id)
    replay.refresh_from_db()
    assert not replay.enabled
    suggestion.refresh_from_db()
    assert suggestion.state == Suggestion.State.EXPIRED
    with pytest.raises(InvalidInput, match="Replay speed"):
        services.drill_start(user=people[roles.PRODUCER], event_id=event.id, sandbox_account_id=sandbox.id,
                             replay_speed=0)


def test_two_producers_firing_at_once_fire_once(people, account, make_user):
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connection

    scenario = keyword_scenario(people, make_event(people, account))
    variant = approved_variant(people, scenario.event, scenario, account, "Congrats, once.")
    producers = [people[roles.PRODUCER], make_user(roles.PRODUCER, "second-producer")]

    def fire(user):
        try:
            services.variant_fire(user=user, variant_id=variant.id)
            return "fired"
        except Conflict as error:
            return str(error)
        finally:
            connection.close()

    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(fire, producers))
    assert sorted(r == "fired" for r in results) == [False, True], results
    assert Firing.objects.count() == 1
    assert AuditEntry.objects.filter(action="scenario.fire").count() == 1


def test_a_manual_call_is_audited_with_who_called_it(people, account):
    scenario = keyword_scenario(people, make_event(people, account))
    services.scenario_suggest_manually(user=people[roles.LEAD], scenario_id=scenario.id)
    entry = AuditEntry.objects.get(action="scenario.suggest")
    assert entry.actor == people[roles.LEAD]
    assert LiveEvent.objects.get(kind="scenario.suggested").payload["actor"]
