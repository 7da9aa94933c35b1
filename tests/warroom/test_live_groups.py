"""Grouping: a burst of like events is one rail item and one notice with its count; toasts
only for what needs a decision, at most one per group."""

import re
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from listening import services as listening
from listening.models import Mention
from tests.listening import factories as f
from triage import services as triage
from wall import services as wall
from warroom import live, roles
from warroom.models import LiveEvent, LiveGroup

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("nobody_present")]
TOAST = re.compile(r'class="toast ')


def open_cases(n: int, priority: str) -> list:
    listening.mention_ingest_batch(source_id=f.source().id, fetched=[f.fetched(f"Where is my order {i}?") for i in range(n)])
    return [triage.case_open_from_mention(mention_id=m.id, priority=priority) for m in Mention.objects.order_by("id")]


def test_a_burst_of_100_sla_breaches_in_a_minute_is_one_group_one_toast_and_one_notice(make_user, settings, mailoutbox):
    settings.LIVE_GROUP_SECONDS = 60
    maya = make_user(roles.COMMUNITY_MANAGER, "maya")
    ana = make_user(roles.LEAD, "ana", email="ana@example.com")
    wall.notification_preference_set(user=ana, on_deck=True)
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        cases = open_cases(100, "P1")
        start = timezone.now() + timedelta(minutes=16)
        for i, case in enumerate(cases):  # due one every half second: a burst over 50 s
            triage.Case.objects.filter(id=case.id).update(first_response_due=start + timedelta(seconds=i / 2))
        traveller.move_to(start + timedelta(seconds=1))
        breached = []
        for _ in range(6):  # beat's sweeps within the minute
            breached += triage.sla_check()
            traveller.shift(timedelta(seconds=10))
        assert len(breached) == 100

        breaches = LiveEvent.objects.filter(kind="case.breached").order_by("id")
        assert breaches.count() == 100
        group = LiveGroup.objects.get(kind="case.breached")
        assert group.count == 100 and set(breaches.values_list("group_id", flat=True)) == {group.id}
        assert group.summary() == "100 P1 cases breached their first-response target"

        # Every event of the burst re-renders the same rail item with its count; one toast in all.
        messages = [live.render(event) for event in breaches]
        assert all(f'id="group-{group.id}"' in message for message in messages)
        assert 'data-group-count="100"' in messages[-1]
        assert sum(len(TOAST.findall(message)) for message in messages) == 1

        # A page rendered now shows the group once, with its final count and the filtered list.
        groups = live.groups_for(user_id=maya.id, held_roles=roles.roles_of(maya))
        rail = [live.render_row(event) for event in live.recent(groups=groups, up_to=live.latest_id())]
        grouped = [row for row in rail if "case.breached" in row]
        assert len(grouped) == 1
        assert "100 P1 cases breached their first-response target in the last minute" in grouped[0]
        assert 'href="/queue/?breached=1&amp;priority=P1&amp;team=social"' in grouped[0]

        # One notice for the whole group, whichever of its events the task is run for.
        for event in breaches[:3]:
            wall.event_notify(event_id=event.id)
        wall.event_notify(event_id=breaches.last().id)
    assert len(mailoutbox) == 1
    assert mailoutbox[0].subject == "[Warroom] 100 P1 cases breached their first-response target in the last minute"
    assert "/queue/?breached=1&priority=P1&team=social" in mailoutbox[0].body


def test_breaches_below_p1_go_to_the_rail_without_a_toast(make_user, settings):
    settings.LIVE_GROUP_SECONDS = 60
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        open_cases(3, "P2")
        traveller.shift(timedelta(hours=2))
        assert len(triage.sla_check()) == 3
    messages = [live.render(event) for event in LiveEvent.objects.filter(kind="case.breached")]
    assert len(messages) == 3 and not any(TOAST.search(message) for message in messages)
    assert LiveGroup.objects.get(kind="case.breached").count == 3


def test_a_group_closes_after_its_window_and_the_next_burst_is_a_new_one(settings):
    settings.LIVE_GROUP_SECONDS = 60
    alike = live.Group(key="test", one="thing happened", many="things happened")
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        first = [live.publish("room.test", summary="x", group=alike) for _ in range(3)]
        traveller.shift(timedelta(seconds=61))
        later = live.publish("room.test", summary="x", group=alike)
    assert len({event.group_id for event in first}) == 1
    assert later.group_id != first[0].group_id
    assert [event.payload["group"]["count"] for event in [*first, later]] == [1, 2, 3, 1]
    assert [event.payload["group"]["first"] for event in [*first, later]] == [True, False, False, True]


def test_grouping_off_leaves_every_event_alone(settings):
    settings.LIVE_GROUP_SECONDS = 0
    event = live.publish("room.test", summary="x", group=live.Group(key="test", one="a", many="b"))
    assert event.group_id is None and "group" not in event.payload
    assert not LiveGroup.objects.exists()


def test_only_decisions_toast(make_user):
    """P1 alerts, pauses, crises and a request for your Yes toast; the rest is rail only."""
    quiet = live.publish("room.announced", summary="FYI", actor="Lead", level="info")
    urgent = live.publish("room.announced", summary="Hold every post", actor="Lead", level="urgent")
    paused = live.publish("queue.paused", summary="Paused", actor="Lead", reason="Blackout")
    asked = live.publish("approval.requested", audience=[live.role_group(roles.LEGAL)], summary="Waiting for Legal: hi",
                         post_id=1, request_id=1, step="legal")
    p2 = live.publish("alert.raised", summary="spike", priority="P2", title="Spike", count=3)
    p1 = live.publish("alert.raised", summary="spike", priority="P1", title="Crisis", count=3)
    toasts = [bool(TOAST.search(live.render(event))) for event in (quiet, urgent, paused, asked, p2, p1)]
    assert toasts == [False, True, True, True, False, True]
    assert 'data-toast-for="legal"' in live.render(asked)


def test_cases_a_batch_opens_in_one_statement_count_into_one_group_per_priority_and_team(settings):
    """The ingest path opens a batch's cases with publish_many: they group like single ones,
    and the next batch within the window joins the same group."""
    settings.LIVE_GROUP_SECONDS = 60
    source = f.source()
    listening.mention_ingest_batch(source_id=source.id, fetched=[f.fetched(f"Order {i} is late") for i in range(30)])
    ids = list(Mention.objects.order_by("id").values_list("id", flat=True))
    first = triage.cases_open_from_mentions(mention_ids=ids[:20], priority="P2")
    second = triage.cases_open_from_mentions(mention_ids=ids[20:], priority="P2")
    assert len(first) == 20 and len(second) == 10

    group = LiveGroup.objects.get(kind="case.opened")
    events = LiveEvent.objects.filter(kind="case.opened").order_by("id")
    assert events.count() == 30 and set(events.values_list("group_id", flat=True)) == {group.id}
    assert group.count == 30 and group.summary() == "30 P2 cases opened"
    assert (group.first_event_id, group.last_event_id) == (events.first().id, events.last().id)
    assert [e.payload["group"]["count"] for e in events] == list(range(1, 31))
    assert [e.payload["group"]["first"] for e in events].count(True) == 1
    # One toast at most in all the renders: a P2 opening is not a decision.
    assert sum(len(TOAST.findall(live.render(event))) for event in events) == 0


def test_a_batch_with_grouping_off_stores_plain_events(settings):
    settings.LIVE_GROUP_SECONDS = 0
    listening.mention_ingest_batch(source_id=f.source().id, fetched=[f.fetched(f"Order {i} is late") for i in range(5)])
    triage.cases_open_from_mentions(mention_ids=list(Mention.objects.values_list("id", flat=True)), priority="P2")
    assert not LiveGroup.objects.exists()
    assert list(LiveEvent.objects.filter(kind="case.opened").values_list("group_id", flat=True)) == [None] * 5
