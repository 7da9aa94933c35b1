"""Channel accounts on each network: what each needs (X: a handle; Mastodon: an https
instance and a token; Bluesky: a handle and an app password), each refusal naming the
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
    assert AuditEntry.objects.filter(action="account.create").count() == 2
    assert "abcd" not in str(AuditEntry.objects.filter(action="account.create").values_list("details", flat=True))


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
])
def test_bad_accounts_are_refused_naming_the_problem(make_user, fields, problem):
    with pytest.raises(InvalidInput, match=problem):
        create(make_user(roles.ADMIN), **fields)
    assert not Account.objects.exists()


def test_only_the_lead_or_an_admin_adds_accounts(make_user):
    with pytest.raises(Forbidden):
        create(make_user(roles.COMMUNITY_MANAGER), network="x", handle="brand")
