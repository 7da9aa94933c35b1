"""Pages: every URL walked as every role and as an anonymous user; CSRF; throttled logins."""

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from tests.conftest import PASSWORD
from warroom import roles
from warroom.models import Announcement, AuditEntry

# The executive page: its signed link is the key. A short link: whoever saw the post.
PUBLIC = {"login", "logout", "healthz", "webhook", "crisis_executive", "short_link"}
POST_ONLY = {"announce"}


# Routes that take arguments are walked with ids that exist nowhere: allowed roles get a 404.
URL_ARGS: dict[str, list[str]] = {}


def room_url_names() -> list[str]:
    """Every named URL of the room (Django's own admin has its own staff checks)."""
    names = []

    def walk(patterns):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                if pattern.app_name != "admin":
                    walk(pattern.url_patterns)
            elif isinstance(pattern, URLPattern) and pattern.name:
                names.append(pattern.name)
                URL_ARGS[pattern.name] = list(pattern.pattern.converters)

    walk(get_resolver().url_patterns)
    return sorted(set(names) - PUBLIC)


def url_of(name: str) -> str:
    return reverse(name, kwargs={arg: 987654321 for arg in URL_ARGS.get(name, [])})


def test_every_room_url_has_an_entry_in_the_role_matrix():
    assert set(room_url_names()) == set(roles.PAGE_ROLES)


@pytest.mark.parametrize("name", room_url_names())
def test_anonymous_is_sent_to_login(client, name):
    url = url_of(name)
    response = client.post(url) if name in POST_ONLY else client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=")


@pytest.mark.parametrize("role", [*roles.ALL, None])
def test_role_matrix(make_user, role):
    user = make_user(role)
    client = Client()
    client.force_login(user)
    for name in room_url_names():
        allowed = role in roles.PAGE_ROLES[name]
        if name in POST_ONLY:
            response = client.post(reverse(name), {"text": f"matrix check by {role}"})
            assert response.status_code == (302 if allowed else 403), (role, name)
        else:
            response = client.get(url_of(name))
            expected = (404 if URL_ARGS.get(name) else 200) if allowed else 403
            assert response.status_code == expected, (role, name)
            if not allowed:
                assert b"Not for your role" in response.content


def test_navigation_shows_only_pages_the_role_may_open(make_user):
    client = Client()
    client.force_login(make_user(roles.LEGAL))
    html = client.get(reverse("room")).content.decode()
    assert 'href="/approvals/"' in html and 'href="/queue/"' in html
    assert 'href="/audit/"' not in html and 'href="/feed/"' not in html
    assert ">legal<" in html


def test_forged_post_without_csrf_token_is_refused(make_user):
    lead = make_user(roles.LEAD)
    client = Client(enforce_csrf_checks=True)
    client.force_login(lead)
    response = client.post(reverse("announce"), {"text": "forged"})
    assert response.status_code == 403
    assert not Announcement.objects.exists()


def test_announce_with_csrf_token_works_and_is_audited(make_user):
    lead = make_user(roles.LEAD)
    client = Client(enforce_csrf_checks=True)
    client.force_login(lead)
    client.get(reverse("room"))
    token = client.cookies["csrftoken"].value
    response = client.post(reverse("announce"), {"text": "Kick-off in 5", "level": "info"}, HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 302
    entry = AuditEntry.objects.get(action="room.announce")
    assert entry.actor == lead and entry.object_repr == "Kick-off in 5"


@pytest.mark.parametrize(
    ("text", "message"),
    [("", "empty"), ("   \x00  ", "empty"), ("x" * 501, "the limit is 500")],
)
def test_bad_announcement_gets_a_clear_message_and_nothing_is_stored(make_user, text, message):
    client = Client()
    client.force_login(make_user(roles.LEAD))
    response = client.post(reverse("announce"), {"text": text}, HTTP_HX_REQUEST="true")
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Announcement.objects.exists()


def test_htmx_announce_returns_the_form_partial(make_user):
    client = Client()
    client.force_login(make_user(roles.LEAD))
    response = client.post(reverse("announce"), {"text": "Half-time show starts"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    html = response.content.decode()
    assert html.strip().startswith('<form id="announce-form"') and "Sent to everyone" in html


def test_login_is_audited_and_repeated_failures_are_throttled(make_user):
    user = make_user(roles.COMMUNITY_MANAGER, "maya")
    client = Client()
    for _ in range(4):
        response = client.post(reverse("login"), {"username": "maya", "password": "wrong"})
        assert response.status_code == 200
        assert b"do not match" in response.content
    assert client.post(reverse("login"), {"username": "maya", "password": "wrong"}).status_code == 429
    # The right password no longer opens the door while the account is locked.
    response = client.post(reverse("login"), {"username": "maya", "password": PASSWORD})
    assert response.status_code == 429
    assert b"Too many failed sign-ins" in response.content
    assert "_auth_user_id" not in client.session
    assert not AuditEntry.objects.filter(action="auth.login").exists()

    other = Client()
    response = other.post(reverse("login"), {"username": make_user(roles.LEGAL, "lena").username, "password": PASSWORD})
    assert response.status_code == 302
    assert AuditEntry.objects.filter(action="auth.login", actor__username="lena").count() == 1
    assert user.is_active


def test_logout_is_post_only_and_audited(make_user):
    client = Client()
    user = make_user(roles.PRODUCER)
    client.force_login(user)
    assert client.get(reverse("logout")).status_code == 405
    assert client.post(reverse("logout")).status_code == 302
    assert AuditEntry.objects.filter(action="auth.logout", actor=user).exists()
    assert client.get(reverse("room")).status_code == 302


def test_audit_page_filters(make_user):
    from django.db import transaction

    from warroom import audit

    lead = make_user(roles.LEAD, "leo")
    legal = make_user(roles.LEGAL, "lena")
    with transaction.atomic():
        audit.record(actor=legal, action="post.approve", details={"post": 7})
        audit.record(actor=lead, action="queue.pause", details={"reason": "tragedy"})
    client = Client()
    client.force_login(lead)

    def results(**filters) -> str:
        response = client.get(reverse("audit"), filters, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="audit-results")
        html = response.content.decode().strip()
        assert html.startswith('<section id="audit-results">')
        return html

    assert "post.approve" in results(actor="lena") and "queue.pause" not in results(actor="lena")
    assert "queue.pause" in results(action="queue") and "post.approve" not in results(action="queue")
    assert "reason=<bdi>tragedy</bdi>" in client.get(reverse("audit")).content.decode()
    assert client.get(reverse("audit"), {"since": "not-a-date", "until": "2026-02-30"}).status_code == 200
