"""Sign-in behind the TLS proxy: django-axes locks out a username per real client address,
read from the proxy's X-Forwarded-For (never from what a client writes there itself);
passwords are at least 12 characters; sign-in through Django's admin is audited like the
room's own."""

import pytest
from django.contrib.auth.forms import SetPasswordForm
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.test import Client, RequestFactory
from django.urls import reverse

from tests.conftest import PASSWORD
from warroom import proxy, roles
from warroom.models import AuditEntry

PROXY = "10.0.0.2"  # the TLS proxy's address on the private network (one of TRUSTED_PROXIES)
ATTACKER, LEAD_AT_HOME = "198.51.100.7", "203.0.113.9"


@pytest.fixture
def behind_proxy(settings):
    settings.BEHIND_TLS_PROXY = True
    settings.PROXY_COUNT = 1
    settings.TRUSTED_PROXIES = ["10.0.0.0/8", "127.0.0.1"]
    return settings


def through_proxy(client_address: str, forwarded: str | None = None) -> Client:
    """A browser at client_address, reaching the room through the proxy."""
    return Client(REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=forwarded or client_address, HTTP_X_FORWARDED_PROTO="https")


def sign_in(client: Client, username: str, password: str, url: str = "/login/"):
    return client.post(url, {"username": username, "password": password})


def test_five_bad_passwords_from_one_address_do_not_lock_the_lead_out_from_another(behind_proxy, make_user):
    make_user(roles.LEAD, "leo")
    attacker = through_proxy(ATTACKER)
    for _ in range(4):
        assert sign_in(attacker, "leo", "wrong").status_code == 200
    assert sign_in(attacker, "leo", "wrong").status_code == 429
    assert sign_in(attacker, "leo", PASSWORD).status_code == 429  # locked there, even with the right password

    lead = through_proxy(LEAD_AT_HOME)
    response = sign_in(lead, "leo", PASSWORD)
    assert response.status_code == 302 and response["Location"] == reverse("room")
    entry = AuditEntry.objects.get(action="auth.login")
    assert entry.actor.username == "leo" and entry.details == {"ip": LEAD_AT_HOME, "via": "room"}


def test_what_a_client_writes_in_x_forwarded_for_does_not_move_it_out_of_the_lockout(behind_proxy, make_user):
    """The proxy appends the address it saw; whatever came before it is the client's own
    invention, and a peer that is not a trusted proxy is taken at its own address."""
    make_user(roles.LEAD, "leo")
    for n in range(5):
        assert sign_in(through_proxy(ATTACKER, forwarded=f"192.0.2.{n}, {ATTACKER}"), "leo", "wrong").status_code in {200, 429}
    assert sign_in(through_proxy(ATTACKER, forwarded=f"192.0.2.99, {ATTACKER}"), "leo", PASSWORD).status_code == 429

    make_user(roles.LEGAL, "lena")
    for n in range(5):
        direct = Client(REMOTE_ADDR=ATTACKER, HTTP_X_FORWARDED_FOR=f"192.0.2.{n}")  # not through the proxy
        sign_in(direct, "lena", "wrong")
    direct = Client(REMOTE_ADDR=ATTACKER, HTTP_X_FORWARDED_FOR="192.0.2.200")
    assert sign_in(direct, "lena", PASSWORD).status_code == 429


def test_the_client_address_counts_the_configured_proxies_from_the_right(behind_proxy):
    request = RequestFactory().get("/", REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=f"192.0.2.1, {ATTACKER}, 10.0.0.9")
    behind_proxy.PROXY_COUNT = 2
    assert proxy.client_address(request) == ATTACKER
    behind_proxy.PROXY_COUNT = 1
    assert proxy.client_address(request) == "10.0.0.9"
    behind_proxy.PROXY_COUNT = 4  # more proxies than the header records: trust none of it
    assert proxy.client_address(request) == PROXY
    garbled = RequestFactory().get("/", REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="not-an-address")
    behind_proxy.PROXY_COUNT = 1
    assert proxy.client_address(garbled) == PROXY
    behind_proxy.BEHIND_TLS_PROXY = False
    assert proxy.client_address(request) == PROXY


def test_sign_in_through_the_admin_is_audited_like_the_rooms(behind_proxy, make_user):
    make_user(roles.ADMIN, "ada", is_staff=True, is_superuser=True)
    browser = through_proxy(LEAD_AT_HOME)
    response = sign_in(browser, "ada", "wrong", url="/admin/login/")
    assert response.status_code == 200 and not AuditEntry.objects.exists()
    response = sign_in(browser, "ada", PASSWORD, url="/admin/login/?next=/admin/")
    assert response.status_code == 302 and response["Location"] == "/admin/"
    entry = AuditEntry.objects.get(action="auth.login")
    assert entry.actor.username == "ada" and entry.details == {"ip": LEAD_AT_HOME, "via": "admin"}
    assert browser.get("/admin/").status_code == 200


def test_the_admin_sign_in_is_throttled_by_the_same_lockout(behind_proxy, make_user):
    make_user(roles.ADMIN, "ada", is_staff=True, is_superuser=True)
    attacker = through_proxy(ATTACKER)
    for _ in range(5):
        sign_in(attacker, "ada", "wrong", url="/admin/login/")
    assert sign_in(attacker, "ada", PASSWORD, url="/admin/login/").status_code == 429
    assert not AuditEntry.objects.filter(action="auth.login").exists()


@pytest.mark.django_db
def test_passwords_are_at_least_twelve_characters():
    with pytest.raises(ValidationError, match="at least 12 characters"):
        validate_password("Qz7!mRw2#pL")  # 11
    validate_password("Qz7!mRw2#pLx")  # 12


def test_setting_a_short_password_is_refused_with_a_message(make_user):
    """The form the admin uses to set a user's password applies the rule."""
    user = make_user(roles.LEGAL)
    form = SetPasswordForm(user, {"new_password1": "Qz7!mRw2#pL", "new_password2": "Qz7!mRw2#pL"})
    assert not form.is_valid()
    assert "at least 12 characters" in " ".join(form.errors["new_password2"])
    user.refresh_from_db()
    assert user.check_password(PASSWORD)
