"""Channel accounts on each network: what each needs (X: a handle; Mastodon: an https
instance and a token; Bluesky: a handle and an app password; Reddit: a script app's id
and secret, a username and password, a subreddit), each refusal naming the
problem, and an instance on an internal address refused by the SSRF guard."""

import pytest

from approvals import services
from approvals.models import Account
from warroom import roles
from warroom.errors import Forbidden, InvalidInput
from warroom.models import AuditEntry

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_fakes(settings):
    settings.MASTODON_API_BASE_URL = settings.BLUESKY_API_BASE_URL = ""  # the guard sees the typed servers


def create(user, **fields):
    return services.account_create(user=user, name=fields.pop("name", "Brand"), **fields)


def test_each_network_takes_what_it_needs(make_user):
    admin = make_user(roles.ADMIN)
    x = create(admin, network="x", handle="@Brand_US")
    bsky = create(admin, network="bluesky", handle="@brand.bsky.social", secret="abcd-efgh-ijkl-mnop")
    assert (x.platform, x.handle, x.secret) == ("x", "Brand_US", "")
    assert (bsky.platform, bsky.handle, bsky.instance_url) == ("bluesky", "brand.bsky.social", "https://bsky.social")
    reddit = create(admin, network="reddit", handle="u/Brand_US", secret="hunter2", client_id="app-id-123",
                    client_secret="app-secret-xyz", community="r/crunchwave")
    assert (reddit.platform, reddit.handle, reddit.community, reddit.instance_url) == \
        ("reddit", "Brand_US", "crunchwave", "")
    assert (reddit.client_id, reddit.client_secret, reddit.secret) == ("app-id-123", "app-secret-xyz", "hunter2")
    assert reddit.network_label == "Reddit"
    assert AuditEntry.objects.filter(action="account.create").count() == 3
    details = str(AuditEntry.objects.filter(action="account.create").values_list("details", flat=True))
    assert "abcd" not in details and "hunter2" not in details and "app-secret" not in details


@pytest.mark.parametrize("fields, problem", [
    ({"network": "myspace", "handle": "brand"}, "Network must be one of"),
    ({"network": "x", "handle": "not a handle!"}, "not an X handle"),
    ({"network": "mastodon", "handle": "brand", "instance_url": "mastodon.social", "secret": "t"}, "Instance URL"),
    ({"network": "mastodon", "handle": "brand", "instance_url": "https://mastodon.social"}, "Access token is empty"),
    ({"network": "mastodon", "handle": "brand", "instance_url": "https://127.0.0.1", "secret": "t"},
     "private or reserved"),
    ({"network": "mastodon", "handle": "brand", "instance_url": "https://[::ffff:10.0.0.1]", "secret": "t"},
     "private or reserved"),
    ({"network": "bluesky", "handle": "brand", "secret": "p"}, "not a Bluesky handle"),
    ({"network": "bluesky", "handle": "brand.bsky.social"}, "App password is empty"),
    ({"network": "bluesky", "handle": "brand.bsky.social", "secret": "p", "instance_url": "https://192.168.1.4"},
     "private or reserved"),
    ({"network": "reddit", "handle": "no spaces allowed", "secret": "p", "client_id": "app-id-123",
      "client_secret": "s"}, "not a Reddit username"),
    ({"network": "reddit", "handle": "brand", "secret": "p", "client_secret": "s"}, "Client id"),
    ({"network": "reddit", "handle": "brand", "secret": "p", "client_id": "app-id-123"}, "Client secret is empty"),
    ({"network": "reddit", "handle": "brand", "client_id": "app-id-123", "client_secret": "s"}, "Password is empty"),
    ({"network": "reddit", "handle": "brand", "secret": "p", "client_id": "app-id-123", "client_secret": "s",
      "community": "not a sub!"}, "not a subreddit name"),
])
def test_bad_accounts_are_refused_naming_the_problem(make_user, fields, problem):
    with pytest.raises(InvalidInput, match=problem):
        create(make_user(roles.ADMIN), **fields)
    assert not Account.objects.exists()


def test_only_the_lead_or_an_admin_adds_accounts(make_user):
    with pytest.raises(Forbidden):
        create(make_user(roles.COMMUNITY_MANAGER), network="x", handle="brand")
