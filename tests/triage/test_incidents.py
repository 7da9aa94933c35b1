"""Incidents: one open incident per alert rule; later alerts (spikes) and mentions of the
rule join it with their count and spike history; a resolved incident reopens when the rule
fires again within INCIDENT_REOPEN_MINUTES."""

from datetime import timedelta

import pytest
import time_machine
from django.db import IntegrityError, transaction
from django.utils import timezone

from listening import services as listening
from listening.models import Alert
from tests.listening import factories as f
from triage import services
from triage.models import Case, CaseEvent
from warroom import roles
from warroom.models import AuditEntry, LiveEvent

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def safety(make_user):
    lead = make_user(roles.LEAD, "lead")
    rule = listening.rule_create(user=lead, name="Safety scare", kind="crisis", query="allergic OR peanut*", open_case=True)
    return rule, f.source()


def fire(source, n: int, text: str = "allergic reaction"):
    listening.mention_ingest_batch(source_id=source.id, fetched=[f.fetched(f"{text} #{i}") for i in range(n)])


def test_a_second_spike_of_the_same_rule_joins_its_open_incident_with_its_history(safety):
    rule, source = safety
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        fire(source, 50)
        traveller.shift(timedelta(minutes=rule.regroup_minutes + 5))  # past the alert's regroup window
        fire(source, 50, "peanuts again")
        traveller.shift(timedelta(minutes=1))
        fire(source, 7, "still allergic")
    assert Alert.objects.filter(rule=rule).count() == 2  # two alerts (spikes) ...
    case = Case.objects.get()  # ... and one incident, not "#94 Incident: Safety scare" and "#200 Incident: Safety scare"
    assert case.incident_rule_id == rule.id and case.mentions.count() == 107
    assert [(s["alert"], s["mentions"]) for s in case.spikes] == [
        (a.id, n) for a, n in zip(Alert.objects.filter(rule=rule).order_by("id"), (50, 57))]
    joined = CaseEvent.objects.filter(case=case, kind="grouped").order_by("id")
    assert "New spike of \u201cSafety scare\u201d joined incident" in LiveEvent.objects.filter(kind="case.grouped").first().payload["summary"]
    assert joined.count() == 2
    assert AuditEntry.objects.filter(action="case.grouped", details__spike=2).count() == 1


def test_a_resolved_incident_reopens_when_its_rule_fires_again_within_the_window(safety, make_user, settings):
    settings.INCIDENT_REOPEN_MINUTES = 60
    rule, source = safety
    maya = make_user(roles.COMMUNITY_MANAGER, "maya")
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        fire(source, 10)
        case = Case.objects.get()
        services.case_close(case_id=case.id, user=maya)
        traveller.shift(timedelta(minutes=30))
        fire(source, 4, "peanut panic")
        case.refresh_from_db()
        assert Case.objects.count() == 1
        assert case.status == Case.Status.NEW and case.resolved_at is None and case.reopened_count == 1
        assert case.resolution_due == timezone.now() + timedelta(minutes=services.sla_minutes(case.priority)[1])
        assert len(case.spikes) == 2 and case.mentions.count() == 14
        assert LiveEvent.objects.filter(kind="case.reopened").count() == 1
        assert AuditEntry.objects.filter(action="case.reopened").count() == 1

        # Past the window, the rule's next alert is a new incident.
        services.case_close(case_id=case.id, user=maya)
        traveller.shift(timedelta(minutes=61))
        fire(source, 3, "allergic again")
    assert Case.objects.count() == 2
    newest = Case.objects.order_by("-id").first()
    assert newest.status == Case.Status.NEW and newest.reopened_count == 0 and newest.mentions.count() == 3


def test_the_database_refuses_a_second_open_incident_for_one_rule(safety):
    rule, source = safety
    fire(source, 2)
    case = Case.objects.get()
    with pytest.raises(IntegrityError), transaction.atomic():
        Case.objects.create(title="Incident: Safety scare", incident_rule=rule, priority="P1",
                            first_response_due=case.first_response_due, resolution_due=case.resolution_due)
