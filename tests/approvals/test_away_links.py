"""Approve away from the desk: an approver on deck gets a signed, single-use link bound to
the request and the exact text; the page needs sign-in and the right person; every
refusal (used twice, expired, edited since, someone else, forged) says why and is audited."""

import re
from urllib.parse import parse_qs, urlsplit
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse

from approvals import services
from approvals.models import Account, ApprovalLink, ApprovalRequest, Post
from wall import services as wall
from warroom import presence, roles
from warroom.models import AuditEntry

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("nobody_present")]
TICKED = {question: True for question in services.CHECKLIST}
LINK = re.compile(r"/approvals/away/([^/\s]+)/")


def on_deck(make_user, role, name):
    user = make_user(role, name, email=f"{name}@example.com")
    wall.notification_preference_set(user=user, on_deck=True)
    return user


@pytest.fixture
def ana(make_user):
    return on_deck(make_user, roles.LEGAL, "ana")


@pytest.fixture
def author(make_user):
    return make_user(roles.COMMUNITY_MANAGER, "cam")


@pytest.fixture
def post(author):
    account = Account.objects.create(name="Crunchwave", handle="Crunchwave")
    draft = services.post_create(author=author, account_id=account.id, text="Lights out? Our chips still crunch.",
                                 publish_on_approval=True)
    return services.post_submit(post_id=draft.id, user=author, checklist=TICKED)


def notify(post) -> int:
    event = post.requests.get(state=ApprovalRequest.State.OPEN)
    from warroom.models import LiveEvent

    live_event = LiveEvent.objects.filter(kind="approval.requested", payload__request_id=event.id).latest("id")
    return wall.approval_notify(event_id=live_event.id)


def token_sent(mailoutbox, to: str) -> str:
    mail = next(m for m in mailoutbox if m.to == [to])
    return LINK.search(mail.body).group(1)


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def refusals(why: str) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(action="approval_link.refuse", details__why=why))


def test_an_approver_on_deck_answers_yes_from_the_link_in_their_notice(ana, post, mailoutbox):
    assert notify(post) == 1
    token = token_sent(mailoutbox, ana.email)
    link = ApprovalLink.objects.get()
    assert link.user == ana and link.content_hash == post.content_hash()
    assert token not in link.token_hash and not ApprovalLink.objects.filter(token_hash=token).exists()
    assert notify(post) == 0  # a retried task sends nothing twice

    client = signed_in(ana)
    page = client.get(reverse("approval_away", args=[token]))
    assert page.status_code == 200
    html = page.content.decode()
    assert "Lights out? Our chips still crunch." in html and "grandmother" in html  # the card legal sees in the room
    assert 'name="reason"' in html and "Yes" in html

    answered = client.post(reverse("approval_away", args=[token]), {"action": "approve"})
    assert answered.status_code == 200 and "Yes sent" in answered.content.decode()
    post.refresh_from_db()
    assert post.state == Post.State.SCHEDULED and post.approved_hash == link.content_hash
    assert post.requests.get(state=ApprovalRequest.State.APPROVED).answered_by == ana
    assert AuditEntry.objects.filter(action="approval_link.use", actor=ana).exists()


def test_the_link_lands_on_sign_in_first(ana, post, mailoutbox):
    notify(post)
    url = reverse("approval_away", args=[token_sent(mailoutbox, ana.email)])
    response = Client().get(url)
    assert response.status_code == 302
    location = urlsplit(response["Location"])
    assert location.path == "/login/" and parse_qs(location.query)["next"] == [url]


def test_a_second_use_is_refused_and_audited(ana, post, mailoutbox):
    notify(post)
    token = token_sent(mailoutbox, ana.email)
    client = signed_in(ana)
    assert client.post(reverse("approval_away", args=[token]), {"action": "approve"}).status_code == 200
    again = client.post(reverse("approval_away", args=[token]), {"action": "reject", "reason": "changed my mind"})
    assert again.status_code == 409 and "used already" in again.content.decode()
    assert client.get(reverse("approval_away", args=[token])).status_code == 409
    post.refresh_from_db()
    assert post.state == Post.State.SCHEDULED
    assert len(refusals("used")) == 2


def test_an_expired_link_is_refused_and_audited(ana, post, mailoutbox, settings, time_machine):
    settings.APPROVAL_LINK_MINUTES = 15
    notify(post)
    token = token_sent(mailoutbox, ana.email)
    time_machine.move_to(ApprovalLink.objects.get().expires_at + timedelta(seconds=1))
    response = signed_in(ana).post(reverse("approval_away", args=[token]), {"action": "approve"})
    assert response.status_code == 410 and "expired" in response.content.decode()
    post.refresh_from_db()
    assert post.state == Post.State.PENDING
    assert refusals("expired")[0].actor == ana


def test_a_link_for_a_post_edited_since_is_refused_and_audited(ana, post, author, mailoutbox):
    notify(post)
    token = token_sent(mailoutbox, ana.email)
    services.post_edit(post_id=post.id, user=author, text="Lights out? Our chips crunch in the dark.")
    client = signed_in(ana)
    page = client.get(reverse("approval_away", args=[token]))
    assert page.status_code == 409 and "edited since" in page.content.decode()
    assert "crunch in the dark" not in page.content.decode()
    answer = client.post(reverse("approval_away", args=[token]), {"action": "approve"})
    assert answer.status_code == 409
    post.refresh_from_db()
    assert post.state == Post.State.PENDING and not post.approved_hash
    assert len(refusals("edited")) == 2


def test_someone_elses_link_is_refused_and_audited_and_stays_good_for_them(ana, post, make_user, mailoutbox):
    notify(post)
    token = token_sent(mailoutbox, ana.email)
    other = make_user(roles.LEGAL, "olga")
    response = signed_in(other).post(reverse("approval_away", args=[token]), {"action": "approve"})
    assert response.status_code == 403 and "sent to Ana" in response.content.decode()
    assert refusals("wrong user")[0].actor == other
    assert signed_in(ana).post(reverse("approval_away", args=[token]), {"action": "approve"}).status_code == 200


def test_a_forged_or_unknown_token_is_refused_and_audited(ana, post, mailoutbox):
    notify(post)
    token = token_sent(mailoutbox, ana.email)
    client = signed_in(ana)
    forged = token[:-3] + ("aaa" if not token.endswith("aaa") else "bbb")
    assert client.get(reverse("approval_away", args=[forged])).status_code == 404
    assert client.get(reverse("approval_away", args=["not-a-link"])).status_code == 404
    assert len(refusals("unknown")) == 2


def test_a_request_answered_in_the_room_meanwhile_refuses_the_link(ana, post, make_user, mailoutbox):
    notify(post)
    token = token_sent(mailoutbox, ana.email)
    services.post_reject(post_id=post.id, user=make_user(roles.LEGAL, "lee"), reason="Too soon",
                         content_hash=post.content_hash())
    response = signed_in(ana).post(reverse("approval_away", args=[token]), {"action": "approve"})
    assert response.status_code == 409 and "not waiting for an answer" in response.content.decode()
    assert refusals("not answerable")


def test_no_needs_a_reason_and_leaves_the_link_usable(ana, post, mailoutbox):
    notify(post)
    token = token_sent(mailoutbox, ana.email)
    client = signed_in(ana)
    empty = client.post(reverse("approval_away", args=[token]), {"action": "reject", "reason": "  "})
    assert empty.status_code == 400 and "Reason is empty" in empty.content.decode()
    assert "Lights out?" in empty.content.decode()  # the card comes back to answer
    done = client.post(reverse("approval_away", args=[token]), {"action": "reject", "reason": "Not tonight"})
    assert done.status_code == 200 and "No sent" in done.content.decode()
    post.refresh_from_db()
    assert post.state == Post.State.REJECTED


def test_the_author_and_other_roles_get_no_link_and_cannot_be_issued_one(make_user, mailoutbox):
    both = on_deck(make_user, roles.LEGAL, "bo")
    both.groups.add(*roles_group(roles.COMMUNITY_MANAGER))
    on_deck(make_user, roles.PRODUCER, "pat")
    account = Account.objects.create(name="Crunchwave", handle="Crunchwave")
    draft = services.post_create(author=both, account_id=account.id, text="My own words")
    post = services.post_submit(post_id=draft.id, user=both, checklist=TICKED)
    assert notify(post) == 0 and not mailoutbox
    with pytest.raises(services.Forbidden, match="You wrote this post"):
        services.approval_link_issue(request_id=post.requests.get().id, user=both)


def test_an_approver_in_the_room_gets_no_link(ana, post, mailoutbox):
    presence.presence_enter(channel="specific.ana-tab", user=ana, page="/approvals/")
    assert notify(post) == 0 and not mailoutbox


def roles_group(role):
    from django.contrib.auth.models import Group

    return [Group.objects.get(name=role)]
