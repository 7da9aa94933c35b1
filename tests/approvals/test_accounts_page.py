"""The lead's channel accounts page through the test Client: adding an account of each kind
(X handle; Mastodon instance and token; Bluesky handle and app password; Reddit username,
password, script app id and secret, subreddit), refusals named
on the form, the secret never sent back, the role matrix, audit and the live push; and
each account's health line as publishing on its network's fake finds it (a success, a
rate limit with its wait, a refusal), stored and pushed live."""

from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from approvals import services
from approvals.models import Account, Post
from tests.fakes.networks import start
from warroom import live, roles
from warroom.models import AuditEntry, LiveEvent

pytestmark = pytest.mark.django_db

URL = "/approvals/accounts/"
TOKEN = "mastodon-secret-token-4821"
APP_PASSWORD = "wxyz-5173-qrst-9042"
REDDIT_PASSWORD, CLIENT_SECRET = "reddit-pass-7730", "reddit-client-secret-6618"
SECRETS = (TOKEN, APP_PASSWORD, REDDIT_PASSWORD, CLIENT_SECRET)


@pytest.fixture(autouse=True)
def typed_servers(settings):
    settings.MASTODON_API_BASE_URL = settings.BLUESKY_API_BASE_URL = ""  # the guard sees the servers typed
    settings.NETGUARD_ALLOW_HOSTS = ["mastodon.social"]  # a public instance, with no DNS in the test sandbox


def signed_in(user) -> Client:
    client = Client(raise_request_exception=False)
    client.force_login(user)
    return client


KINDS = {
    "x": ({"name": "Brand US", "network": "x", "handle": "@Brand_US"}, ("X", "Brand_US")),
    "mastodon": ({"name": "Brand on Mastodon", "network": "mastodon", "handle": "brand",
                  "instance_url": "https://mastodon.social", "secret": TOKEN},
                 ("Mastodon", "https://mastodon.social")),
    "bluesky": ({"name": "Brand on Bluesky", "network": "bluesky", "handle": "brand.bsky.social",
                 "secret": APP_PASSWORD, "time_zone": "Europe/Paris"}, ("Bluesky", "brand.bsky.social", "Europe/Paris")),
    "reddit": ({"name": "Brand on Reddit", "network": "reddit", "handle": "u/Brand_US", "secret": REDDIT_PASSWORD,
                "client_id": "app-id-123", "client_secret": CLIENT_SECRET, "community": "r/crunchwave"},
               ("Reddit", "Brand_US", "crunchwave", "app-id-123")),
}


@pytest.mark.parametrize("kind", KINDS)
def test_the_lead_adds_an_account_of_each_kind_and_its_secret_is_never_shown_again(make_user, kind):
    lead = make_user(roles.LEAD, "leo")
    fields, shown = KINDS[kind]
    client = signed_in(lead)

    response = client.post(URL, fields)
    account = Account.objects.get()
    assert response.status_code == 302 and response["Location"] == f"{reverse('accounts')}#account-{account.id}"
    assert (account.platform, account.name) == (kind, fields["name"])
    assert account.secret == fields.get("secret", "")

    page = client.get(URL).content.decode()
    row = page.split(f'id="account-{account.id}"', 1)[1].split("</tr>", 1)[0]
    for text in shown:
        assert text in row
    assert "waiting" in row  # nothing published yet
    if account.secret:
        assert "••••••••" in row
    assert account.client_secret == fields.get("client_secret", "")
    if account.client_secret:
        assert row.count("••••••••") == 2  # the password and the client secret, both masked
    for secret in SECRETS + tuple(s[-4:] for s in SECRETS):
        assert secret not in page

    entry = AuditEntry.objects.get(action="account.create")
    assert entry.actor == lead and entry.details["network"] == kind
    assert not any(secret in str(entry.details) for secret in SECRETS)
    event = LiveEvent.objects.get(kind="account.created")
    assert event.payload["account_id"] == account.id and "role.lead" in event.audience
    assert not any(secret in str(event.payload) for secret in SECRETS)
    assert f'hx-get="{URL}?part=rows"' in live.render(event)  # an open accounts page fetches its rows again


def test_an_admin_adds_accounts_too(make_user):
    response = signed_in(make_user(roles.ADMIN)).post(URL, KINDS["x"][0])
    assert response.status_code == 302 and Account.objects.filter(platform="x").exists()


@pytest.mark.parametrize("fields, problem", [
    ({"network": "mastodon", "handle": "brand", "instance_url": "https://10.1.2.3", "secret": TOKEN},
     "private or reserved"),
    ({"network": "mastodon", "handle": "brand", "instance_url": "mastodon.social", "secret": TOKEN}, "Instance URL"),
    ({"network": "mastodon", "handle": "brand", "instance_url": "https://mastodon.social"}, "Access token is empty"),
    ({"network": "bluesky", "handle": "brand.bsky.social"}, "App password is empty"),
    ({"network": "bluesky", "handle": "brand", "secret": APP_PASSWORD}, "not a Bluesky handle"),
    ({"network": "x", "handle": "not a handle!"}, "not an X handle"),
    ({"network": "reddit", "handle": "no spaces allowed", "secret": REDDIT_PASSWORD, "client_id": "app-id-123",
      "client_secret": CLIENT_SECRET}, "not a Reddit username"),
    ({"network": "reddit", "handle": "brand", "secret": REDDIT_PASSWORD, "client_secret": CLIENT_SECRET}, "Client id"),
    ({"network": "reddit", "handle": "brand", "secret": REDDIT_PASSWORD, "client_id": "app-id-123"},
     "Client secret is empty"),
    ({"network": "reddit", "handle": "brand", "client_id": "app-id-123", "client_secret": CLIENT_SECRET},
     "Password is empty"),
    ({"network": "reddit", "handle": "brand", "secret": REDDIT_PASSWORD, "client_id": "app-id-123",
      "client_secret": CLIENT_SECRET, "community": "not a sub!"}, "not a subreddit name"),
    ({"network": "myspace", "handle": "brand"}, "Network must be one of"),
    ({"network": "x", "handle": "brand", "time_zone": "Mars/Olympus"}, "Time zone"),
    ({"network": "x", "handle": "brand", "name": "  "}, "Name is empty"),
])
def test_a_refused_account_is_named_on_the_form_and_nothing_is_stored(make_user, fields, problem):
    fields = {"name": "Brand", **fields}
    response = signed_in(make_user(roles.LEAD)).post(URL, fields)
    page = response.content.decode()
    assert response.status_code == 400
    error = page.split('id="account-form"', 1)[1].split('role="alert">', 1)[1].split("</p>", 1)[0]
    assert problem in error
    assert f'value="{fields["handle"]}"' in page  # the form comes back as typed ...
    for field in ("client_id", "community"):
        if fields.get(field):
            assert f'value="{fields[field]}"' in page
    assert not any(secret in page for secret in SECRETS)  # ... except the secrets
    assert not Account.objects.exists() and not AuditEntry.objects.filter(action="account.create").exists()


@pytest.mark.parametrize("role", [roles.COMMUNITY_MANAGER, roles.LEGAL, roles.PRODUCER, None])
def test_only_the_lead_or_an_admin_sees_or_adds_accounts(make_user, role):
    client = signed_in(make_user(role))
    assert client.get(URL).status_code == 403
    assert client.post(URL, KINDS["mastodon"][0]).status_code == 403
    assert not Account.objects.exists()


def test_the_approvals_page_links_the_accounts_page_for_the_lead_only(make_user):
    assert f'href="{URL}"' in signed_in(make_user(roles.LEAD)).get("/approvals/").content.decode()
    assert f'href="{URL}"' not in signed_in(make_user(roles.COMMUNITY_MANAGER)).get("/approvals/").content.decode()


def test_the_rows_partial_answers_htmx_with_every_account(make_user):
    Account.objects.create(name="Brand <b>US</b>", handle="brand_us")
    response = signed_in(make_user(roles.LEAD)).get(URL, {"part": "rows"}, HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert response.status_code == 200 and body.startswith('<tbody id="accounts-rows">')
    assert "Brand &lt;b&gt;US&lt;/b&gt;" in body and "<b>US" not in body


# --- Health, as publishing finds it, on each network's fake --------------------------------

@pytest.fixture(params=list(KINDS))  # the kinds this page adds
def network(request, settings):
    network = start(request.param)
    for name, value in network.env.items():
        setattr(settings, name, value)
    settings.NETGUARD_ALLOW_HOSTS = ["127.0.0.1"]
    yield network
    network.fake.stop()


@pytest.fixture
def account(network):
    return Account.objects.create(name="Brand", platform=network.kind, **network.account_fields)


def due_post(account: Account, author, text: str) -> Post:
    post = Post(account=account, author=author, text=text, state=Post.State.SCHEDULED,
                publish_at=timezone.now() - timedelta(seconds=1))
    post.approved_hash, post.approved_at = post.content_hash(), timezone.now()
    post.save()
    return post


def health_cell(client: Client, account: Account) -> str:
    page = client.get(URL).content.decode()
    return page.split(f'id="account-{account.id}"', 1)[1].split('class="account-health">', 1)[1].split("</td>", 1)[0]


def test_a_publish_that_succeeds_marks_the_account_ok_and_pushes_it(network, account, make_user):
    lead = make_user(roles.LEAD)
    post = due_post(account, make_user(roles.COMMUNITY_MANAGER), "Lights out? Our snacks glow in the dark.")
    assert services.post_publish(post_id=post.id) == "published"
    account.refresh_from_db()
    post.refresh_from_db()
    assert account.last_success_at == post.published_at and account.last_error == ""
    cell = health_cell(signed_in(lead), account)
    assert "ok" in cell and f"last success {account.last_success_at:%H:%M:%S}" in cell
    event = LiveEvent.objects.get(kind="account.health")
    assert event.payload["account_id"] == account.id and event.payload["ok"] is True
    assert sorted(event.audience) == ["role.admin", "role.lead"]
    rendered = live.render(event)
    assert f'hx-get="{URL}?part=rows"' in rendered and "room-events" not in rendered  # no rail row for a success

    # Another success at once is stored, not pushed again: the health did not change.
    again = due_post(account, post.author, "And a second one right after")
    assert services.post_publish(post_id=again.id) == "published"
    account.refresh_from_db()
    again.refresh_from_db()
    assert account.last_success_at == again.published_at
    assert LiveEvent.objects.filter(kind="account.health").count() == 1


def test_a_rate_limit_shows_the_wait_then_a_success_clears_it(network, account, make_user):
    lead, author = make_user(roles.LEAD), make_user(roles.COMMUNITY_MANAGER)
    failure = network.fail_publish(status=429, reset_in=120)
    post = due_post(account, author, "Rate limited before anything was created")
    assert services.post_publish(post_id=post.id) == "retry"
    account.refresh_from_db()
    reset = datetime.fromtimestamp(failure.reset_at, tz=dt_timezone.utc)
    assert abs((account.rate_limited_until - reset).total_seconds()) < 1
    assert "rate limit" in account.last_error.lower() and account.last_success_at is None
    cell = health_cell(signed_in(lead), account)
    assert "rate-limited" in cell and f"rate limited until {account.rate_limited_until:%H:%M:%S} UTC" in cell
    event = LiveEvent.objects.get(kind="account.health")
    assert event.payload["ok"] is False and "room-events" in live.render(event)  # a failure joins the rail

    Post.objects.filter(id=post.id).update(retry_at=timezone.now() - timedelta(seconds=1))  # the reset passed
    assert services.post_publish(post_id=post.id) == "published"
    account.refresh_from_db()
    assert account.rate_limited_until is None and account.last_success_at is not None
    assert "ok" in health_cell(signed_in(lead), account)
    assert LiveEvent.objects.filter(kind="account.health").count() == 2


def test_a_refused_publish_marks_the_account_failing_with_the_network_s_reason(network, account, make_user):
    lead = make_user(roles.LEAD)
    reason = "The account is temporarily locked."
    network.fail_publish(status=403, body=network.refusal(reason))
    post = due_post(account, make_user(roles.COMMUNITY_MANAGER), "This one will be refused")
    assert services.post_publish(post_id=post.id) == "failed"
    account.refresh_from_db()
    assert "temporarily locked" in account.last_error and account.last_error_at is not None
    cell = health_cell(signed_in(lead), account)
    assert "failing" in cell and "temporarily locked" in cell
