"""The Approvals pages through the test Client: what each role sees, answers and their
refusals (400, 403, 409), the composer, the pause banner on every page, the resume review,
escaping of untrusted text, and the calendar's time zones."""

import html as htmllib
import re
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from approvals import context as approvals_context
from approvals import services
from approvals.models import Account, ApprovalRequest, Post, QueueState
from warroom import roles

pytestmark = pytest.mark.django_db

TICKED = {question: True for question in services.CHECKLIST}
HOSTILE = '<script>window.pwned=1</script><b hx-get="/logout/" hx-trigger="load">x</b> {{ 7*7 }} \u202eevil\u202c \u200f'


@pytest.fixture
def account():
    return Account.objects.create(name="Brand US", handle="brand_us", time_zone="America/New_York")


@pytest.fixture
def cm(make_user):
    return make_user(roles.COMMUNITY_MANAGER, "maya")


@pytest.fixture
def legal(make_user):
    return make_user(roles.LEGAL, "lena")


@pytest.fixture
def lead(make_user):
    return make_user(roles.LEAD, "leo")


def signed_in(user, **kwargs) -> Client:
    client = Client(raise_request_exception=False, **kwargs)
    client.force_login(user)
    return client


def htmx(client: Client, url: str, data: dict):
    return client.post(url, data, HTTP_HX_REQUEST="true")


def submitted(author, account, text="Lights out? Our snacks glow in the dark.", publish_at=None) -> Post:
    post = services.post_create(author=author, account_id=account.id, text=text,
                                publish_at=publish_at or timezone.now() + timedelta(hours=2))
    return services.post_submit(post_id=post.id, user=author, checklist=TICKED)


def open_request(post: Post) -> ApprovalRequest:
    return post.requests.get(state=ApprovalRequest.State.OPEN)


def error_message(page: str) -> str:
    match = re.search(r'<p class="error" role="alert">(.*?)</p>', page, re.S)
    assert match, "no error message on the page"
    return htmllib.unescape(match.group(1))


def main(page: str) -> str:
    """The page's own content, without the activity rail (which lists every event's summary)."""
    return re.search(r'<main id="main">.*?</main>', page, re.S).group(0)


def banner(page: str) -> str:
    match = re.search(r'<div id="pause-banner".*?</div>', page, re.S)
    assert match, "no pause banner element on the page"
    return match.group(0)


# --- What legal sees ---------------------------------------------------------------------

def test_legal_sees_only_open_requests_waiting_for_legal(cm, legal, lead, account):
    draft = services.post_create(author=cm, account_id=account.id, text="A draft legal must not see")
    waiting = submitted(cm, account, text="Waiting for legal")
    published = submitted(lead, account, text="Already out of the door")
    services.post_approve(post_id=published.id, user=legal, content_hash=published.content_hash())
    Post.objects.filter(id=published.id).update(state=Post.State.PUBLISHED, platform_id="1800")
    rejected = submitted(cm, account, text="Said no to this one")
    services.post_reject(post_id=rejected.id, user=legal, reason="Off brand", content_hash=rejected.content_hash())

    full = signed_in(legal).get(reverse("approvals")).content.decode()
    page = main(full)

    assert f'id="request-{open_request(waiting).id}"' in page
    assert "Waiting for legal" in page
    for hidden in (draft, published, rejected):
        assert hidden.text not in page
    assert "<title>(1) Approvals · Warroom</title>" in full
    assert 'id="composer"' not in page  # legal does not write posts
    card = re.search(r'<article id="request-\d+".*?</article>', page, re.S).group(0)
    assert f'name="content_hash" value="{waiting.content_hash()}"' in card
    assert "@brand_us" in card and "America/New_York" in card and "UTC" in card
    assert "Maya" in card  # who asked
    for question in services.CHECKLIST:
        assert htmllib.escape(question) in card


def test_the_lead_sees_lead_steps_and_posts_that_need_a_check_but_not_legal_steps(cm, legal, lead, account):
    account.lead_must_approve = True
    account.save()
    legal_step = submitted(cm, account, text="Still with legal")
    lead_step = submitted(cm, account, text="Legal said yes, lead next")
    services.post_approve(post_id=lead_step.id, user=legal, content_hash=lead_step.content_hash())
    unsure = submitted(cm, account, text="X may have taken this one")
    Post.objects.filter(id=unsure.id).update(state=Post.State.NEEDS_CHECK, last_error="Timed out")
    ApprovalRequest.objects.filter(post=unsure).update(state=ApprovalRequest.State.APPROVED)

    full = signed_in(lead).get(reverse("approvals")).content.decode()
    page = re.search(r'<section id="waiting".*?</section>', full, re.S).group(0)

    assert "Legal said yes, lead next" in page and f'id="check-{unsure.id}"' in page
    assert "Still with legal" not in page
    assert "<title>(2) Approvals · Warroom</title>" in full

    response = htmx(signed_in(lead), reverse("approvals"),
                    {"action": "resolve", "post": unsure.id, "published": "1", "platform_id": "1801"})
    assert response.status_code == 200
    unsure.refresh_from_db()
    assert unsure.state == Post.State.PUBLISHED and unsure.platform_id == "1801"


def test_an_edited_post_comes_back_to_legal_with_the_diff(cm, legal, account):
    post = submitted(cm, account, text="Our snacks glow in the dark")
    services.post_edit(post_id=post.id, user=cm, text="Our <new> snacks glow all night")

    page = signed_in(legal).get(reverse("approvals")).content.decode()

    diff = re.search(r'<p class="diff-text" dir="auto">(.*?)</p>', page, re.S).group(1)
    assert diff == "Our<ins> &lt;new&gt;</ins> snacks glow <del>in the dark</del><ins>all night</ins>"
    assert "<new>" not in page
    assert page.count('class="approval-item') == 1  # the voided request is gone


# --- Answers and their refusals ----------------------------------------------------------

def test_legal_approves_and_rejects_through_htmx(cm, legal, account):
    yes, no = submitted(cm, account, text="Yes please"), submitted(cm, account, text="No thanks")
    client = signed_in(legal)

    response = htmx(client, reverse("approvals"), {"action": "approve", "post": yes.id,
                                                   "content_hash": yes.content_hash(), "card": f"request-{yes.id}"})
    assert response.status_code == 200 and "Yes sent." in response.content.decode()
    yes.refresh_from_db()
    assert yes.state == Post.State.SCHEDULED

    response = htmx(client, reverse("approvals"), {"action": "reject", "post": no.id, "content_hash": no.content_hash(),
                                                   "reason": ""})
    assert response.status_code == 400
    assert error_message(response.content.decode()) == "Reason is empty: tell the author what to change."
    response = htmx(client, reverse("approvals"), {"action": "reject", "post": no.id, "content_hash": no.content_hash(),
                                                   "reason": "Too close to the outage"})
    assert response.status_code == 200
    no.refresh_from_db()
    assert no.state == Post.State.REJECTED and "Too close to the outage" in no.last_error


def test_the_author_sees_the_answer_in_my_posts(cm, legal, account):
    post = submitted(cm, account, text="Hoping for a yes")
    services.post_reject(post_id=post.id, user=legal, reason="Not during the blackout", content_hash=post.content_hash())

    page = signed_in(cm).get(reverse("approvals")).content.decode()

    row = re.search(rf'<li id="post-{post.id}".*?</li>', page, re.S).group(0)
    assert "Rejected" in row and "Not during the blackout" in row and "Save and send to legal" in row


def test_a_published_post_links_to_x(cm, legal, account):
    post = submitted(cm, account)
    Post.objects.filter(id=post.id).update(state=Post.State.PUBLISHED, platform_id="1800000000000000001")
    page = signed_in(cm).get(reverse("approvals")).content.decode()
    assert 'href="https://x.com/brand_us/status/1800000000000000001"' in page


def test_a_stale_hash_is_a_409_shown_on_the_card(cm, legal, account):
    post = submitted(cm, account, text="First version")
    seen_hash = post.content_hash()
    services.post_edit(post_id=post.id, user=cm, text="Second version")

    response = htmx(signed_in(legal), reverse("approvals"),
                    {"action": "approve", "post": post.id, "content_hash": seen_hash, "card": "request-1"})

    assert response.status_code == 409
    page = response.content.decode()
    assert "changed since you opened it" in error_message(page)
    assert "Second version" in page and f'value="{Post.objects.get(id=post.id).content_hash()}"' in page
    assert Post.objects.get(id=post.id).state == Post.State.PENDING


def test_a_forged_post_without_csrf_token_is_refused(cm, legal, account):
    post = submitted(cm, account)
    client = signed_in(legal, enforce_csrf_checks=True)
    response = client.post(reverse("approvals"), {"action": "approve", "post": post.id, "content_hash": post.content_hash()})
    assert response.status_code == 403
    assert Post.objects.get(id=post.id).state == Post.State.PENDING


def test_a_community_manager_cannot_approve_nor_pause(cm, make_user, account):
    post = submitted(make_user(roles.COMMUNITY_MANAGER, "noah"), account)  # someone else's: the role is what refuses
    client = signed_in(cm)
    response = htmx(client, reverse("approvals"), {"action": "approve", "post": post.id, "content_hash": post.content_hash()})
    assert response.status_code == 403
    assert "waits for legal" in error_message(response.content.decode())
    assert client.post(reverse("approvals"), {"action": "approve", "post": post.id,
                                              "content_hash": post.content_hash()}).status_code == 403
    assert Post.objects.get(id=post.id).state == Post.State.PENDING
    assert client.post(reverse("queue_switch"), {"action": "pause", "reason": "mine"}).status_code == 403
    assert not QueueState.objects.filter(paused=True).exists()


def test_the_author_is_not_offered_yes_or_no_and_a_forged_answer_is_refused_in_words(legal, lead, account):
    """A lead who also holds legal's role writes a post: their Approvals page lists it under
    their posts but never offers Yes or No on it; another legal person gets the card."""
    lead.groups.add(Group.objects.get(name=roles.LEGAL))  # the lead holds legal's role too
    post = submitted(lead, account, text="The lead's own post")
    request = open_request(post)
    client = signed_in(lead)
    page = main(client.get(reverse("approvals")).content.decode())
    assert f'id="request-{request.id}"' not in page and f'id="post-{post.id}"' in page
    assert not re.search(rf'name="post" value="{post.id}">.{{0,200}}content_hash', page, re.S)  # no answer form for it
    assert f'id="request-{request.id}"' in signed_in(legal).get(reverse("approvals")).content.decode()

    response = htmx(client, reverse("approvals"), {"action": "approve", "post": post.id, "content_hash": post.content_hash()})
    assert response.status_code == 403
    assert "You wrote this post, so you cannot answer its approval request" in error_message(response.content.decode())
    plain = client.post(reverse("approvals"), {"action": "approve", "post": post.id, "content_hash": post.content_hash()})
    assert plain.status_code == 403 and "You wrote this post" in error_message(main(plain.content.decode()))
    assert Post.objects.get(id=post.id).state == Post.State.PENDING


def test_legal_cannot_pause(legal):
    response = signed_in(legal).post(reverse("queue_switch"), {"action": "pause", "reason": "stop"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 403
    assert not QueueState.objects.filter(paused=True).exists()


def test_an_unknown_post_is_a_404_message(legal):
    response = htmx(signed_in(legal), reverse("approvals"), {"action": "approve", "post": "999999", "content_hash": "x"})
    assert response.status_code == 404 and error_message(response.content.decode()) == "That post does not exist."


# --- The composer ------------------------------------------------------------------------

def test_the_composer_creates_and_submits_in_one_go(cm, account):
    response = htmx(signed_in(cm), reverse("approvals"), {
        "action": "compose", "account": account.id, "text": "Kick-off snacks are here", "when": "at",
        "publish_at": (timezone.now() + timedelta(days=1)).astimezone(dt_timezone.utc).strftime("%Y-%m-%dT%H:%M"),
        "checklist": ["0", "1", "2"],
    })
    assert response.status_code == 200
    post = Post.objects.get()
    assert post.state == Post.State.PENDING and post.requests.filter(state="open").count() == 1
    page = response.content.decode()
    assert "Sent to legal" in page and f'id="post-{post.id}"' in page and 'hx-swap-oob="afterbegin:#my-posts"' in page


def test_the_composer_reads_the_time_in_the_accounts_time_zone(cm, account):
    signed_in(cm).post(reverse("approvals"), {
        "action": "compose", "account": account.id, "text": "At nine in New York", "when": "at",
        "publish_at": "2031-07-04T21:00", "checklist": ["0", "1", "2"],
    })
    assert Post.objects.get().publish_at == datetime(2031, 7, 5, 1, 0, tzinfo=dt_timezone.utc)  # EDT is UTC-4


def test_the_composer_keeps_what_was_typed_on_a_refusal(cm, account, settings):
    typed = "Our glow snacks during the blackout <3"
    data = {"action": "compose", "accounts": [account.id], "text": typed, "when": "now", "checklist": ["0", "2"]}
    response = htmx(signed_in(cm), reverse("approvals"), data)
    assert response.status_code == 400
    page = response.content.decode()
    assert "Tick every guardrail question" in error_message(page)
    assert htmllib.escape(typed) in page and f'name="accounts" value="{account.id}" checked' in page
    assert 'value="0" checked' in page and 'value="1">' in page
    assert not Post.objects.exists()  # a refusal leaves no draft behind

    settings.GUARDRAIL_BLOCKED_TERMS = ["blackout"]
    response = htmx(signed_in(cm), reverse("approvals"), {**data, "checklist": ["0", "1", "2"]})
    assert response.status_code == 400
    assert '"blackout" (a blocked term)' in error_message(response.content.decode())
    assert htmllib.escape(typed) in response.content.decode()
    response = htmx(signed_in(cm), reverse("approvals"),
                    {**data, "checklist": ["0", "1", "2"], "override_reason": "The blackout is the joke; PR agreed"})
    assert response.status_code == 200
    assert Post.objects.get().lint_override == "The blackout is the joke; PR agreed"


def test_the_composer_without_javascript_shows_the_page_with_the_message(cm, account):
    response = signed_in(cm).post(reverse("approvals"), {"action": "compose", "account": account.id, "text": "",
                                                         "checklist": ["0", "1", "2"]})
    assert response.status_code == 400
    assert error_message(response.content.decode()) == "Text is empty: write the post."


def test_legal_cannot_compose(legal, account):
    response = htmx(signed_in(legal), reverse("approvals"), {"action": "compose", "account": account.id, "text": "hi",
                                                             "checklist": ["0", "1", "2"]})
    assert response.status_code == 403 and not Post.objects.exists()


def test_the_author_edits_and_reschedules_from_my_posts(cm, legal, account):
    post = submitted(cm, account, text="Before")
    services.post_approve(post_id=post.id, user=legal, content_hash=post.content_hash())
    client = signed_in(cm)

    response = htmx(client, reverse("approvals"), {"action": "schedule", "post": post.id, "publish_at": "2031-01-01T12:00"})
    assert response.status_code == 200
    post.refresh_from_db()
    assert post.state == Post.State.SCHEDULED and post.publish_at == datetime(2031, 1, 1, 17, 0, tzinfo=dt_timezone.utc)

    response = htmx(client, reverse("approvals"), {"action": "edit", "post": post.id, "text": "After"})
    assert response.status_code == 200
    post.refresh_from_db()
    assert post.state == Post.State.PENDING and post.text == "After"
    assert f'id="post-{post.id}"' in response.content.decode()

    response = htmx(client, reverse("approvals"), {"action": "edit", "post": post.id, "text": "x" * 281})
    assert response.status_code == 400
    assert "281 characters" in error_message(response.content.decode())
    assert "x" * 281 in response.content.decode()  # kept as typed


# --- Untrusted text ----------------------------------------------------------------------

def test_untrusted_post_text_renders_escaped(cm, legal, account):
    post = submitted(cm, account, text=HOSTILE)
    services.post_edit(post_id=post.id, user=cm, text=HOSTILE + " again")
    escaped = htmllib.escape(HOSTILE)

    for user, url in ((legal, reverse("approvals")), (cm, reverse("approvals")), (cm, reverse("calendar"))):
        page = signed_in(user).get(url).content.decode()
        assert main(page).count("window.pwned") >= 1, url
        assert "<script>window.pwned" not in page and "<b hx-get" not in page, url
        assert "&lt;script&gt;window.pwned=1&lt;/script&gt;&lt;b hx-get=&quot;/logout/&quot;" in page, url
        assert "{{ 7*7 }}" in page and "\u202eevil\u202c" in page, url
    page = signed_in(legal).get(reverse("approvals")).content.decode()
    assert f'<p class="post-text" dir="auto">{escaped} again</p>' in page
    assert "<ins>" in page and "<del>" not in page  # the diff: " again" was added


# --- The queue switch --------------------------------------------------------------------

def test_the_lead_pauses_with_a_reason(lead):
    client = signed_in(lead)
    response = client.post(reverse("queue_switch"), {"action": "pause", "reason": "   "}, HTTP_HX_REQUEST="true")
    assert response.status_code == 400
    assert "Reason is empty" in error_message(response.content.decode())
    assert not QueueState.objects.filter(paused=True).exists()

    response = client.post(reverse("queue_switch"), {
        "action": "pause", "reason": "Blackout in the stadium", "auto_resume_at": "2031-02-09T23:30",
    }, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    page = response.content.decode()
    assert "data-paused" in page and 'id="pause-banner"' in page and 'hx-swap-oob="outerHTML"' in page
    queue = QueueState.objects.get()
    assert queue.paused and queue.reason == "Blackout in the stadium" and queue.paused_by == lead
    assert queue.auto_resume_at == datetime(2031, 2, 9, 23, 30, tzinfo=dt_timezone.utc)

    response = client.post(reverse("queue_switch"), {"action": "pause", "reason": "again", "next": "/feed/"})
    assert response.status_code == 409 and "already paused" in error_message(response.content.decode())


def test_pausing_without_javascript_returns_to_the_page_it_came_from(lead):
    response = signed_in(lead).post(reverse("queue_switch"), {"action": "pause", "reason": "Hold", "next": "/feed/"})
    assert response.status_code == 302 and response["Location"] == "/feed/"
    response = signed_in(lead).post(reverse("queue_switch"), {"action": "resume", "release": "none"})
    response = signed_in(lead).post(reverse("queue_switch"), {"action": "pause", "reason": "Hold",
                                                              "next": "https://evil.example/"})
    assert response["Location"] == reverse("approvals")


PAGES = {"room": "/", "feed": "/feed/", "queue": "/queue/", "approvals": "/approvals/", "calendar": "/approvals/calendar/",
         "playbooks": "/playbooks/", "wall": "/wall/", "audit": "/audit/", "alerts": "/feed/alerts/"}


@pytest.mark.parametrize("role", roles.ALL)
def test_the_banner_shows_on_every_page_while_paused(role, make_user, lead):
    user = make_user(role)
    client = signed_in(user)
    allowed = [path for name, path in PAGES.items() if role in roles.PAGE_ROLES[name]]
    for path in allowed:
        assert " hidden" in banner(client.get(path).content.decode()), path  # running: there, but hidden

    services.queue_pause(user=lead, reason="Blackout <in> the stadium",
                         auto_resume_at=timezone.now().replace(microsecond=0) + timedelta(hours=1))
    for path in allowed:
        shown = banner(client.get(path).content.decode())
        assert " hidden" not in shown, path
        assert "Blackout &lt;in&gt; the stadium" in shown and "Leo" in shown and "auto-resumes at" in shown, path
    # The switch is in the header of every page, for the lead only.
    page = client.get("/").content.decode()
    assert ('id="queue-switch"' in page) == (role == roles.LEAD)


def test_the_banner_costs_at_most_one_query(lead):
    services.queue_pause(user=lead, reason="Hold")
    request = RequestFactory().get("/")
    request.user = lead
    roles.roles_of(lead)  # the role context processor has already cached these
    with CaptureQueriesContext(connection) as queries:
        context = approvals_context.queue_switch(request)
        assert context["queue_banner"].paused and context["queue_banner"].reason == "Hold" and context["can_pause"]
    assert len(queries) <= 1


def _due_while_paused(cm, legal, lead, account, text):
    post = submitted(cm, account, text=text)
    services.post_approve(post_id=post.id, user=legal, content_hash=post.content_hash())
    Post.objects.filter(id=post.id).update(publish_at=timezone.now() - timedelta(minutes=1))
    return post


@pytest.mark.parametrize("release", ["none", "selected", "all"])
def test_resume_releases_none_some_or_all_of_what_came_due(release, cm, legal, lead, account):
    services.queue_pause(user=lead, reason="Hold everything")
    first = _due_while_paused(cm, legal, lead, account, "First due")
    second = _due_while_paused(cm, legal, lead, account, "Second due")
    client = signed_in(lead)

    page = client.get(reverse("queue_switch")).content.decode()
    assert f'id="due-{first.id}"' in page and f'id="due-{second.id}"' in page and "Hold everything" in page

    response = client.post(reverse("queue_switch"), {"action": "resume", "release": release, "post": [first.id]})
    assert response.status_code == 302
    assert not QueueState.objects.get().paused
    released = {"none": set(), "selected": {first.id}, "all": {first.id, second.id}}[release]
    for post in (first, second):
        post.refresh_from_db()
        expected = Post.State.SCHEDULED if post.id in released else Post.State.APPROVED
        assert post.state == expected, (release, post.text)
    assert " hidden" in banner(client.get("/").content.decode())


def test_resume_without_a_choice_is_a_400(lead):
    services.queue_pause(user=lead, reason="Hold")
    response = signed_in(lead).post(reverse("queue_switch"), {"action": "resume"})
    assert response.status_code == 400 and "Choose what to release" in error_message(response.content.decode())
    assert QueueState.objects.get().paused


# --- The calendar ------------------------------------------------------------------------

def test_the_calendar_shows_posts_in_their_accounts_time_zone_and_utc(cm, legal, make_user):
    tokyo = Account.objects.create(name="Brand JP", handle="brand_jp", time_zone="Asia/Tokyo")
    new_york = Account.objects.create(name="Brand US", handle="brand_us", time_zone="America/New_York")
    at = datetime(2031, 3, 12, 1, 30, tzinfo=dt_timezone.utc)  # Wednesday
    submitted(cm, tokyo, text="Tokyo morning", publish_at=at)
    submitted(cm, new_york, text="New York evening", publish_at=at)
    producer = make_user(roles.PRODUCER)

    page = signed_in(producer).get(reverse("calendar"), {"view": "week", "date": "2031-03-12"}).content.decode()

    tokyo_item = re.search(r'<li id="cal-post-\d+" class="cal-post state-pending">(?:(?!</li>).)*Tokyo morning.*?</li>', page, re.S)
    new_york_item = re.search(r'<li id="cal-post-\d+" class="cal-post state-pending">(?:(?!</li>).)*New York evening.*?</li>', page, re.S)
    assert tokyo_item and new_york_item
    assert "Wed 10:30 JST" in tokyo_item.group(0) and "01:30 UTC" in tokyo_item.group(0)
    assert "Tue 21:30 EDT" in new_york_item.group(0) and "01:30 UTC" in new_york_item.group(0)
    assert page.count('class="cal-day') == 7

    day = signed_in(producer).get(reverse("calendar"), {"view": "day", "date": "2031-03-11"}).content.decode()
    assert page.count("cal-post-") >= 2 and "Tokyo morning" not in day  # days run in UTC

    bad = signed_in(producer).get(reverse("calendar"), {"date": "2031-13-45"})
    assert bad.status_code == 400 and "is not a date" in error_message(bad.content.decode())


def test_legal_cannot_open_the_calendar(legal):
    assert signed_in(legal).get(reverse("calendar")).status_code == 403


# --- The live sync partial ---------------------------------------------------------------

def test_the_sync_partial_shows_each_user_only_their_part(cm, legal, make_user, account):
    post = submitted(cm, account, text="Synced")
    other = make_user(roles.PRODUCER)
    url = reverse("approvals") + f"?post={post.id}"

    for_legal = signed_in(legal).get(url, HTTP_HX_REQUEST="true").content.decode()
    assert f'data-post="{post.id}"' in for_legal and 'data-count="1"' in for_legal
    assert f'id="request-{open_request(post).id}"' in for_legal and f'id="post-{post.id}"' not in for_legal

    for_author = signed_in(cm).get(url, HTTP_HX_REQUEST="true").content.decode()
    assert f'id="post-{post.id}"' in for_author and "approval-item" not in for_author

    for_other = signed_in(other).get(url, HTTP_HX_REQUEST="true").content.decode()
    assert "Synced" not in for_other and 'data-count=""' in for_other
