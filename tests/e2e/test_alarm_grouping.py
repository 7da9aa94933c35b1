"""The room at 2 a.m.: a burst of 100 SLA breaches is one rail item, re-rendered in place
with its count, and at most one toast per person; the rail filters by kind and keeps
pinned items on top."""

import re
from datetime import timedelta

from django.utils import timezone
from playwright.sync_api import expect

from listening import services as listening
from listening.models import Mention
from tests.e2e.support import announce_here, off_main_thread, signed_in_page  # noqa: F401  (a fixture)
from tests.e2e.test_shell import screenshot_dir
from tests.listening import factories as f
from triage import services as triage
from triage.models import Case
from warroom import roles

# Counts every toast the page is ever shown, even one that has timed out since.
COUNT_TOASTS = """() => {
  window.__toastsShown = 0;
  new MutationObserver((records) => {
    for (const record of records) for (const node of record.addedNodes) {
      if (node.nodeType === 1 && node.matches(".toast")) window.__toastsShown += 1;
    }
  }).observe(document.getElementById("toasts"), {childList: true});
}"""


def test_a_burst_of_100_sla_breaches_is_one_rail_item_and_at_most_one_toast_each(
    transactional_db, room_server, signed_in_page, make_user, artifacts
):
    def open_cases():
        listening.mention_ingest_batch(source_id=f.source().id,
                                       fetched=[f.fetched(f"Order {i} never came") for i in range(100)])
        return [triage.case_open_from_mention(mention_id=m.id, priority="P1").id for m in Mention.objects.order_by("id")]

    case_ids = off_main_thread(open_cases)
    lead = make_user(roles.LEAD, "lead")
    pages = [signed_in_page(room_server, make_user(roles.COMMUNITY_MANAGER, "maya", last_name="Reyes")),
             signed_in_page(room_server, lead)]
    for page in pages:
        page.evaluate(COUNT_TOASTS)
        assert page.locator("#room-events li.event-casebreached").count() == 0
        # The hundred cases opened by the system are one rail item already.
        expect(page.locator("#room-events li.event-caseopened")).to_have_count(1)
        expect(page.locator("#room-events li.event-caseopened")).to_contain_text("100 P1 cases opened")

    Case.objects.filter(id__in=case_ids).update(first_response_due=timezone.now() - timedelta(minutes=1))
    assert len(off_main_thread(triage.sla_check)) == 100

    for page in pages:
        breached = page.locator("#room-events li.event-casebreached")
        expect(breached).to_contain_text("100 P1 cases breached their first-response target in the last minute",
                                         timeout=15000)
        expect(breached).to_have_count(1)
        assert breached.locator("a").get_attribute("href") == "/queue/?breached=1&priority=P1&team=social"
        assert page.evaluate("window.__toastsShown") == 1
        expect(page.locator("#toasts .toast")).to_contain_text("SLA breached")

    # The rail by kind: only the cases; then pinned items stay on top of newer ones.
    page = pages[0]
    page.select_option("#rail-filter", "case")
    announce_here(lead, "Kick-off in five minutes")
    announced = page.locator("#room-events li.event-roomannounced")
    expect(announced).to_have_count(1, timeout=10000)
    expect(announced).to_be_hidden()
    assert page.locator("#room-events li.event-casebreached").is_visible()
    page.select_option("#rail-filter", "")
    expect(announced).to_be_visible()
    page.locator("#room-events li.event-casebreached [data-pin]").click()
    announce_here(lead, "Halftime show starts")
    expect(page.locator("#room-events li.event-roomannounced")).to_have_count(2, timeout=10000)
    first = page.locator("#room-events li.event").first
    expect(first).to_have_class(re.compile(r"\bpinned\b"))
    expect(first).to_contain_text("100 P1 cases breached")
    assert page.evaluate("window.__toastsShown") == 1  # announcements that are not urgent do not toast
    page.reload()
    page.wait_for_selector("#connection.dot-live")
    expect(page.locator("#room-events li.event").first).to_contain_text("100 P1 cases breached")
    expect(page.locator("#room-events li.event").first).to_have_class(re.compile(r"\bpinned\b"))
    target = screenshot_dir(artifacts)
    page.screenshot(path=str(target / "room.png"))
    assert (target / "room.png").stat().st_size > 0
