"""The Feed, alerts, and the lead's sources and rules pages."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.views.decorators.http import require_GET, require_http_methods

from warroom.errors import WarroomError
from warroom.forms import optional_number
from warroom.roles import PAGE_ROLES, role_required
from warroom.views import render_page

from . import selectors, services
from .models import Alert, AlertRule, Mention, Source


def _int(value) -> int | None:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if 0 < number < 2**62 else None


@require_GET
@role_required(*PAGE_ROLES["feed"])
def feed(request: HttpRequest) -> HttpResponse:
    filters = {
        "source": _int(request.GET.get("source")),
        "sentiment": request.GET.get("sentiment", "") if request.GET.get("sentiment") in Mention.Sentiment.values else "",
        "lang": request.GET.get("lang", "")[:12],
        "rule": _int(request.GET.get("rule")),
        "alert": _int(request.GET.get("alert")),
        "q": request.GET.get("q", "").strip()[:200],
    }
    def context() -> dict:
        mentions = selectors.mention_feed(**filters, before=_int(request.GET.get("before")))
        return {
            "rows": selectors.feed_rows(mentions),
            "filters": filters,
            "filtered": any(filters.values()),
            "sources": selectors.source_list(),
            "rules": selectors.rule_names(),
            "languages": selectors.feed_languages(),
            "sentiments": Mention.Sentiment.choices,
            "older": mentions[-1].id if len(mentions) == selectors.PAGE_SIZE else None,
            "open_alerts": selectors.alert_list(open_only=True, limit=5),
            "alert": selectors.alert_find(filters["alert"]) if filters["alert"] else None,
        }

    if request.htmx and request.htmx.target == "feed-results":
        return TemplateResponse(request, "listening/feed.html#results", context())
    return render_page(request, "listening/feed.html", context)


@require_http_methods(["GET", "POST"])
@role_required(*PAGE_ROLES["alerts"])
def alerts(request: HttpRequest) -> HttpResponse:
    error = None
    if request.method == "POST":
        try:
            alert_id = _int(request.POST.get("alert"))
            if alert_id is None:
                raise WarroomError("Choose an alert to acknowledge.")
            services.alert_acknowledge(alert_id=alert_id, user=request.user)
        except WarroomError as exc:
            error = exc
        except Alert.DoesNotExist:
            error = WarroomError("That alert does not exist.")
            error.status = 404
        if error is None and not request.htmx:
            return redirect("alerts")
    status = getattr(error, "status", 200) if error else 200
    if request.htmx:
        context = {"alerts": selectors.alert_list(limit=100), "error": error}
        return TemplateResponse(request, "listening/alerts.html#list", context, status=status)
    return render_page(
        request, "listening/alerts.html", lambda: {"alerts": selectors.alert_list(limit=100), "error": error}, status=status
    )


@require_http_methods(["GET", "POST"])
@role_required(*PAGE_ROLES["sources"])
def sources(request: HttpRequest) -> HttpResponse:
    error, form = None, {}
    if request.method == "POST":
        action = request.POST.get("action", "create")
        try:
            if action == "create":
                form = request.POST
                interval = _int(request.POST.get("poll_interval"))
                source = services.source_create(
                    user=request.user,
                    name=request.POST.get("name", ""),
                    kind=request.POST.get("kind", ""),
                    query_text=request.POST.get("query", ""),
                    poll_interval=interval if interval is not None else -1,
                    instance_url=request.POST.get("instance_url", ""),
                    login=request.POST.get("login", ""),
                    secret=request.POST.get("secret", ""),
                    client_id=request.POST.get("client_id", ""),
                    client_secret=request.POST.get("client_secret", ""),
                    community=request.POST.get("community", ""),
                )
                if source.kind == Source.Kind.WEBHOOK:
                    _reveal_once(request, source, source.webhook_secret)
            elif action == "rotate":
                source_id = _int(request.POST.get("source"))
                if source_id is None:
                    raise WarroomError("That webhook source does not exist.")
                source, secret = services.source_webhook_secret_rotate(source_id=source_id, user=request.user)
                _reveal_once(request, source, secret)
            else:
                _switch(request, action, Source, services.source_set_enabled, "source")
        except WarroomError as exc:
            error = exc
        else:
            return redirect("sources")
    revealed = request.session.pop(REVEAL_KEY, None) if request.method == "GET" else None
    def context() -> dict:
        usage = selectors.usage_by_source()
        rows = [
            {"source": s, "health": selectors.source_health(s), "usage": usage.get(s.id, {})}
            for s in selectors.source_list()
        ]
        return {
            "rows": rows,
            "kinds": Source.Kind.choices,
            "error": error,
            "form": form,
            "budget": selectors.budget_summary(),
            "hook_base": request.build_absolute_uri("/hooks/"),
            "revealed": revealed,
        }

    return render_page(request, "listening/sources.html", context, status=error.status if error else 200)


@require_http_methods(["GET", "POST"])
@role_required(*PAGE_ROLES["rules"])
def rules(request: HttpRequest) -> HttpResponse:
    error, form, leading = None, {}, 0
    if request.method == "POST":
        action = request.POST.get("action", "create")
        try:
            if action == "create":
                # Shown back as typed; the parser sees it without surrounding space, so an
                # error's position is shifted by the leading space to sit under the right character.
                typed = services.clean(request.POST.get("query", ""), 1000)
                query_text = typed.strip()
                leading = len(typed) - len(typed.lstrip())
                form = {**request.POST.dict(), "query": typed}
                services.rule_create(
                    user=request.user,
                    name=request.POST.get("name", ""),
                    kind=request.POST.get("kind", AlertRule.Kind.KEYWORD),
                    query=query_text,
                    priority=request.POST.get("priority", "P3"),
                    sentiment_at_most=optional_number(request.POST.get("sentiment_at_most"), "Sentiment at most"),
                    min_followers=_int(request.POST.get("min_followers")),
                    open_case="open_case" in request.POST,
                    pause_queue="pause_queue" in request.POST,
                    declare_crisis="declare_crisis" in request.POST,
                )
            else:
                _switch(request, action, AlertRule, services.rule_set_enabled, "rule")
        except WarroomError as exc:
            error = exc
        else:
            return redirect("rules")
    def context() -> dict:
        return {
            "rules": selectors.rule_list(),
            "kinds": AlertRule.Kind.choices,
            "priorities": AlertRule.Priority.choices,
            "error": error,
            "error_position": error.position + leading if getattr(error, "position", None) is not None else None,
            "form": form,
        }

    return render_page(request, "listening/rules.html", context, status=error.status if error else 200)


REVEAL_KEY = "listening.webhook_secret_once"


def _reveal_once(request: HttpRequest, source: Source, secret: str) -> None:
    """The page after the redirect shows a new webhook secret once (the session forgets it
    as it is shown); every later view of the Sources page masks it."""
    request.session[REVEAL_KEY] = {"source": source.id, "name": source.name, "secret": secret,
                                   "url": request.build_absolute_uri(f"/hooks/{source.webhook_token}/")}


def _switch(request: HttpRequest, action: str, model, set_enabled, name: str) -> None:
    """The enable/disable buttons of the sources and rules pages."""
    if action not in ("enable", "disable"):
        raise WarroomError(f"Unknown action {action[:40]!r}.")
    object_id = _int(request.POST.get(name))
    if object_id is None or not model.objects.filter(id=object_id).exists():
        raise WarroomError(f"That {name} does not exist.")
    set_enabled(**{f"{name}_id": object_id}, user=request.user, enabled=action == "enable")
