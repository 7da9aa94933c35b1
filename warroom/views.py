"""The room shell: the room page, the audit log, announcements, sign-in, health."""

import hmac
import io
import logging
from base64 import b32encode
from collections.abc import Callable

import redis
import segno
from django.conf import settings
from django.contrib.auth import views as auth_views
from django.core.paginator import Paginator
from django.db import connection, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils.dateparse import parse_date
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from . import audit, live, presence, proxy, roles, selectors, services, twofactor
from .celery import app as celery_app
from .errors import WarroomError
from .models import Announcement
from .roles import PAGE_ROLES, role_required

logger = logging.getLogger(__name__)


def render_page(
    request: HttpRequest, template: str, context: dict | Callable[[], dict] | None = None, status: int = 200
) -> TemplateResponse:
    """Render a page of the room. The live watermark is read before anything else, so the
    page reflects at least every event up to it and replays only what came after: a page
    whose data is live passes its context as a callable, built after the watermark."""
    after = live.latest_id()
    if callable(context):
        context = context()
    groups = live.groups_for(user_id=request.user.id, held_roles=roles.roles_of(request.user))
    rail = [(event, live.render_row(event)) for event in live.recent(groups=groups, up_to=after)]
    context = {"live_after": after, "rail": rail, "present": presence.presence_list(), **(context or {})}
    return TemplateResponse(request, template, context, status=status)


def room_context(request: HttpRequest) -> dict:
    return {
        "announcements": Announcement.objects.select_related("author").order_by("-id")[:5],
        "can_announce": roles.has_role(request.user, PAGE_ROLES["announce"]),
    }


@require_GET
@role_required(*PAGE_ROLES["room"])
def room(request: HttpRequest) -> HttpResponse:
    return render_page(request, "warroom/room.html", room_context(request))


@require_POST
@role_required(*PAGE_ROLES["announce"])
def announce(request: HttpRequest) -> HttpResponse:
    text = request.POST.get("text", "")
    try:
        services.announcement_post(author=request.user, text=text, level=request.POST.get("level", "info"))
    except WarroomError as error:
        context = {"error": str(error), "text": text[: Announcement.MAX_LENGTH * 2]}
        if request.htmx:
            return TemplateResponse(request, "warroom/room.html#announce-form", context, status=error.status)
        return render_page(request, "warroom/room.html", {**room_context(request), **context}, status=error.status)
    if request.htmx:
        return TemplateResponse(request, "warroom/room.html#announce-form", {"sent": True})
    return redirect("room")


@require_GET
@role_required(*PAGE_ROLES["audit"])
def audit_log(request: HttpRequest) -> HttpResponse:
    filters = {
        "actor": request.GET.get("actor", "").strip()[:150],
        "action": request.GET.get("action", "").strip()[:80],
        "obj": request.GET.get("obj", "").strip()[:300],
    }
    since = parse_date(request.GET.get("since", "") or "") if _is_date(request.GET.get("since")) else None
    until = parse_date(request.GET.get("until", "") or "") if _is_date(request.GET.get("until")) else None
    entries = selectors.audit_list(**filters, since=since, until=until)
    page = Paginator(entries, 50).get_page(request.GET.get("page"))
    context = {"page": page, "filters": filters, "since": since, "until": until, "actions": selectors.audit_actions()}
    if request.htmx and request.htmx.target == "audit-results":
        return TemplateResponse(request, "warroom/audit.html#results", context)
    return render_page(request, "warroom/audit.html", context)


def _is_date(value: str | None) -> bool:
    try:
        return bool(value) and parse_date(value) is not None
    except ValueError:
        return False


def sign_in_record(request: HttpRequest, user, *, via: str) -> None:
    """Audit a sign-in, with the client's own address (behind the proxy too); call it in the
    transaction that signs the user in."""
    audit.record(actor=user, action="auth.login", details={"ip": proxy.client_address(request), "via": via})
    if not twofactor.enrolled(user):  # with a second factor, signing in is complete only after its code
        twofactor.throttle_reset(request, user)


class LoginView(auth_views.LoginView):
    template_name = "registration/login.html"
    redirect_authenticated_user = True

    def form_valid(self, form):
        with transaction.atomic():
            response = super().form_valid(form)
            sign_in_record(self.request, form.get_user(), via="room")
        return response


@require_POST
def logout(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        with transaction.atomic():
            audit.record(actor=request.user, action="auth.logout")
    return auth_views.LogoutView.as_view()(request)


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """Database, Redis and Celery workers: 200 when all are up, else 503. Anyone learns only
    {"status": "ok"|"down"}; what is down and why is for a lead, an admin or HEALTHZ_TOKEN."""
    checks = {"database": _check_database(), "redis": _check_redis()}
    checks["workers"] = _check_workers() if checks["redis"]["ok"] else {"ok": False, "error": "Redis is down"}
    down = [name for name, result in checks.items() if not result["ok"]]
    body = {"status": "ok" if not down else "down"}
    if _may_see_health_detail(request, database_up=checks["database"]["ok"]):
        body.update(down=down, checks=checks)
    return JsonResponse(body, status=200 if not down else 503)


def _may_see_health_detail(request: HttpRequest, *, database_up: bool) -> bool:
    token = settings.HEALTHZ_TOKEN
    scheme, _, sent = request.headers.get("Authorization", "").partition(" ")
    if token and scheme.lower() == "bearer" and hmac.compare_digest(sent.strip().encode(), token.encode()):
        return True
    if not database_up:
        return False  # the session lives in the database: only the token tells a monitor what is down
    try:
        return roles.has_role(request.user, {roles.LEAD, roles.ADMIN})
    except Exception:  # noqa: BLE001 - a database that fails between the check and here
        return False


def _check_database() -> dict:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return {"ok": True}
    except Exception as error:  # noqa: BLE001 - any failure means "down", reported by name
        logger.warning("healthz: database down: %s", error)
        return {"ok": False, "error": type(error).__name__}


def _check_redis() -> dict:
    try:
        redis.Redis.from_url(settings.REDIS_URL, socket_timeout=1, socket_connect_timeout=1).ping()
        return {"ok": True}
    except Exception as error:  # noqa: BLE001
        logger.warning("healthz: redis down: %s", error)
        return {"ok": False, "error": type(error).__name__}


def _check_workers() -> dict:
    try:
        replies = celery_app.control.ping(timeout=1.0, limit=1)
    except Exception as error:  # noqa: BLE001
        return {"ok": False, "error": type(error).__name__}
    if not replies:
        return {"ok": False, "error": "no Celery worker answered within 1 s"}
    return {"ok": True, "answered": len(replies)}


# --- Two-factor sign-in ----------------------------------------------------------------------

def _safe_next(request: HttpRequest, default: str = "/") -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return target
    return default


@never_cache
@require_http_methods(["GET", "POST"])
@role_required(*PAGE_ROLES["two_factor"])
def two_factor(request: HttpRequest) -> HttpResponse:
    """Enrol (scan the QR code, confirm a first code) or, once on, make new recovery codes.
    Recovery codes are shown in the response that made them, and never again."""
    user, error, codes = request.user, None, None
    if request.method == "POST":
        action = request.POST.get("action", "")
        try:
            if action == "confirm":
                codes = twofactor.totp_confirm(request=request, code=request.POST.get("code", ""))
            elif action == "recovery":
                codes = twofactor.recovery_codes_replace(request=request)
            else:
                raise WarroomError(f"Unknown action {action[:40]!r}.")
        except WarroomError as exc:
            error = exc
    enrolled = twofactor.enrolled(user)
    context = {
        "enrolled": enrolled, "codes": codes, "error": error, "next": _safe_next(request, ""),
        "required": twofactor.required_for(user), "verified": user.is_verified(),
        "codes_left": twofactor.recovery_codes_left(user) if enrolled else 0,
        "secret": "" if enrolled else b32encode(twofactor.totp_pending(user).bin_key).decode(),
    }
    return TemplateResponse(request, "warroom/two_factor.html", context, status=error.status if error else 200)


@never_cache
@require_GET
@role_required(*PAGE_ROLES["two_factor_qr"])
def two_factor_qr(request: HttpRequest) -> HttpResponse:
    """The QR code of the device being enrolled, as SVG from our own origin (no data: URL)."""
    try:
        device = twofactor.totp_pending(request.user)
    except WarroomError as error:
        return HttpResponse(str(error), status=error.status, content_type="text/plain; charset=utf-8")
    buffer = io.BytesIO()
    segno.make(device.config_url, error="m").save(buffer, kind="svg", scale=5, border=2, xmldecl=False)
    return HttpResponse(buffer.getvalue(), content_type="image/svg+xml")


@never_cache
@require_http_methods(["GET", "POST"])
@role_required(*PAGE_ROLES["two_factor_verify"])
def two_factor_verify(request: HttpRequest) -> HttpResponse:
    """After the password: a code from the app or a recovery code. A wrong code counts
    toward the sign-in throttle (axes answers the last one with its lockout page)."""
    next_url = _safe_next(request)
    if request.user.is_verified():
        return redirect(next_url)
    error = None
    if request.method == "POST":
        try:
            if twofactor.verify(request=request, code=request.POST.get("code", "")):
                return redirect(next_url)
            error = WarroomError("That code does not match. Wrong codes count toward the sign-in limit, "
                                 "like wrong passwords.")
        except WarroomError as exc:
            error = exc
        if not request.user.is_authenticated:  # locked out: the half-signed-in session ended
            return TemplateResponse(request, "registration/locked_out.html", status=429)
    context = {"error": error, "next": next_url, "enrolled": twofactor.enrolled(request.user)}
    return TemplateResponse(request, "warroom/two_factor_verify.html", context, status=error.status if error else 200)
