"""The Wall (the room's big screen) and its data, story arcs, and notification settings."""

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from warroom.errors import WarroomError
from warroom.roles import PAGE_ROLES, has_role, role_required
from warroom.views import render_page

from . import selectors, services
from .models import Topic


def _int(value: str | None, default: int) -> int:
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default


@require_GET
@role_required(*PAGE_ROLES["wall"])
def wall(request: HttpRequest) -> HttpResponse:
    can_track = has_role(request.user, PAGE_ROLES["topics"])
    return render_page(request, "warroom/wall.html", lambda: {"status": selectors.wall_status(user=request.user), "can_track": can_track})


@never_cache
@require_GET
@role_required(*PAGE_ROLES["wall_panels"])
def wall_panels(request: HttpRequest) -> HttpResponse:
    """The status panels, fetched again by the Wall whenever a live event arrives."""
    return TemplateResponse(request, "warroom/wall.html#panels", {"status": selectors.wall_status(user=request.user)})


@never_cache
@require_GET
@role_required(*PAGE_ROLES["wall_volume"])
def wall_volume(request: HttpRequest) -> JsonResponse:
    return JsonResponse(selectors.volume_series(minutes=_int(request.GET.get("minutes"), 60)))


@never_cache
@require_GET
@role_required(*PAGE_ROLES["wall_sentiment"])
def wall_sentiment(request: HttpRequest) -> JsonResponse:
    return JsonResponse(selectors.sentiment_series(minutes=60, bucket=5))


@never_cache
@require_GET
@role_required(*PAGE_ROLES["wall_responses"])
def wall_responses(request: HttpRequest) -> JsonResponse:
    return JsonResponse(selectors.response_series(hours=24, user=request.user))


@require_http_methods(["GET", "POST"])
@role_required(*PAGE_ROLES["topics"])
def topics(request: HttpRequest) -> HttpResponse:
    """Story arcs: the tracked topics, one chosen (?topic=id) drawn day by day; POST tracks a new one."""
    context: dict = {"form": {"name": "", "query": "", "days_back": 28}}
    status = 200
    if request.method == "POST":
        form = {key: request.POST.get(key, "")[:2000] for key in ("name", "query", "days_back")}
        try:
            topic = services.topic_create(user=request.user, name=form["name"], query=form["query"],
                                          days_back=_int(form["days_back"], 0))
            return redirect(f"{request.path}?topic={topic.id}")
        except WarroomError as error:
            context.update(error=str(error), form=form)
            status = error.status
    listed = selectors.topic_list()
    chosen = next((t for t in listed if t.id == _int(request.GET.get("topic"), 0)), listed[0] if listed else None)

    def build() -> dict:
        return {**context, "topics": listed, "chosen": chosen,
                "arc": selectors.topic_arc(topic=chosen) if chosen else None}

    return render_page(request, "wall/topics.html", build, status=status)


@never_cache
@require_GET
@role_required(*PAGE_ROLES["topic_arc"])
def topic_arc(request: HttpRequest) -> JsonResponse:
    topic = Topic.objects.filter(id=_int(request.GET.get("topic"), 0)).first()
    if topic is None:
        return JsonResponse({"days": [], "error": "No such story: pick one from the list."}, status=200 if not request.GET.get("topic") else 404)
    return JsonResponse(selectors.topic_arc(topic=topic))


@require_http_methods(["GET", "POST"])
@role_required(*PAGE_ROLES["notification_settings"])
def notification_settings(request: HttpRequest) -> HttpResponse:
    context: dict = {}
    status = 200
    if request.method == "POST":
        fields = {name: request.POST.get(name) == "on" for name in services.PREFERENCE_FIELDS}
        try:
            services.notification_preference_set(user=request.user, **fields)
            context["saved"] = True
        except WarroomError as error:
            context["error"] = str(error)
            status = error.status
    preference = services.notification_preference_get(request.user)
    fields = [(name, getattr(preference, name), preference._meta.get_field(name).help_text or name.replace("_", " "))
              for name in services.PREFERENCE_FIELDS]
    away = [pref.user.get_full_name() or pref.user.get_username() for pref in services.people_on_deck()]
    return render_page(request, "wall/notifications.html",
                       {**context, "preference": preference, "fields": fields, "away_on_deck": away}, status=status)
