"""The Queue page over HTTP: who sees which cases (scoped on the server, for the page, the
live row fetch, the detail and every action), actions by POST with their refusals, CSRF,
untrusted text rendered as text, a bounded number of queries, filters, and presence."""

from datetime import timedelta

import pytest
import redis
from django.conf import settings
from django.test import Client
from django.utils import timezone

from approvals.models import Account, Post
from approvals.services import CHECKLIST
from listening import services as listening
from listening.models import Mention
from tests.listening import factories as f
from triage import selectors, services
from triage.models import Case
from warroom import live, roles
from warroom.models import LiveEvent

pytestmark = pytest.mark.django_db
QUEUE = "/queue/"
HX = {"HTTP_HX_REQUEST": "true"}
ALL_TICKED = [str(n) for n in range(len(CHECKLIST))]


def open_cases(*texts: str, team: str = "social", priority: str = "P3", **author) -> list[Case]:
    source = f.source()
    fetched = [f.fetched(text, **author) for text in texts]
    listening.mention_ingest_batch(source_id=source.id, fetched=fetched)
    ids = Mention.objects.filter(external_id__in=[m.external_id for m in fetched]).order_by("id").values_list("id", flat=True)
    return [services.case_open_from_mention(mention_id=i, team=team, priority=priority) for i in ids]


def client_for(user, **kwargs) -> Client:
    client = Client(**kwargs)
    client.force_login(user)
    return client


def row_ids(html: str) -> set[int]:
    import re

    return {int(n) for n in re.findall(r'<li id="case-(\d+)"', html)}


@pytest.fixture(autouse=True)
def _no_presence_left_over():
    """Case ids start again in each test; who was looking at case 2 last time must not show."""
    def clear():
        client = redis.Redis.from_url(settings.REDIS_URL)
        for key in client.scan_iter(match="*triage:presence:*"):
            client.delete(key)
    clear()
    yield
    clear()


# --- Who sees what ---------------------------------------------------------------------

def test_legal_sees_only_legal_cases_the_manager_sees_all_and_the_producer_only_pr(make_user):
    social, = open_cases("Where is my order?")
    legal_case, = open_cases("My lawyer will hear about this", team="legal")
    pr_case, = open_cases("Journalist asking for a comment", team="pr")
    manager, legal, producer = make_user(roles.COMMUNITY_MANAGER), make_user(roles.LEGAL), make_user(roles.PRODUCER)

    assert row_ids(client_for(manager).get(QUEUE).content.decode()) == {social.id, legal_case.id, pr_case.id}
    assert row_ids(client_for(legal).get(QUEUE).content.decode()) == {legal_case.id}
    # Producers may not open /queue/ yet (PAGE_ROLES["queue"]); the selector already scopes them to PR.
    assert [c.id for c in selectors.case_queue(user=producer)] == [pr_case.id]
    assert client_for(producer).get(QUEUE).status_code == 200  # PR's escalations only


def test_a_manager_opens_a_legal_case_but_legal_cannot_open_or_act_on_a_social_one(make_user):
    social, = open_cases("Where is my order?")
    legal_case, = open_cases("My lawyer will hear about this", team="legal")
    manager, legal = client_for(make_user(roles.COMMUNITY_MANAGER)), client_for(make_user(roles.LEGAL))

    response = manager.get(QUEUE, {"case": legal_case.id}, **HX, HTTP_HX_TARGET="case-detail")
    assert response.status_code == 200 and "My lawyer will hear about this" in response.content.decode()

    for get in ({"case": social.id}, {"row": social.id}):
        response = legal.get(QUEUE, get, **HX, HTTP_HX_TARGET="case-detail")
        assert "Where is my order?" not in response.content.decode()
    assert legal.get(QUEUE, {"case": social.id}, **HX, HTTP_HX_TARGET="case-detail").status_code == 404
    assert legal.get(QUEUE, {"case": social.id}).status_code == 404  # the whole page, without htmx

    for action in ("close", "note", "viewing"):
        response = legal.post(QUEUE, {"action": action, "case": social.id, "note": "x"}, **HX)
        assert response.status_code == 404, action
    social.refresh_from_db()
    assert social.status == Case.Status.NEW and not social.events.filter(kind="noted").exists()
    assert not LiveEvent.objects.filter(kind="case.presence").exists()

    # Within their own team legal works the case.
    response = legal.post(QUEUE, {"action": "note", "case": legal_case.id, "note": "We reply via counsel."}, **HX,
                          HTTP_HX_TARGET="case-detail")
    assert response.status_code == 200 and "We reply via counsel." in response.content.decode()


def test_the_live_row_fetch_is_scoped_and_says_when_a_row_left(make_user):
    social, = open_cases("Where is my order?")
    manager, legal = client_for(make_user(roles.COMMUNITY_MANAGER)), client_for(make_user(roles.LEGAL))
    html = manager.get(QUEUE, {"row": social.id}, **HX).content.decode()
    assert f'data-case="{social.id}"' in html and f'<li id="case-{social.id}"' in html
    assert f'<li id="case-{social.id}"' not in legal.get(QUEUE, {"row": social.id}, **HX).content.decode()
    # With the page's filters: a row that no longer matches them leaves the page.
    assert "<li" not in manager.get(QUEUE, {"row": social.id, "team": "legal"}, **HX).content.decode()
    services.case_close(case_id=social.id, user=make_user(roles.COMMUNITY_MANAGER))
    html = manager.get(QUEUE, {"row": social.id}, **HX).content.decode()
    assert f'data-case="{social.id}"' in html and "<li" not in html  # gone: the page removes the row


def test_each_case_event_renders_a_row_fetch_and_a_rail_entry(make_user):
    case, = open_cases("Where is my order?")
    manager = make_user(roles.COMMUNITY_MANAGER, "maya")
    services.case_take(case_id=case.id, user=manager)
    services.case_escalate(case_id=case.id, user=manager, team="legal", note="Threatens to sue")
    services.case_wait(case_id=case.id, user=manager)
    services.case_customer_answered(case_id=case.id)
    services.case_note(case_id=case.id, user=manager, text="n")
    services.case_close(case_id=case.id, user=manager)
    kinds = set()
    for event in LiveEvent.objects.filter(kind__startswith="case."):
        html = live.render(event)
        assert f'hx-get="/queue/?row={case.id}"' in html and 'hx-swap-oob="afterbegin:#room-events"' in html, event.kind
        kinds.add(event.kind)
    assert kinds == {"case.opened", "case.assigned", "case.escalated", "case.waiting", "case.customer_answered",
                     "case.noted", "case.closed"}
    # A P3 escalation goes to the rail only: a toast is for what needs a decision (a P1).
    escalated = live.render(LiveEvent.objects.get(kind="case.escalated"))
    assert "escalated to Legal" in escalated and 'class="toast' not in escalated


# --- Actions -----------------------------------------------------------------------------

def test_take_then_someone_else_taking_is_told_who_has_it_with_409(make_user):
    case, = open_cases("Where is my order?")
    maya, noah = make_user(roles.COMMUNITY_MANAGER, "maya"), make_user(roles.COMMUNITY_MANAGER, "noah")
    response = client_for(maya).post(QUEUE, {"action": "take", "case": case.id}, **HX)
    html = response.content.decode()
    assert response.status_code == 200 and html.strip().startswith(f'<li id="case-{case.id}"')
    assert "Maya" in html and "It is yours." in html

    response = client_for(noah).post(QUEUE, {"action": "take", "case": case.id}, **HX)
    assert response.status_code == 409
    assert "Maya already has this case." in response.content.decode()
    case.refresh_from_db()
    assert case.assignee == maya


def test_escalation_needs_a_note_then_reaches_legals_queue(make_user):
    case, = open_cases("My lawyer will hear about this")
    manager, legal = client_for(make_user(roles.COMMUNITY_MANAGER)), client_for(make_user(roles.LEGAL))
    response = manager.post(QUEUE, {"action": "escalate", "case": case.id, "team": "legal", "note": "  "}, **HX,
                            HTTP_HX_TARGET="case-detail")
    assert response.status_code == 400 and "Note is empty" in response.content.decode()
    assert case.id not in row_ids(legal.get(QUEUE).content.decode())

    response = manager.post(QUEUE, {"action": "escalate", "case": case.id, "team": "legal", "note": "Threatens to sue"},
                            **HX, HTTP_HX_TARGET="case-detail")
    assert response.status_code == 200 and "Escalated to Legal." in response.content.decode()
    assert case.id in row_ids(legal.get(QUEUE).content.decode())
    assert "role.legal" in LiveEvent.objects.get(kind="case.escalated").audience


def test_a_reply_on_a_stale_version_is_refused_with_the_change_and_a_fresh_one_goes_to_legal(make_user):
    case, = open_cases("Half my bag was air", author_handle="sam")
    account = Account.objects.create(name="Crunchwave", handle="Crunchwave")
    maya, noah = make_user(roles.COMMUNITY_MANAGER, "maya"), make_user(roles.COMMUNITY_MANAGER, "noah")
    client = client_for(maya)
    detail = client.get(QUEUE, {"case": case.id}, **HX, HTTP_HX_TARGET="case-detail").content.decode()
    assert f'name="version" value="{case.version}"' in detail
    assert "Hi @sam, we&#x27;re sorry about this" in detail and f"(ref #{case.id})" in detail  # canned, filled

    services.case_note(case_id=case.id, user=noah, text="I already DM'd them")
    reply = {"action": "reply", "case": case.id, "version": case.version, "account": account.id,
             "text": "Sorry Sam! DM us.", "checklist": ALL_TICKED}
    response = client.post(QUEUE, reply, **HX, HTTP_HX_TARGET="case-detail")
    html = response.content.decode()
    assert response.status_code == 409
    assert "changed since you opened it (noted by Noah" in html
    assert "I already DM&#x27;d them" in html  # the change is on the page, in the history
    assert "Sorry Sam! DM us." in html  # what was typed is kept
    assert not Post.objects.exists()

    case.refresh_from_db()
    response = client.post(QUEUE, {**reply, "version": case.version}, **HX, HTTP_HX_TARGET="case-detail")
    assert response.status_code == 200 and "Reply sent to legal" in response.content.decode()
    post = Post.objects.get()
    assert post.state == Post.State.PENDING and post.text == "Sorry Sam! DM us."


def test_a_reply_without_every_guardrail_ticked_is_refused(make_user):
    case, = open_cases("Half my bag was air")
    account = Account.objects.create(name="Crunchwave", handle="Crunchwave")
    response = client_for(make_user(roles.COMMUNITY_MANAGER)).post(
        QUEUE, {"action": "reply", "case": case.id, "version": case.version, "account": account.id,
                "text": "Sorry!", "checklist": ["0"]}, **HX, HTTP_HX_TARGET="case-detail")
    assert response.status_code == 400 and "Tick every guardrail question" in response.content.decode()
    assert not Post.objects.exists()


def test_waiting_on_the_customer_stops_the_timer_on_the_row(make_user):
    case, = open_cases("Where is my order?")
    client = client_for(make_user(roles.COMMUNITY_MANAGER))
    response = client.post(QUEUE, {"action": "wait", "case": case.id}, **HX, HTTP_HX_TARGET="case-detail")
    assert response.status_code == 200 and "the clock stopped" in response.content.decode()
    row = client.get(QUEUE, {"row": case.id}, **HX).content.decode()
    assert "status-waiting" in row and ">paused<" in row and "data-due=" not in row
    response = client.post(QUEUE, {"action": "wait", "case": case.id}, **HX, HTTP_HX_TARGET="case-detail")
    assert response.status_code == 409 and "This case is waiting on the customer." in response.content.decode()


def test_close_returns_a_gone_row_and_legal_cannot_take(make_user):
    case, = open_cases("Thanks!")
    response = client_for(make_user(roles.COMMUNITY_MANAGER)).post(QUEUE, {"action": "close", "case": case.id}, **HX)
    assert response.status_code == 200
    assert f'<li id="case-{case.id}" class="case gone">' in response.content.decode()
    case.refresh_from_db()
    assert case.status == Case.Status.RESOLVED

    legal_case, = open_cases("lawyer", team="legal")
    response = client_for(make_user(roles.LEGAL)).post(QUEUE, {"action": "take", "case": legal_case.id}, **HX)
    assert response.status_code == 403 and "Your role cannot work cases." in response.content.decode()


def test_the_lead_assigns_a_case_from_its_detail(make_user):
    case, = open_cases("Where is my order?")
    lead, maya = client_for(make_user(roles.LEAD, "leo")), make_user(roles.COMMUNITY_MANAGER, "maya")
    detail = lead.get(QUEUE, {"case": case.id}, **HX, HTTP_HX_TARGET="case-detail").content.decode()
    assert 'class="assign-form"' in detail and f'<option value="{maya.id}" dir="auto">Maya</option>' in detail
    response = lead.post(QUEUE, {"action": "assign", "case": case.id, "assignee": 10**9}, **HX, HTTP_HX_TARGET="case-detail")
    assert response.status_code == 400 and "Assign to: choose a person." in response.content.decode()
    response = lead.post(QUEUE, {"action": "assign", "case": case.id, "assignee": maya.id}, **HX, HTTP_HX_TARGET="case-detail")
    assert response.status_code == 200 and "Assigned to Maya." in response.content.decode()
    assert Case.objects.get(id=case.id).assignee == maya
    manager_detail = client_for(maya).get(QUEUE, {"case": case.id}, **HX, HTTP_HX_TARGET="case-detail").content.decode()
    assert 'class="assign-form"' not in manager_detail


def test_bulk_close_tag_and_assign_act_on_the_cases_the_user_may_see(make_user):
    a, b, c = open_cases("one", "two", "three")
    legal_case, = open_cases("lawyer", team="legal")
    manager, lead = make_user(roles.COMMUNITY_MANAGER, "maya"), make_user(roles.LEAD, "leo")

    response = client_for(manager).post(QUEUE, {"action": "bulk_tag", "cases": [a.id, b.id], "tag": " Refund  Asked "}, **HX)
    assert response.status_code == 200 and "2 cases tagged refund asked." in response.content.decode()
    assert Case.objects.get(id=a.id).tags == ["refund asked"]
    assert LiveEvent.objects.filter(kind="case.tagged").count() == 2
    assert f'hx-get="/queue/?row={a.id}"' in live.render(LiveEvent.objects.filter(kind="case.tagged").first())

    response = client_for(manager).post(QUEUE, {"action": "bulk_assign", "cases": [a.id], "assignee": manager.id}, **HX)
    assert response.status_code == 403 and "Your role cannot assign cases to others." in response.content.decode()
    response = client_for(lead).post(QUEUE, {"action": "bulk_assign", "cases": [a.id, c.id], "assignee": manager.id}, **HX)
    assert response.status_code == 200 and "2 cases assigned to Maya." in response.content.decode()

    legal = client_for(make_user(roles.LEGAL))
    response = legal.post(QUEUE, {"action": "bulk_close", "cases": [a.id, legal_case.id]}, **HX)
    html = response.content.decode()
    assert response.status_code == 200 and "1 case closed." in html and f"#{a.id}: Case #{a.id} is not in your queue." in html
    assert Case.objects.get(id=a.id).status != Case.Status.RESOLVED

    response = client_for(manager).post(QUEUE, {"action": "bulk_close", "cases": [a.id, b.id, c.id]}, **HX)
    assert response.status_code == 200 and "3 cases closed." in response.content.decode()
    assert Case.objects.filter(status=Case.Status.RESOLVED).count() == 4
    assert client_for(manager).post(QUEUE, {"action": "bulk_close"}, **HX).status_code == 400


def test_a_forged_post_without_the_csrf_token_is_refused(make_user):
    case, = open_cases("Where is my order?")
    client = client_for(make_user(roles.COMMUNITY_MANAGER), enforce_csrf_checks=True)
    assert client.post(QUEUE, {"action": "take", "case": case.id}).status_code == 403
    assert client.post(QUEUE, {"action": "bulk_close", "cases": [case.id]}).status_code == 403
    case.refresh_from_db()
    assert case.assignee is None and case.status == Case.Status.NEW

    client.get(QUEUE)
    token = client.cookies["csrftoken"].value
    assert client.post(QUEUE, {"action": "take", "case": case.id}, HTTP_X_CSRFTOKEN=token).status_code == 302


def test_unknown_action_and_bad_ids_get_a_clear_message(make_user):
    client = client_for(make_user(roles.COMMUNITY_MANAGER))
    response = client.post(QUEUE, {"action": "launch", "case": "1"}, **HX)
    assert response.status_code == 400 and "Unknown action" in response.content.decode()
    response = client.post(QUEUE, {"action": "take", "case": "nope"}, **HX)
    assert response.status_code == 404 and "is not in your queue" in response.content.decode()


# --- Untrusted text ------------------------------------------------------------------------

HOSTILE_TEXT = '<script>window.pwned=1</script><b hx-get="/audit/" hx-trigger="load">x</b> {{ 7*7 }} \u202eevil\u202c'
HOSTILE_NAME = '<img src=x onerror=alert(1)> {% now "Y" %} \u200fשלום'


def test_mention_text_and_author_names_render_as_text_everywhere(make_user):
    case, = open_cases(HOSTILE_TEXT, author_name=HOSTILE_NAME, author_handle="evil\u202e")
    client = client_for(make_user(roles.COMMUNITY_MANAGER))
    pages = [
        client.get(QUEUE).content.decode(),
        client.get(QUEUE, {"row": case.id}, **HX).content.decode(),
        client.get(QUEUE, {"case": case.id}, **HX, HTTP_HX_TARGET="case-detail").content.decode(),
        client.get(QUEUE, {"case": case.id}).content.decode(),
    ]
    for html in pages:
        assert "<script>window.pwned" not in html
        assert 'hx-get="/audit/"' not in html and "hx-get=&quot;/audit/&quot;" in html
        assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
        assert "{{ 7*7 }}" in html and "49" not in html.split("{{ 7*7 }}")[0][-5:]
        assert '{% now &quot;Y&quot; %}' in html
        assert "\u202e" not in html and "\u202c" not in html and "evil" in html and "\u200fשלום" in html
        assert 'dir="auto"' in html


# --- Queries ---------------------------------------------------------------------------------

def test_the_queue_with_50_cases_runs_a_bounded_number_of_queries(make_user, django_assert_max_num_queries):
    manager = make_user(roles.COMMUNITY_MANAGER, "maya")
    listening.rule_create(user=make_user(roles.LEAD), name="Safety", kind="crisis", query="allergic", open_case=True)
    listening.mention_ingest_batch(source_id=f.source().id, fetched=[f.fetched(f"allergic reaction #{n}") for n in range(30)])
    cases = open_cases(*[f"complaint {n}" for n in range(49)], priority="P2")
    for case in cases[::3]:
        services.case_take(case_id=case.id, user=manager)
    client = client_for(manager)
    client.get(QUEUE)  # warm the session
    # Session, user, the user's roles, the live watermark, the cases (mention, source,
    # assignee and incident mention counts joined into one query), the tag filter's tags,
    # the rail, the outgoing-queue banner, the crisis banner (the open crisis, if any): 9,
    # however many rows. An N+1 on any row field (mention, author, source, assignee) would add 50.
    with django_assert_max_num_queries(9):
        response = client.get(QUEUE)
    html = response.content.decode()
    assert len(row_ids(html)) == 50 and "30 mentions in this incident" in html


# --- Filters -----------------------------------------------------------------------------------

def test_filters_mine_team_priority_breached_and_tag(make_user):
    maya = make_user(roles.COMMUNITY_MANAGER, "maya")
    mine, other = open_cases("mine", "other", priority="P2")
    urgent, = open_cases("urgent", priority="P1")
    support, = open_cases("support", team="support")
    services.case_take(case_id=mine.id, user=maya)
    client = client_for(maya)
    client.post(QUEUE, {"action": "bulk_tag", "cases": [other.id], "tag": "refund"}, **HX)
    Case.objects.filter(id=urgent.id).update(first_response_due=timezone.now() - timedelta(minutes=1))

    def ids(**query):
        response = client.get(QUEUE, query, **HX, HTTP_HX_TARGET="queue-results")
        assert response.status_code == 200
        html = response.content.decode()
        assert html.strip().startswith('<section id="queue-results"')
        return row_ids(html)

    assert ids() == {mine.id, other.id, urgent.id, support.id}
    assert ids(mine="1") == {mine.id}
    assert ids(team="support") == {support.id}
    assert ids(priority="P2") == {mine.id, other.id}
    assert ids(breached="1") == {urgent.id}
    assert ids(tag="refund") == {other.id}
    assert ids(priority="P9", team="nope") == {mine.id, other.id, urgent.id, support.id}  # not a choice: ignored
    services.sla_check()
    assert ids(breached="1") == {urgent.id}
    assert 'class="case prio-p1 status-new team-social breached' in client.get(QUEUE).content.decode()


def test_the_queue_is_sorted_by_what_is_due_first(make_user):
    p3, p1, p2 = open_cases("p3"), open_cases("p1", priority="P1"), open_cases("p2", priority="P2")
    html = client_for(make_user(roles.COMMUNITY_MANAGER)).get(QUEUE).content.decode()
    order = [html.index(f'<li id="case-{c[0].id}"') for c in (p1, p2, p3)]
    assert order == sorted(order)


# --- Presence ------------------------------------------------------------------------------------

def test_viewing_and_replying_are_pushed_live_and_a_second_replier_is_warned(make_user):
    case, = open_cases("Where is my order?")
    maya, noah = make_user(roles.COMMUNITY_MANAGER, "maya"), make_user(roles.COMMUNITY_MANAGER, "noah")
    maya_client, noah_client = client_for(maya), client_for(noah)

    assert maya_client.post(QUEUE, {"action": "viewing", "case": case.id}, **HX).status_code == 200
    maya_client.post(QUEUE, {"action": "viewing", "case": case.id}, **HX)  # a refresh: nothing new to push
    assert LiveEvent.objects.filter(kind="case.presence").count() == 1
    response = maya_client.post(QUEUE, {"action": "replying", "case": case.id}, **HX)
    assert "already replying" not in response.content.decode()
    event = LiveEvent.objects.filter(kind="case.presence").latest("id")
    assert event.payload["doing"] == "replying" and "role.legal" not in event.audience
    html = live.render(event)
    assert f'id="case-{case.id}-presence"' in html and "<bdi>Maya</bdi> replying" in html

    response = noah_client.post(QUEUE, {"action": "replying", "case": case.id}, **HX)
    assert "<bdi>Maya</bdi> is already replying to this case." in response.content.decode()
    row = noah_client.get(QUEUE, {"row": case.id}, **HX).content.decode()
    assert "<bdi>Maya</bdi> replying" in row and "<bdi>Noah</bdi> replying" in row

    maya_client.post(QUEUE, {"action": "left", "case": case.id}, **HX)
    assert LiveEvent.objects.filter(kind="case.presence").latest("id").payload["present"] == [
        {"uid": str(noah.id), "who": "Noah", "doing": "replying", "until": pytest.approx(timezone.now().timestamp() + 300, abs=5)}
    ]


# --- The lead's routing and KPI pages ------------------------------------------------------

def test_the_lead_adds_a_triage_rule_and_a_bad_one_comes_back_as_typed(make_user):
    from triage.models import TriageRule

    lead = client_for(make_user(roles.LEAD))
    response = lead.post("/queue/routing/", {"action": "create", "name": "Refunds <b>", "query": "refund*",
                                             "priority": "P2", "team": "support", "tags": "refund, money",
                                             "assign": "nobody", "languages": "en, es"})
    assert response.status_code == 302
    rule = TriageRule.objects.get()
    assert (rule.tags, rule.languages, rule.team) == (["refund", "money"], ["en", "es"], "support")
    page = lead.get("/queue/routing/").content.decode()
    assert "Refunds &lt;b&gt;" in page and "refund, money" in page
    response = lead.post("/queue/routing/", {"action": "create", "name": "Broken", "query": "refund AND (",
                                             "priority": "P1", "team": "legal", "tags": "x"})
    body = response.content.decode()
    assert response.status_code == 400 and 'value="refund AND ("' in body and 'role="alert"' in body
    assert TriageRule.objects.count() == 1
    response = lead.post("/queue/routing/", {"action": "up", "rule": "999999"})
    assert response.status_code == 400 and "no longer exists" in response.content.decode()


def test_sla_targets_are_saved_all_or_nothing(make_user):
    from triage.models import SlaPolicy

    lead = client_for(make_user(roles.LEAD))
    form = {"action": "sla", "P1_first": "10", "P1_resolution": "120", "P2_first": "60", "P2_resolution": "5",
            "P3_first": "240", "P3_resolution": "1440", "P4_first": "1440", "P4_resolution": "4320"}
    response = lead.post("/queue/routing/", form)
    assert response.status_code == 400 and "P2 resolution" in response.content.decode()
    assert 'value="5"' in response.content.decode()  # shown as typed
    assert not SlaPolicy.objects.filter(priority="P1", first_response_minutes=10).exists()
    assert lead.post("/queue/routing/", {**form, "P2_resolution": "480"}).status_code == 302
    assert SlaPolicy.objects.get(priority="P1").first_response_minutes == 10


def test_the_kpi_page_shows_attainment_and_backlog_to_the_lead_only(make_user):
    maya = make_user(roles.COMMUNITY_MANAGER)
    cases = open_cases("bag one", "bag two", priority="P2")
    Case.objects.filter(id=cases[0].id).update(first_responded_at=cases[0].opened_at + timedelta(minutes=12))
    lead = client_for(make_user(roles.LEAD))
    page = lead.get("/queue/kpis/?fresh=1").content.decode()
    assert "12.0 min" in page and "100.0 %" in page
    assert 'aria-label="2 open"' in page
    open_cases("bag three")  # the snapshot is shared for a minute, then the beat task refreshes it
    assert 'aria-label="2 open"' in lead.get("/queue/kpis/").content.decode()
    from triage import tasks

    tasks.kpis_refresh()
    assert 'aria-label="3 open"' in lead.get("/queue/kpis/").content.decode()
    assert client_for(maya).get("/queue/kpis/").status_code == 403
    assert client_for(maya).get("/queue/routing/").status_code == 403


def test_shared_rows_carry_each_viewers_own_abilities_and_csrf_token(make_user):
    import re

    maya, noah = make_user(roles.COMMUNITY_MANAGER, "maya"), make_user(roles.COMMUNITY_MANAGER, "noah")
    (case,) = open_cases("my bag was empty")
    services.case_take(case_id=case.id, user=maya)

    def row_of(page: str) -> str:
        return re.search(rf'<li id="case-{case.id}".*?</li>', page, re.S).group(0)

    mine = row_of(client_for(maya).get(QUEUE).content.decode())
    noah_client = client_for(noah, enforce_csrf_checks=True)
    theirs = row_of(noah_client.get(QUEUE).content.decode())
    assert "take-form" not in mine and " mine" in mine
    assert "take-form" in theirs and " mine" not in theirs
    tokens = set(re.findall(r'name="csrfmiddlewaretoken" value="([^"]+)"', theirs))
    assert len(tokens) == 1 and not tokens.pop().startswith("csrf-")  # a real token, not the row's marker
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', theirs).group(1)
    response = noah_client.post(QUEUE, {"action": "close", "case": case.id, "csrfmiddlewaretoken": token})
    assert response.status_code == 302
    assert Case.objects.get(id=case.id).status == Case.Status.RESOLVED
