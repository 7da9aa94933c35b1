"""Triage rules against real PostgreSQL: one case per mention, incidents for spikes and
crises, a take race with two real connections, SLA timers with time travel, escalation,
and replies through approvals refused when the case changed."""

import threading
from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.utils import timezone

from approvals.models import Account, Post
from approvals.services import CHECKLIST
from listening import services as listening
from listening.models import Mention
from tests.listening import factories as f
from triage import services
from triage.models import Case, CaseEvent
from warroom import roles
from warroom.errors import Conflict, Forbidden, InvalidInput
from warroom.models import AuditEntry, LiveEvent

pytestmark = pytest.mark.django_db(transaction=True)
TICKED = {question: True for question in CHECKLIST}


@pytest.fixture
def mention():
    listening.mention_ingest_batch(source_id=f.source().id, fetched=[f.fetched("My bag was half empty @Crunchwave", author_handle="sam")])
    return Mention.objects.get()


def test_a_mention_has_one_case_with_sla_due_times(mention):
    case = services.case_open_from_mention(mention_id=mention.id, priority="P2")
    assert services.case_open_from_mention(mention_id=mention.id, priority="P1") == case
    assert case.first_response_due - case.opened_at == timedelta(hours=1)
    assert case.title.startswith("@sam: My bag")
    assert LiveEvent.objects.filter(kind="case.opened").count() == 1


def test_two_managers_take_the_same_case_at_once_one_wins_the_other_is_told(mention, make_user):
    case = services.case_open_from_mention(mention_id=mention.id)
    maya, noah = make_user(roles.COMMUNITY_MANAGER, "maya"), make_user(roles.COMMUNITY_MANAGER, "noah")
    start, results = threading.Barrier(2), {}

    def take(user):
        start.wait(5)
        try:
            services.case_take(case_id=case.id, user=user)
            results[user.username] = "won"
        except Conflict as error:
            results[user.username] = str(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=take, args=(user,)) for user in (maya, noah)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert sorted(results.values())[-1] == "won" and list(results.values()).count("won") == 1
    loser = next(name for name, result in results.items() if result != "won")
    winner = next(name for name, result in results.items() if result == "won")
    assert results[loser] == f"{winner.title()} already has this case."
    case.refresh_from_db()
    assert case.assignee.username == winner and case.status == Case.Status.OPEN
    assert AuditEntry.objects.filter(action="case.assigned").count() == 1


def test_a_breach_is_recorded_once_and_the_clock_stops_while_waiting(mention, make_user):
    maya = make_user(roles.COMMUNITY_MANAGER, "maya")
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        case = services.case_open_from_mention(mention_id=mention.id, priority="P1")  # 15 min to respond
        traveller.shift(timedelta(minutes=10))
        services.case_wait(case_id=case.id, user=maya)
        traveller.shift(timedelta(minutes=30))  # waiting on the customer: no breach
        assert services.sla_check() == []
        services.case_customer_answered(case_id=case.id)
        case.refresh_from_db()
        assert case.first_response_due == case.opened_at + timedelta(minutes=45)
        traveller.shift(timedelta(minutes=4))
        assert services.sla_check() == []
        traveller.shift(timedelta(minutes=2))
        assert services.sla_check() == [case.id]
        traveller.shift(timedelta(minutes=5))
        assert services.sla_check() == []  # recorded once
    assert AuditEntry.objects.filter(action="case.breached").count() == 1
    assert LiveEvent.objects.get(kind="case.breached").audience  # announced to the room's agents


def test_escalation_needs_a_note_and_reaches_the_team(mention, make_user):
    maya = make_user(roles.COMMUNITY_MANAGER, "maya")
    case = services.case_open_from_mention(mention_id=mention.id)
    with pytest.raises(InvalidInput, match="Note is empty"):
        services.case_escalate(case_id=case.id, user=maya, team="legal", note=" ")
    services.case_escalate(case_id=case.id, user=maya, team="legal", note="Mentions a lawyer; please advise")
    case.refresh_from_db()
    assert (case.status, case.team) == (Case.Status.ESCALATED, "legal")
    assert "role.legal" in LiveEvent.objects.get(kind="case.escalated").audience
    with pytest.raises(Forbidden):
        services.case_escalate(case_id=case.id, user=make_user(roles.LEGAL), team="pr", note="x")


def test_a_reply_goes_to_legal_and_is_refused_if_the_case_changed(mention, make_user):
    maya, noah = make_user(roles.COMMUNITY_MANAGER, "maya"), make_user(roles.COMMUNITY_MANAGER, "noah")
    account = Account.objects.create(name="Crunchwave", handle="Crunchwave")
    case = services.case_open_from_mention(mention_id=mention.id)
    seen = case.version
    services.case_note(case_id=case.id, user=noah, text="I already DM'd them")
    with pytest.raises(Conflict, match="changed since you opened it .noted by Noah"):
        services.case_reply(case_id=case.id, user=maya, account_id=account.id, text="Sorry Sam!", seen_version=seen,
                            checklist=TICKED)
    case.refresh_from_db()
    post = services.case_reply(case_id=case.id, user=maya, account_id=account.id, text="Sorry Sam! DM us.",
                               seen_version=case.version, checklist=TICKED)
    assert post.state == Post.State.PENDING and post.in_reply_to == mention.external_id
    case.refresh_from_db()
    assert case.first_responded_at is None  # stamped when the customer can read it, at publication
    assert CaseEvent.objects.get(case=case, kind="replied").post == post


def test_a_crisis_alert_opens_one_incident_case_for_all_its_mentions(make_user):
    lead = make_user(roles.LEAD)
    listening.rule_create(user=lead, name="Safety", kind="crisis", query="allergic OR peanut*", open_case=True)
    source = f.source()
    listening.mention_ingest_batch(source_id=source.id, fetched=[f.fetched(f"allergic reaction #{n}") for n in range(30)])
    listening.mention_ingest_batch(source_id=source.id, fetched=[f.fetched("peanuts in my bag") for _ in range(5)])
    case = Case.objects.get()
    assert case.priority == "P1" and case.alert is not None and case.mentions.count() == 35
    assert case.title.startswith("Incident: Safety")


def test_a_keyword_rule_opens_a_case_per_mention(make_user):
    lead = make_user(roles.LEAD)
    listening.rule_create(user=lead, name="Refunds", query="refund*", priority="P2", open_case=True)
    listening.mention_ingest_batch(source_id=f.source().id, fetched=[f.fetched("I want a refund"), f.fetched("refunds now!"),
                                                                      f.fetched("great ad")])
    assert sorted(Case.objects.values_list("priority", flat=True)) == ["P2", "P2"]
