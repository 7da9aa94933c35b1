"""Roles are Django groups. Every view and consumer asks this module, on the server,
whether the user holds one of the roles a page allows."""

from collections.abc import Iterable
from functools import wraps

from django.contrib.auth.models import Group
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest
from django.template.response import TemplateResponse

COMMUNITY_MANAGER = "community manager"
LEGAL = "legal"
PRODUCER = "producer"
LEAD = "lead"
ADMIN = "admin"

# Most senior first: the role a user is shown as when they hold several.
ALL = (ADMIN, LEAD, PRODUCER, LEGAL, COMMUNITY_MANAGER)
EVERYONE = frozenset(ALL)


def slug(role: str) -> str:
    """The form of a role used in channel-layer group names and CSS classes."""
    return role.replace(" ", "-")


def ensure_groups() -> None:
    """Create the role groups if they are missing (the data migration and demo seed call it)."""
    for role in ALL:
        Group.objects.get_or_create(name=role)


def roles_of(user) -> frozenset[str]:
    """The roles a user holds, cached on the user object for the request."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return frozenset()
    cached = getattr(user, "_warroom_roles", None)
    if cached is None:
        cached = frozenset(user.groups.filter(name__in=ALL).values_list("name", flat=True))
        user._warroom_roles = cached
    return cached


def primary_role(user) -> str | None:
    held = roles_of(user)
    return next((role for role in ALL if role in held), None)


def has_role(user, allowed: Iterable[str]) -> bool:
    return bool(roles_of(user) & frozenset(allowed))


def role_required(*allowed: str):
    """Page guard: anonymous users go to the login page; a signed-in user without one of
    the allowed roles gets a 403 page that says which roles may open it."""
    allowed_set = frozenset(allowed)

    def decorator(view):
        @wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs):
            if not request.user.is_authenticated:
                if request.htmx:
                    response = TemplateResponse(request, "warroom/signed_out.html", status=401)
                    response["HX-Redirect"] = f"/login/?next={request.path}"
                    return response
                return redirect_to_login(request.get_full_path())
            if not has_role(request.user, allowed_set):
                return TemplateResponse(
                    request,
                    "warroom/forbidden.html",
                    {"allowed": [role for role in ALL if role in allowed_set]},
                    status=403,
                )
            return view(request, *args, **kwargs)

        wrapper.allowed_roles = allowed_set
        return wrapper

    return decorator


# Which pages each role may open; the navigation and the role matrix test read it too.
PAGE_ROLES = {
    "room": EVERYONE,
    "feed": frozenset({COMMUNITY_MANAGER, PRODUCER, LEAD, ADMIN}),
    "queue": frozenset({COMMUNITY_MANAGER, LEGAL, PRODUCER, LEAD, ADMIN}),
    "approvals": EVERYONE,
    "calendar": frozenset({PRODUCER, COMMUNITY_MANAGER, LEAD, ADMIN}),
    "queue_switch": frozenset({LEAD}),
    "accounts": frozenset({LEAD, ADMIN}),
    "media_library": EVERYONE,
    "media_file": EVERYONE,
    "compose_preview": frozenset({COMMUNITY_MANAGER, PRODUCER, LEAD, ADMIN}),
    # The page of a link sent to an approver on deck: anyone signed in may open it, and a
    # link that is not theirs is refused (and audited) by the service.
    "approval_away": EVERYONE,
    "triage_routing": frozenset({LEAD, ADMIN}),
    "kpis": frozenset({LEAD, ADMIN}),
    "playbooks": frozenset({PRODUCER, LEGAL, LEAD, ADMIN}),
    "playbook_event": frozenset({PRODUCER, LEGAL, LEAD, ADMIN}),
    "playbook_live": frozenset({PRODUCER, LEGAL, LEAD, ADMIN}),
    "playbook_export": frozenset({PRODUCER, LEGAL, LEAD, ADMIN}),
    "playbook_report": frozenset({PRODUCER, LEGAL, LEAD, ADMIN}),
    "playbook_drill": frozenset({PRODUCER, LEGAL, LEAD, ADMIN}),
    "playbook_results": frozenset({PRODUCER, LEGAL, LEAD, ADMIN}),
    "playbook_results_csv": frozenset({PRODUCER, LEGAL, LEAD, ADMIN}),
    "playbook_results_pdf": frozenset({PRODUCER, LEGAL, LEAD, ADMIN}),
    "wall": EVERYONE,
    "wall_panels": EVERYONE,
    "wall_volume": EVERYONE,
    "wall_sentiment": EVERYONE,
    "wall_responses": EVERYONE,
    "topics": frozenset({LEAD, ADMIN}),
    "topic_arc": frozenset({LEAD, ADMIN}),
    "notification_settings": EVERYONE,
    "audit": frozenset({LEAD, ADMIN}),
    "announce": frozenset({LEAD, ADMIN}),
    "alerts": frozenset({COMMUNITY_MANAGER, PRODUCER, LEAD, ADMIN}),
    "sources": frozenset({LEAD, ADMIN}),
    "rules": frozenset({LEAD, ADMIN}),
    "two_factor": EVERYONE,
    "two_factor_qr": EVERYONE,
    "two_factor_verify": EVERYONE,
    "crisis": EVERYONE,
    "crisis_banner": EVERYONE,
    "crisis_report_csv": frozenset({LEAD, ADMIN}),
    "crisis_report_pdf": frozenset({LEAD, ADMIN}),
}

NAVIGATION = (
    ("room", "Room", "g r"),
    ("feed", "Feed", "g f"),
    ("queue", "Queue", "g q"),
    ("approvals", "Approvals", "g a"),
    ("playbooks", "Playbooks", "g p"),
    ("wall", "Wall", "g w"),
    ("audit", "Audit", "g l"),
)


def context(request: HttpRequest) -> dict:
    """Template context: the signed-in user's role and the navigation they may use."""
    user = getattr(request, "user", None)
    held = roles_of(user) if user is not None else frozenset()
    return {
        "user_role": primary_role(user) if held else None,
        "user_role_slugs": " ".join(sorted(slug(role) for role in held)),
        "nav_items": [
            {"name": name, "label": label, "keys": keys}
            for name, label, keys in NAVIGATION
            if held & PAGE_ROLES[name]
        ],
    }
