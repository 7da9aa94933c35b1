"""Two-factor sign-in (django-otp TOTP): enrolment with a QR code and a confirmed first
code, recovery codes shown once, OTP_REQUIRED_GROUPS enforced before any page, wrong codes
counted by the sign-in throttle (django-axes), and the admin's audited reset."""

from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client
from django_otp.oath import totp
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from tests.conftest import PASSWORD
from warroom import roles, twofactor
from warroom.errors import Forbidden
from warroom.models import AuditEntry

pytestmark = pytest.mark.django_db(transaction=True)


def code_for(device: TOTPDevice, drift: int = 0) -> str:
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits, drift=drift):06d}"


def wrong_code(device: TOTPDevice) -> str:
    good = {code_for(device, drift) for drift in (-1, 0, 1)}
    return next(c for c in ("000000", "111111", "222222", "333333") if c not in good)


def enrolled(user) -> TOTPDevice:
    device = TOTPDevice.objects.create(user=user, name=twofactor.TOTP_NAME, confirmed=True)
    static = StaticDevice.objects.create(user=user, name=twofactor.RECOVERY_NAME, confirmed=True)
    static.token_set.create(token="recoverme1")
    return device


def signed_in_with_password(user) -> Client:
    client = Client()
    response = client.post("/login/", {"username": user.get_username(), "password": PASSWORD})
    assert response.status_code == 302
    return client


def redirect_of(response) -> tuple[str, str]:
    location = urlsplit(response["Location"])
    return location.path, parse_qs(location.query).get("next", [""])[0]


def test_enrolment_shows_a_qr_code_confirms_a_first_code_and_shows_recovery_codes_once(make_user):
    user = make_user(roles.PRODUCER, "pat")
    client = Client()
    client.force_login(user)
    page = client.get("/account/two-factor/")
    assert page.status_code == 200
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    html = page.content.decode()
    assert 'src="/account/two-factor/qr.svg"' in html and "data:" not in html
    qr = client.get("/account/two-factor/qr.svg")
    assert qr.status_code == 200 and qr["Content-Type"] == "image/svg+xml" and qr.content.startswith(b"<svg")

    wrong = client.post("/account/two-factor/", {"action": "confirm", "code": wrong_code(device)})
    assert wrong.status_code == 400 and "does not match" in wrong.content.decode()
    assert not twofactor.enrolled(user)

    done = client.post("/account/two-factor/", {"action": "confirm", "code": code_for(device)})
    assert done.status_code == 200
    codes = list(StaticToken.objects.filter(device__user=user).values_list("token", flat=True))
    assert len(codes) == twofactor.RECOVERY_CODES and all(code in done.content.decode() for code in codes)
    device.refresh_from_db()
    assert device.confirmed and AuditEntry.objects.filter(action="2fa.enrol", actor=user).exists()

    again = client.get("/account/two-factor/")
    assert again.status_code == 200 and "Two-factor sign-in is on" in again.content.decode()
    assert not any(code in again.content.decode() for code in codes)  # shown once
    assert client.get("/account/two-factor/qr.svg").status_code == 409  # no QR of a confirmed device


def test_required_groups_must_enrol_and_verify_before_any_page(make_user, settings):
    settings.OTP_REQUIRED_GROUPS = ["legal", "lead"]
    legal = make_user(roles.LEGAL, "ana")
    producer = make_user(roles.PRODUCER, "pat")

    assert signed_in_with_password(producer).get("/approvals/").status_code == 200  # not required of producers

    client = signed_in_with_password(legal)
    response = client.get("/approvals/")
    assert response.status_code == 302 and redirect_of(response) == ("/account/two-factor/", "/approvals/")
    assert client.get("/account/two-factor/").status_code == 200
    htmx = client.get("/approvals/", HTTP_HX_REQUEST="true")
    assert htmx.status_code == 401 and htmx["HX-Redirect"].startswith("/account/two-factor/")

    device = TOTPDevice.objects.get(user=legal, confirmed=False)
    assert client.post("/account/two-factor/", {"action": "confirm", "code": code_for(device)}).status_code == 200
    assert client.get("/approvals/").status_code == 200  # the session that enrolled is verified

    fresh = signed_in_with_password(legal)
    response = fresh.get("/approvals/?post=1")
    assert response.status_code == 302 and redirect_of(response) == ("/login/verify/", "/approvals/?post=1")
    assert fresh.get("/login/verify/?next=/approvals/").status_code == 200
    verified = fresh.post("/login/verify/", {"code": code_for(device, drift=1), "next": "/approvals/"})
    assert verified.status_code == 302 and verified["Location"] == "/approvals/"
    assert fresh.get("/approvals/").status_code == 200
    assert AuditEntry.objects.filter(action="2fa.verify", actor=legal).exists()


def test_anyone_who_enrolled_verifies_and_a_recovery_code_works_once(make_user):
    user = make_user(roles.COMMUNITY_MANAGER, "cam")
    enrolled(user)
    client = signed_in_with_password(user)
    assert redirect_of(client.get("/queue/"))[0] == "/login/verify/"
    assert client.post("/login/verify/", {"code": "recoverme1", "next": "/queue/"})["Location"] == "/queue/"
    assert client.get("/queue/").status_code == 200
    other = signed_in_with_password(user)
    assert other.post("/login/verify/", {"code": "recoverme1"}).status_code == 400
    assert redirect_of(other.get("/queue/"))[0] == "/login/verify/"


def test_wrong_codes_count_toward_the_sign_in_throttle(make_user, settings):
    settings.AXES_FAILURE_LIMIT = 5
    user = make_user(roles.LEAD, "leo")
    device = enrolled(user)
    assert Client().post("/login/", {"username": "leo", "password": "not the password"}).status_code == 200
    client = signed_in_with_password(user)  # the password alone does not clear the failure: the code is to come
    for _ in range(3):
        response = client.post("/login/verify/", {"code": wrong_code(device)})
        assert response.status_code == 400 and "count toward the sign-in limit" in response.content.decode()
    assert client.post("/login/verify/", {"code": wrong_code(device)}).status_code == 429  # the fifth failure
    assert redirect_of(client.get("/queue/"))[0] == "/login/"  # the half-signed-in session ended
    locked = Client().post("/login/", {"username": "leo", "password": PASSWORD})
    assert locked.status_code == 429  # even the right password, from this address
    assert AuditEntry.objects.filter(action="2fa.fail", actor=user).count() == 4


def test_the_admin_resets_someones_devices_and_it_is_audited(make_user):
    user = make_user(roles.LEGAL, "ana")
    enrolled(user)
    with pytest.raises(Forbidden):
        twofactor.devices_reset(user=make_user(roles.LEAD, "leo"), target=user)
    assert twofactor.enrolled(user)

    admin = make_user(roles.ADMIN, "root", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(admin)
    response = client.post("/admin/auth/user/", {"action": "reset_two_factor", "_selected_action": [user.id]})
    assert response.status_code == 302
    assert not twofactor.enrolled(user) and not StaticToken.objects.filter(device__user=user).exists()
    entry = AuditEntry.objects.get(action="2fa.reset")
    assert entry.actor == admin and entry.object_id == str(user.id) and len(entry.details["devices"]) == 2
    assert client.get("/admin/otp_totp/totpdevice/").status_code == 404  # no unaudited way round the reset


def test_the_room_socket_reads_only_for_a_session_that_verified_its_second_factor(make_user):
    from django.contrib.sessions.backends.db import SessionStore

    from warroom import sessions

    user = make_user(roles.LEGAL, "ana")
    device = enrolled(user)
    client = signed_in_with_password(user)
    key = client.cookies["sessionid"].value
    assert sessions.socket_access(session_key=key) is None  # password only
    assert not twofactor.session_passes(user, SessionStore(key))
    client.post("/login/verify/", {"code": code_for(device)})
    assert sessions.socket_access(session_key=client.cookies["sessionid"].value) == {roles.LEGAL}
