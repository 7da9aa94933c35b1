"""The lead's routing in a browser: a triage rule made on the Routing page routes the next
matching mention into the Queue with its team, priority and tags, live in a manager's
Queue; the KPI page shows what the cases' times add up to. Takes the README screenshots
of both pages (UPDATE_SCREENSHOTS=1)."""

from datetime import timedelta

from django.utils import timezone
from playwright.sync_api import expect

from listening import services as listening
from listening.models import Mention
from tests.e2e.support import off_main_thread, signed_in_page  # noqa: F401  (a fixture)
from tests.e2e.test_shell import screenshot_dir
from tests.listening import factories as f
from triage import services
from triage.models import Case, TriageRule
from warroom import roles


def hear(text: str, **author) -> None:
    off_main_thread(lambda: listening.mention_ingest_batch(source_id=f.source().id, fetched=[f.fetched(text, **author)]))


def test_a_rule_made_in_the_browser_routes_the_next_mention_live(
    transactional_db, room_server, signed_in_page, make_user, artifacts
):
    lead = make_user(roles.LEAD, "lena", last_name="Ortiz")
    maya = make_user(roles.COMMUNITY_MANAGER, "maya")
    page = signed_in_page(room_server, lead, "/queue/routing/")
    form = page.locator("#new-rule form")
    form.locator("input[name=name]").fill("Refund demands to support")
    form.get_by_label("has the words").fill('refund OR "money back"')
    form.locator("select[name=priority]").select_option("P2")
    form.locator("select[name=team]").select_option("support")
    form.get_by_label("Tags").fill("refund, billing")
    form.get_by_role("button", name="Add rule").click()
    expect(page.locator("#triage-rules .rule-list > li")).to_have_count(1)
    expect(page.locator("#triage-rules")).to_contain_text("Refund demands to support")
    assert TriageRule.objects.get().tags == ["refund", "billing"]

    # A broken query comes back with the reason, as typed, and nothing is saved.
    page.locator("#new-rule summary").click()
    form = page.locator("#new-rule form")
    form.locator("input[name=name]").fill("Broken")
    form.get_by_label("has the words").fill("refund AND (")
    form.get_by_role("button", name="Add rule").click()
    expect(page.locator("#new-rule [role=alert]")).to_contain_text('closing ")"')
    expect(page.locator("#new-rule form").get_by_label("has the words")).to_have_value("refund AND (")
    assert TriageRule.objects.count() == 1

    queue = signed_in_page(room_server, maya, "/queue/")
    hear("I want my money back, the bag was half empty", author_handle="sam")
    hear("Loved the halftime ad", author_handle="kim")  # matches no rule: no case
    row = queue.locator("#queue-rows > li.case")
    expect(row).to_have_count(1, timeout=10000)
    expect(row).to_contain_text("P2")
    expect(row).to_contain_text("Support")
    expect(row.locator(".tags")).to_contain_text("refund")
    case = Case.objects.get()
    assert case.mention.author_handle == "sam" and case.rule.name == "Refund demands to support"

    # Some history for the KPI page: cases answered in and out of their targets.
    mentions = []
    for n in range(6):
        hear(f"refund please, order {n}", author_handle=f"fan{n}")
    for n, minutes in enumerate((12, 25, 40, 55, 75, 150)):
        mention = Mention.objects.get(text=f"refund please, order {n}")
        opened = Case.objects.get(mention=mention)
        Case.objects.filter(id=opened.id).update(opened_at=timezone.now() - timedelta(hours=3),
                                                 first_response_due=timezone.now() - timedelta(hours=2),
                                                 first_responded_at=timezone.now() - timedelta(hours=3) + timedelta(minutes=minutes))
        mentions.append(mention)
    off_main_thread(lambda: services.case_take(case_id=case.id, user=maya))
    page.goto(f"{room_server.url}/queue/routing/")
    expect(page.locator("#triage-rules")).to_contain_text("7 cases routed")
    page.screenshot(path=str(screenshot_dir(artifacts) / "routing.png"), full_page=True)

    page.goto(f"{room_server.url}/queue/kpis/?fresh=1")
    expect(page.locator("#attainment")).to_contain_text("47.5 min")  # the median of the six
    expect(page.locator("#backlog")).to_contain_text("Support")
    page.screenshot(path=str(screenshot_dir(artifacts) / "kpis.png"), full_page=True)
