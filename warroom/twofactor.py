"""Two-factor sign-in (TOTP through django-otp): enrolment with a QR code and a confirmed
first code, recovery codes shown once, the check after the password, and the admin's
audited reset. Members of OTP_REQUIRED_GROUPS, and anyone who enrolled, verify a code
before any page (`RequireTwoFactorMiddleware`). A wrong code counts toward the sign-in
throttle: it is a failed sign-in to django-axes (`user_login_failed`)."""

from axes.handlers.proxy import AxesProxyHandler
from django.conf import settings
from django.contrib.auth import logout
from django.contrib.auth.signals import user_login_failed
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import Resolver404, resolve
from django.utils.http import urlencode
from django_otp import DEVICE_ID_SESSION_KEY, devices_for_user, login as otp_login, match_token, user_has_device
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from . import audit, proxy, roles
from .errors import Conflict, Forbidden, InvalidInput

RECOVERY_CODES = 10
TOTP_NAME = "Authenticator app"
RECOVERY_NAME = "Recovery codes"
# Pages a signed-in user reaches before their second factor: signing in and out, the
# enrolment and check themselves, and what needs no sign-in at all.
EXEMPT = frozenset({"login", "logout", "two_factor", "two_factor_qr", "two_factor_verify", "healthz", "webhook",
                    "crisis_executive"})


def required_for(user) -> bool:
    """Whether settings make this user enrol and verify (OTP_REQUIRED_GROUPS)."""
    wanted = set(settings.OTP_REQUIRED_GROUPS)
    return bool(wanted) and roles.has_role(user, wanted)


def enrolled(user) -> bool:
    return user_has_device(user, confirmed=True)


def session_passes(user, session) -> bool:
    """Whether a session (a SessionStore, or its loaded data) may read the room: it verified
    a second factor of this user's, when the user needs one. The room's socket asks it when
    it connects and at every re-check (warroom.sessions), as the middleware asks for pages."""
    if not (enrolled(user) or required_for(user)):
        return True
    persistent_id = session.get(DEVICE_ID_SESSION_KEY)
    device = Device.from_persistent_id(persistent_id) if persistent_id else None
    return device is not None and device.user_id == user.id


def _clean_code(code: str) -> str:
    code = "".join((code or "").split())[:16]
    if not code:
        raise InvalidInput("Code is empty: type the six digits your authenticator app shows, or a recovery code.")
    return code


def totp_pending(user) -> TOTPDevice:
    """The device being enrolled: made once, shown as a QR code until its first code confirms it."""
    if enrolled(user):
        raise Conflict("Two-factor sign-in is on already for your account; the admin can reset it.")
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("id").first()
    return device or TOTPDevice.objects.create(user=user, name=TOTP_NAME, confirmed=False)


def _recovery_codes_new(user) -> list[str]:
    device, _ = StaticDevice.objects.get_or_create(user=user, name=RECOVERY_NAME, defaults={"confirmed": True})
    device.token_set.all().delete()
    codes = [StaticToken.random_token() for _ in range(RECOVERY_CODES)]
    StaticToken.objects.bulk_create([StaticToken(device=device, token=code) for code in codes])
    return codes


@transaction.atomic
def totp_confirm(*, request: HttpRequest, code: str) -> list[str]:
    """The first code from the app confirms the device and verifies this session. Returns the
    recovery codes, the only time they are shown."""
    user = request.user
    device = TOTPDevice.objects.select_for_update().filter(user=user, confirmed=False).order_by("id").first()
    if device is None:
        raise Conflict("Nothing is being enrolled: open the two-factor page again to get a QR code.")
    if not device.verify_token(_clean_code(code)):
        raise InvalidInput("That code does not match: check the time on your phone, and type the code the app shows now.")
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    TOTPDevice.objects.filter(user=user, confirmed=False).delete()
    codes = _recovery_codes_new(user)
    otp_login(request, device)
    audit.record(actor=user, action="2fa.enrol", obj=user, details={"device": device.persistent_id})
    return codes


@transaction.atomic
def recovery_codes_replace(*, request: HttpRequest) -> list[str]:
    """New recovery codes (the old ones stop working), for a verified session only."""
    user = request.user
    if not (enrolled(user) and user.is_verified()):
        raise Forbidden("Verify a code first: only a session signed in with two factors makes new recovery codes.")
    codes = _recovery_codes_new(user)
    audit.record(actor=user, action="2fa.recovery_codes", obj=user, details={"count": len(codes)})
    return codes


def recovery_codes_left(user) -> int:
    return StaticToken.objects.filter(device__user=user, device__confirmed=True).count()


def throttle_reset(request: HttpRequest, user) -> None:
    """A complete sign-in clears this username's failures from this address (what axes'
    AXES_RESET_ON_SUCCESS would do on the password alone)."""
    AxesProxyHandler.update_request(request)
    AxesProxyHandler.get_implementation().reset_user_attempts(request, {"username": user.get_username()})


def verify(*, request: HttpRequest, code: str) -> bool:
    """The second step of signing in: a code from the app, or a recovery code (used once).
    A wrong code is a failed sign-in to django-axes, so it counts toward the throttle; at
    the limit the half-signed-in session ends. Returns whether the code matched."""
    user = request.user
    code = _clean_code(code)
    credentials = {"username": user.get_username()}
    if AxesProxyHandler.is_locked(request, credentials):  # locked while signed in halfway: no more guesses
        request.axes_locked_out, request.axes_credentials = True, credentials
        logout(request)
        return False
    device = match_token(user, code)
    if device is None:
        user_login_failed.send(sender=__name__, credentials=credentials, request=request)
        with transaction.atomic():
            audit.record(actor=user, action="2fa.fail", obj=user, details={"ip": proxy.client_address(request)})
        if getattr(request, "axes_locked_out", False):
            logout(request)
        return False
    throttle_reset(request, user)
    with transaction.atomic():
        otp_login(request, device)
        audit.record(actor=user, action="2fa.verify", obj=user,
                     details={"ip": proxy.client_address(request), "recovery_code": isinstance(device, StaticDevice),
                              "recovery_codes_left": recovery_codes_left(user)})
    return True


@transaction.atomic
def devices_reset(*, user, target) -> int:
    """The admin's reset: every second factor of `target` is removed (they enrol again at
    their next sign-in where it is required). Audited. Returns how many devices went."""
    if not (roles.has_role(user, {roles.ADMIN}) or getattr(user, "is_superuser", False)):
        raise Forbidden("Only an admin resets someone's two-factor sign-in.")
    devices = list(devices_for_user(target, confirmed=None))
    for device in devices:
        device.delete()
    audit.record(actor=user, action="2fa.reset", obj=target,
                 details={"user": target.get_username(), "devices": [d.persistent_id for d in devices]})
    return len(devices)


class RequireTwoFactorMiddleware:
    """Before any page: a user who must (OTP_REQUIRED_GROUPS) or chose to use two factors
    and whose session has not verified a code goes to the check, or to enrolment first."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated or user.is_verified() or self._exempt(request):
            return self.get_response(request)
        has_device = enrolled(user)
        if not has_device and not required_for(user):
            return self.get_response(request)
        target = ("/login/verify/" if has_device else "/account/two-factor/") + "?" + urlencode(
            {"next": request.get_full_path()})
        if request.htmx:
            response = TemplateResponse(request, "warroom/signed_out.html", status=401).render()
            response["HX-Redirect"] = target
            return response
        return redirect(target)

    @staticmethod
    def _exempt(request: HttpRequest) -> bool:
        if request.path_info.startswith(settings.STATIC_URL):
            return True
        try:
            return resolve(request.path_info).url_name in EXEMPT
        except Resolver404:
            return False
