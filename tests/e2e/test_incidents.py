"""An incident in the browser: a rule's second spike joins its open incident, and the Queue
shows one case with its count and spike history."""

from datetime import timedelta

from django.utils import timezone
from playwright.sync_api import expect

from listening import services as listening
from listening.models import Alert
from tests.e2e.support import off_main_thread, signed_in_page  # noqa: F401  (a fixture)
from tests.listening import factories as f
from triage.models import Case
from warroom import roles


def test_a_second_spike_of_a_rule_is_one_incident_with_its_history_in_the_queue(
    transactional_db, room_server, signed_in_page, make_user
):
    lead = make_user(roles.LEAD, "leo")

    def fire(text):
        listening.mention_ingest_batch(source_id=source.id, fetched=[f.fetched(f"{text} #{i}") for i in range(5)])

    rule = off_main_thread(lambda: listening.rule_create(user=lead, name="Safety scare", kind="crisis",
                                                         query="allergic", open_case=True))
    source = off_main_thread(f.source)
    off_main_thread(lambda: fire("allergic reaction"))
    Alert.objects.filter(rule=rule).update(last_match_at=timezone.now() - timedelta(hours=1))  # that alert is over
    off_main_thread(lambda: fire("allergic again"))
    assert Alert.objects.filter(rule=rule).count() == 2
    incident = Case.objects.get()
    page = signed_in_page(room_server, make_user(roles.COMMUNITY_MANAGER, "maya"), f"/queue/?case={incident.id}")
    expect(page.locator(".cases li.case")).to_have_count(1)
    expect(page.locator(f"#case-{incident.id}")).to_contain_text("10 mentions in this incident · 2 spikes")
    expect(page.locator("#case-detail .spikes")).to_contain_text("Spike history (2)")
    expect(page.locator("#case-detail .spike-list li")).to_have_count(2)
