"""The lead's routing against real PostgreSQL: triage rules open, tag, escalate and hand
out cases at ingest; replies go straight out or to legal by role and case; the first
response is stamped when the reply is published (through the fake X); SLA targets the
lead edits; and the response KPIs computed from cases whose times are known."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from approvals import services as approvals
from approvals.models import Account, ApprovalRequest, Post
from approvals.services import CHECKLIST
from listening import services as listening
from listening.models import Mention
from listening.query import QuerySyntaxError
from tests.fakes.x_api import x_api  # noqa: F401  (fixture)
from tests.listening import factories as f
from triage import selectors, services
from triage.models import Case, CaseEvent, TriageRule
from warroom import roles
from warroom.errors import Forbidden, InvalidInput
from warroom.models import AuditEntry

pytestmark = pytest.mark.django_db(transaction=True)
TICKED = {question: True for question in CHECKLIST}


@pytest.fixture
def lead(make_user):
    return make_user(roles.LEAD, "lena")


def ingest(*texts, **fields):
    listening.mention_ingest_batch(source_id=(fields.pop("source", None) or f.source()).id,
                                   fetched=[f.fetched(text, **fields) for text in texts])


def test_a_triage_rule_opens_tags_and_escalates_the_cases_it_matches(lead):
    rule = services.triage_rule_create(user=lead, name="Angry refunds", query="refund*", sentiment_at_most=-0.2,
                                       priority="P2", team="support", tags=["Refund", "refund", " money "],
                                       escalate_note="Refund demand: check the order first")
    ingest("I want a refund, this is terrible and awful", "refund? no thanks, love it, great", "great ad")
    case = Case.objects.get()
    assert case.mention.text.startswith("I want a refund")
    assert (case.priority, case.team, case.tags, case.rule) == ("P2", "support", ["refund", "money"], rule)
    assert case.status == Case.Status.ESCALATED
    assert case.first_response_due - case.opened_at == timedelta(hours=1)
    assert list(case.events.values_list("kind", flat=True)) == ["opened", "escalated"]
    assert case.events.get(kind="escalated").text == "Refund demand: check the order first"
    assert AuditEntry.objects.filter(action="case.opened", details__rule=rule.id).count() == 1
    assert Mention.objects.count() == 3  # the others are stored, without cases


def test_the_first_matching_rule_decides_and_the_lead_can_reorder(lead):
    broad = services.triage_rule_create(user=lead, name="Anything about bags", query="bag*", priority="P4")
    narrow = services.triage_rule_create(user=lead, name="Bags from big accounts", query="bag*", min_followers=10_000,
                                         priority="P2", team="pr")
    ingest("my bag was empty", author_followers=50_000, external_id="a")
    assert Case.objects.get().rule == broad
    assert services.triage_rule_move(rule_id=narrow.id, user=lead, up=True) == [narrow.id, broad.id]
    ingest("another empty bag", author_followers=50_000, external_id="b")
    ingest("a small bag", author_followers=10, external_id="c")
    routed = dict(Case.objects.values_list("mention__external_id", "rule__name"))
    assert routed == {"a": broad.name, "b": narrow.name, "c": broad.name}
    services.triage_rule_set_enabled(rule_id=narrow.id, user=lead, enabled=False)
    ingest("bag again", author_followers=50_000, external_id="d")
    assert Case.objects.get(mention__external_id="d").rule == broad


def test_the_more_urgent_of_the_alert_and_the_rule_wins_and_languages_filter(lead):
    listening.rule_create(user=lead, name="Recall", query="recall", priority="P1", open_case=True, pause_queue=False)
    services.triage_rule_create(user=lead, name="Spanish to support", languages=["es"], priority="P3", team="support")
    ingest("hay un recall de las bolsas de papas", lang="es")
    case = Case.objects.get()
    assert (case.priority, case.team) == ("P1", "support")


def test_bad_rules_are_refused_with_the_field_named(lead, make_user):
    with pytest.raises(InvalidInput, match="Conditions are empty"):
        services.triage_rule_create(user=lead, name="Everything", priority="P1")
    with pytest.raises(QuerySyntaxError):
        services.triage_rule_create(user=lead, name="Broken", query="refund AND (")
    with pytest.raises(InvalidInput, match="Escalate: choose legal, PR or support"):
        services.triage_rule_create(user=lead, name="x", query="x", team="social", escalate_note="look")
    with pytest.raises(InvalidInput, match="Sentiment at most must be between"):
        services.triage_rule_create(user=lead, name="x", sentiment_at_most=-3)
    with pytest.raises(Forbidden):
        services.triage_rule_create(user=make_user(roles.COMMUNITY_MANAGER), name="x", query="x")
    assert TriageRule.objects.count() == 0


# --- Replies: straight out or to legal ----------------------------------------------------

@pytest.fixture
def account(db):
    return Account.objects.create(name="Crunchwave", handle="Crunchwave")


def open_case(external_id: str | None = None, **rule_fields) -> Case:
    ingest("My bag was half empty", author_handle="sam", external_id=external_id)
    mention = Mention.objects.latest("id")
    return services.case_open_from_mention(mention_id=mention.id, **rule_fields)


def reply(case, user, account, text):
    case.refresh_from_db()
    return services.case_reply(case_id=case.id, user=user, account_id=account.id, text=text,
                               seen_version=case.version, checklist=TICKED)


def test_a_canned_reply_goes_straight_out_and_own_words_wait_for_legal(make_user, account):
    maya = make_user(roles.COMMUNITY_MANAGER, "maya")
    case = open_case()
    canned = dict(selectors.canned_for(case))["Sorry, DM us"]
    assert "@sam" in canned and f"#{case.id}" in canned
    own = reply(case, maya, account, "So sorry Sam, we will fix it")
    assert own.state == Post.State.PENDING and own.requests.get().step == ApprovalRequest.Step.LEGAL
    straight = reply(case, maya, account, canned)
    assert straight.state == Post.State.SCHEDULED and straight.approved_hash == straight.content_hash()
    assert not straight.requests.exists()
    approval = AuditEntry.objects.get(action="post.approve", object_id=str(straight.id))
    assert approval.details["policy"] == "a canned reply legal cleared in advance"


def test_the_case_can_require_legal_even_for_the_lead(lead, make_user, account):
    maya = make_user(roles.COMMUNITY_MANAGER, "maya")
    assert reply(open_case(), lead, account, "Hi Sam, the lead here: a new bag is on its way").state == Post.State.SCHEDULED
    case = open_case(priority="P1")
    assert reply(case, lead, account, "Hi Sam").state == Post.State.PENDING  # P1: legal sees every reply
    services.triage_rule_create(user=lead, name="Lawyers", query="lawyer", replies_need_legal=True)
    ingest("my lawyer will hear about this bag", author_handle="kim")
    case = Case.objects.get(mention__author_handle="kim")
    canned = dict(selectors.canned_for(case))["Looking into it"]
    assert reply(case, maya, account, canned).state == Post.State.PENDING
    route = services.reply_route(case=case, user=lead, text=canned)
    assert route == (False, "the triage rule \u201cLawyers\u201d sends every reply to legal")


def test_the_first_response_is_stamped_when_the_reply_is_published(make_user, account, x_api, settings):  # noqa: F811
    settings.X_API_BASE_URL, settings.X_BEARER_TOKEN = x_api.url, "test"
    maya, legal = make_user(roles.COMMUNITY_MANAGER, "maya"), make_user(roles.LEGAL, "lee")
    case = open_case(external_id=x_api.add_tweet("My bag was half empty @Crunchwave", author="sam"))
    rejected = reply(case, maya, account, "Sorry, we messed up big time")
    approvals.post_reject(post_id=rejected.id, user=legal, reason="Do not admit fault", content_hash=rejected.content_hash())
    case.refresh_from_db()
    assert case.first_responded_at is None
    assert case.events.get(kind="reply_failed").text.startswith("Rejected by Lee: Do not admit fault")

    canned = dict(selectors.canned_for(case))["Looking into it"]
    post = reply(case, maya, account, canned)
    assert approvals.post_publish(post_id=post.id) == "published"
    post.refresh_from_db()
    case.refresh_from_db()
    assert [p.text for p in x_api.posts] == [canned]
    assert case.first_responded_at == post.published_at
    event = case.events.get(kind="reply_published")
    assert event.post == post and post.platform_id
    assert selectors.case_get(case_id=case.id, user=maya).history[0].kind == "reply_published"


# --- SLA targets -------------------------------------------------------------------------

def test_the_lead_sets_sla_targets_for_new_cases_only(lead, make_user):
    before = open_case(priority="P2")
    services.sla_policy_set(user=lead, priority="P2", first_response_minutes=30, resolution_minutes=120)
    ingest("second bag problem", author_handle="kim")
    after = services.case_open_from_mention(mention_id=Mention.objects.get(author_handle="kim").id, priority="P2")
    assert after.first_response_due - after.opened_at == timedelta(minutes=30)
    before.refresh_from_db()
    assert before.first_response_due - before.opened_at == timedelta(hours=1)
    with pytest.raises(InvalidInput, match="P2 resolution"):
        services.sla_policy_set(user=lead, priority="P2", first_response_minutes=30, resolution_minutes=10)
    with pytest.raises(Forbidden):
        services.sla_policy_set(user=make_user(roles.COMMUNITY_MANAGER), priority="P2", first_response_minutes=5,
                                resolution_minutes=10)
    assert AuditEntry.objects.get(action="sla.set").details == {"priority": "P2", "before": [60, 480], "after": [30, 120]}


# --- KPIs --------------------------------------------------------------------------------

def test_kpis_give_median_p90_attainment_and_backlog(make_user):
    maya = make_user(roles.COMMUNITY_MANAGER, "maya")
    source = f.source()
    listening.mention_ingest_batch(source_id=source.id, fetched=[f.fetched(f"bag {n}") for n in range(6)])
    mentions = list(Mention.objects.order_by("id"))
    now = timezone.now()
    with time_machine.travel(now - timedelta(days=3), tick=False):
        old = services.case_open_from_mention(mention_id=mentions[0].id, priority="P2")  # only in the 7-day window
    with time_machine.travel(now - timedelta(hours=2), tick=False):
        cases = [services.case_open_from_mention(mention_id=m.id, priority="P2") for m in mentions[1:5]]
        late = services.case_open_from_mention(mention_id=mentions[5].id, priority="P1")
    # P2 targets are 60 min: answered after 10, 20, 30 and 90 minutes (the last one late).
    for case, minutes in zip(cases, (10, 20, 30, 90)):
        Case.objects.filter(id=case.id).update(first_responded_at=case.opened_at + timedelta(minutes=minutes))
    Case.objects.filter(id=old.id).update(first_responded_at=old.opened_at + timedelta(minutes=5))
    services.case_close(case_id=cases[0].id, user=maya)
    kpis = selectors.response_kpis(now=now)
    p2 = next(row for row in kpis["rows"] if row["priority"] == "P2")
    assert (p2["24h"].cases, p2["24h"].met, p2["24h"].missed) == (4, 3, 1)
    assert p2["24h"].median_minutes == 25.0 and p2["24h"].attainment == 75.0
    assert p2["24h"].p90_minutes == 72.0  # percentile_cont between 30 and 90
    assert (p2["7d"].cases, p2["7d"].met) == (5, 4) and p2["7d"].median_minutes == 20.0
    p1 = next(row for row in kpis["rows"] if row["priority"] == "P1")
    assert (p1["24h"].cases, p1["24h"].met, p1["24h"].missed, p1["24h"].median_minutes) == (1, 0, 1, None)
    everything = next(row for row in kpis["rows"] if row["priority"] == "all")
    assert everything["7d"].cases == 6
    backlog = {row["team"]: row for row in selectors.backlog_by_team(now=now)}
    assert (backlog["social"]["open"], backlog["social"]["unassigned"]) == (5, 5)
    assert backlog["social"]["oldest_due"] == old.resolution_due  # answered 3 days ago, never resolved
    days = selectors.first_response_by_day(now=now)
    assert len(days) == 7 and sum(day["cases"] for day in days) == 6


def test_round_robin_takes_turns_among_the_team_in_the_room(lead, make_user):
    from warroom import presence

    maya, noah = make_user(roles.COMMUNITY_MANAGER, "maya"), make_user(roles.COMMUNITY_MANAGER, "noah")
    make_user(roles.COMMUNITY_MANAGER, "olga")  # not in the room: never picked
    in_room = [maya, noah, make_user(roles.LEGAL, "lee")]  # legal is in the room but not on the social team
    for n, user in enumerate(in_room):
        presence.presence_enter(channel=f"test-round-robin-{n}", user=user, page="/queue/")
    try:
        services.triage_rule_create(user=lead, name="Bags", query="bag*", assign="round_robin")
        ingest(*(f"bag {n}" for n in range(4)))
        owners = list(Case.objects.order_by("id").values_list("assignee__username", flat=True))
        assert owners == ["maya", "noah", "maya", "noah"]
        assert AuditEntry.objects.filter(action="case.assigned", details__round_robin=True).count() == 4
    finally:
        for n in range(len(in_room)):
            presence.presence_leave(channel=f"test-round-robin-{n}")
    ingest("bag while nobody is here")
    case = Case.objects.latest("id")
    assert case.assignee is None
    assert case.events.get(kind="unassigned").text == "Nobody from Social is in the room: left in the queue."


def test_a_customer_writing_again_in_the_thread_joins_their_case(make_user, account, lead):
    from warroom.errors import Conflict

    maya = make_user(roles.COMMUNITY_MANAGER, "maya")
    services.triage_rule_create(user=lead, name="Everything about bags", query="bag* OR waiting")
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        ingest("My bag was half empty", author_handle="sam", external_id="t1", conversation_id="t1")
        case = Case.objects.get()
        seen = case.version
        services.case_wait(case_id=case.id, user=maya)
        traveller.shift(timedelta(minutes=30))
        ingest("Hello?? Still waiting about my bag", author_handle="Sam", external_id="t2", conversation_id="t1",
               in_reply_to="t1")
        ingest("my bag too, waiting", author_handle="kim", external_id="t3", conversation_id="t1", in_reply_to="t1")
    case.refresh_from_db()
    assert case.status == Case.Status.OPEN and case.waiting_since is None
    assert list(case.mentions.values_list("external_id", flat=True)) == ["t2"]
    assert case.first_response_due == case.opened_at + timedelta(minutes=240 + 30)  # P3, plus the half hour waited
    assert case.events.filter(kind="customer_answered").get().text == "Hello?? Still waiting about my bag"
    assert Case.objects.get(mention__external_id="t3").id != case.id  # another author: a case of their own
    with pytest.raises(Conflict, match="customer answered"):
        services.case_reply(case_id=case.id, user=maya, account_id=account.id, text="Sorry!", seen_version=seen,
                            checklist=TICKED)
    shown = selectors.case_get(case_id=case.id, user=maya)
    assert [m.external_id for m in shown.thread] == ["t2"] and shown.thread_count == 1
    post = services.case_reply(case_id=case.id, user=maya, account_id=account.id, text="Sorry Sam, on it!",
                               seen_version=shown.version, checklist=TICKED)
    assert post.in_reply_to == "t2"  # under the customer's latest word
