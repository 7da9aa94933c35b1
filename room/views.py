"""Pages that read across sibling apps: the post-event report (playbooks' firings and
timings, approvals' answers, triage's response times over the event's window)."""

import csv

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from approvals import engagement as approvals_engagement
from approvals import services as approvals_services

from playbooks import selectors as playbooks_selectors
from triage import selectors as triage_selectors
from wall import selectors as wall_selectors
from warroom import roles
from warroom.errors import InvalidInput, WarroomError
from warroom.roles import PAGE_ROLES, role_required
from warroom.views import render_page

from . import context as room_context
from . import executive
from . import report_pdf
from . import results as room_results
from .flows import crisis as crisis_flow
from .models import Crisis


@require_http_methods(["GET"])
@role_required(*PAGE_ROLES["playbook_report"])
def playbook_report(request: HttpRequest, event_id: int) -> HttpResponse:
    event = playbooks_selectors.event_get(event_id)
    if event is None:
        raise Http404("No such event.")

    def context() -> dict:
        triage = triage_selectors.first_responses_between(start=event.starts_at, end=event.ends_at)
        return {"event": event, "report": playbooks_selectors.event_report(event, triage=triage), "tz": event.time_zone,
                "drills": playbooks_selectors.drill_list(event)}

    return render_page(request, "playbooks/report.html", context)


# --- Results: what worked (room/results.py) -------------------------------------------------

def _results(request: HttpRequest, event_id: int) -> room_results.Results:
    """An event's results, or a drill's of that event with `?drill=<id>`."""
    event = playbooks_selectors.event_get(event_id)
    if event is None:
        raise Http404("No such event.")
    drill = None
    drill_id = request.GET.get("drill", "")
    if drill_id:
        drill = next((d for d in playbooks_selectors.drill_list(event) if str(d.id) == drill_id), None)
        if drill is None:
            raise Http404("No such drill of this event.")
    return room_results.results_for(event=event, drill=drill)


def _results_name(results: room_results.Results) -> str:
    suffix = f"-drill-{results.drill.id}" if results.drill else ""
    return f"event-{results.event.id}{suffix}-results"


@require_http_methods(["GET"])
@role_required(*PAGE_ROLES["playbook_results"])
def playbook_results(request: HttpRequest, event_id: int) -> HttpResponse:
    """Every variant fired, when, trigger to published, its engagement and its curve; the
    best and the worst. The page redraws (htmx) when engagement is recorded."""
    def context() -> dict:
        results = _results(request, event_id)
        charts = [{"id": row.firing_id, "label": f"{row.scenario} {row.account}", **row.series}
                  for row in results.rows if row.series]
        return {"results": results, "event": results.event, "tz": results.event.time_zone, "charts": charts,
                "drills": playbooks_selectors.drill_list(results.event)}

    if request.htmx:
        return TemplateResponse(request, "room/results.html#live", context())
    return render_page(request, "room/results.html", context)


@require_http_methods(["GET"])
@role_required(*PAGE_ROLES["playbook_results_csv"])
def playbook_results_csv(request: HttpRequest, event_id: int) -> HttpResponse:
    results = _results(request, event_id)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{_results_name(results)}.csv"'
    writer = csv.writer(response)
    writer.writerow(room_results.CSV_HEADER)
    for row in room_results.csv_rows(results):
        writer.writerow([_cell(value) for value in row])
    return response


@require_http_methods(["GET"])
@role_required(*PAGE_ROLES["playbook_results_pdf"])
def playbook_results_pdf(request: HttpRequest, event_id: int) -> HttpResponse:
    results = _results(request, event_id)
    response = HttpResponse(report_pdf.render_results(results), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{_results_name(results)}.pdf"'
    return response


@never_cache
@require_http_methods(["GET", "HEAD"])
def short_link(request: HttpRequest, code: str) -> HttpResponse:
    """The room's own redirect: 302 to the URL with its UTM tags; a person's click is
    counted, a bot's, a prefetch's or a HEAD's is not. Public: whoever saw the post."""
    target = approvals_engagement.short_link_hit(
        code=code, method=request.method, user_agent=request.headers.get("User-Agent", "")[:500],
        purpose=request.headers.get("Sec-Purpose", "") or request.headers.get("Purpose", ""))
    if target is None:
        raise Http404("No such link.")
    response = HttpResponse(status=302)
    response["Location"] = target
    response["Referrer-Policy"] = "no-referrer-when-downgrade"
    return response


# --- Crisis mode (room/flows/crisis.py) ---------------------------------------------------

def _release(request: HttpRequest):
    release = request.POST.get("release", "")
    if release == "selected":
        return [int(v) for v in request.POST.getlist("post") if v.isdigit()]
    return release if release in ("all", "none") else None  # None: the flow asks for a choice


@require_http_methods(["GET", "POST"])
@role_required(*PAGE_ROLES["crisis"])
def crisis(request: HttpRequest) -> HttpResponse:
    """Declare (the lead), fire a holding statement (from the banner), stand down with the
    review of what was held, and the crises so far."""
    error = None
    if request.method == "POST":
        action = request.POST.get("action", "")
        try:
            if action == "declare":
                crisis_flow.crisis_declare(user=request.user, name=request.POST.get("name", "")[:200],
                                           reason=request.POST.get("reason", "")[:600],
                                           terms=request.POST.get("terms", "")[:1000])
            elif action == "fire":
                post_id = request.POST.get("post", "")
                if not post_id.isdigit():
                    raise InvalidInput("Choose a holding statement to fire.")
                crisis_flow.holding_fire(user=request.user, post_id=int(post_id))
            elif action == "executive_link":
                hours = request.POST.get("hours", "")
                executive.link_create(user=request.user, crisis_id=int(request.POST.get("crisis", "0") or 0),
                                      hours=int(hours) if hours.isdigit() else executive.DEFAULT_HOURS)
            elif action == "executive_revoke":
                link_id = request.POST.get("link", "")
                executive.link_revoke(user=request.user, link_id=int(link_id) if link_id.isdigit() else 0)
            elif action == "stand_down":
                crisis_id = request.POST.get("crisis", "")
                if not crisis_id.isdigit():
                    raise InvalidInput("No crisis to stand down.")
                crisis_flow.crisis_stand_down(user=request.user, crisis_id=int(crisis_id), release=_release(request))
            else:
                raise InvalidInput(f"Unknown action {action[:40]!r}.")
        except WarroomError as exc:
            error = exc
        if error is None:
            return redirect("crisis")

    def context() -> dict:
        current = crisis_flow.crisis_open()
        return {"current": current, "error": error, "can_lead": roles.has_role(request.user, {roles.LEAD}),
                "entries": list(current.entries.all()[:500]) if current else [],
                "due": approvals_services.came_due_while_paused() if current else [],
                "past": Crisis.objects.filter(open=False).order_by("-closed_at")[:20],
                "links": [(link, request.build_absolute_uri(reverse("crisis_executive", args=[executive.token_for(link)])))
                          for link in current.executive_links.order_by("-id")] if current else [],
                "now": timezone.now()}

    return render_page(request, "room/crisis.html", context, status=error.status if error else 200)


@require_http_methods(["GET"])
@role_required(*PAGE_ROLES["crisis_banner"])
def crisis_banner(request: HttpRequest) -> HttpResponse:
    """The banner for this user (pushed events ask for it: the fire buttons depend on the role)."""
    context = room_context.banner(request.user)
    return TemplateResponse(request, "room/_crisis_banner.html", context)


def _stood_down(crisis_id: int) -> Crisis:
    """A crisis with a report: one the lead stood down."""
    record = Crisis.objects.filter(id=crisis_id, open=False).first()
    if record is None:
        raise Http404("No such crisis report.")
    return record


CSV_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def _cell(value) -> str:
    text = str(value if value is not None else "")
    return "'" + text if text.startswith(CSV_FORMULA) else text  # a spreadsheet never runs a mention as a formula


@require_http_methods(["GET"])
@role_required(*PAGE_ROLES["crisis_report_csv"])
def crisis_report_csv(request: HttpRequest, crisis_id: int) -> HttpResponse:
    record = _stood_down(crisis_id)
    report = record.report
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="crisis-{record.id}-report.csv"'
    writer = csv.writer(response)
    writer.writerow(["section", "at", "kind", "summary", "actor"])
    for entry in report.get("timeline", []):
        writer.writerow([_cell(v) for v in ("timeline", entry["at"], entry["kind"], entry["summary"], entry["actor"])])
    for post in report.get("held", []):
        writer.writerow([_cell(v) for v in ("held", "", "released" if post["released"] else "held", post["text"],
                                            post["account"])])
    for post in report.get("went_out", []):
        writer.writerow([_cell(v) for v in ("went_out", post["at"], "holding" if post["holding"] else "post",
                                            post["text"], post["account"])])
    responses = report.get("responses", {})
    writer.writerow(["responses", "", "cases / answered / median min / p90 min",
                     f"{responses.get('cases')} / {responses.get('answered')} / {responses.get('median_minutes')} / "
                     f"{responses.get('p90_minutes')}", ""])
    return response


@require_http_methods(["GET"])
@role_required(*PAGE_ROLES["crisis_report_pdf"])
def crisis_report_pdf(request: HttpRequest, crisis_id: int) -> HttpResponse:
    record = _stood_down(crisis_id)
    response = HttpResponse(report_pdf.render(record.report), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="crisis-{record.id}-report.pdf"'
    return response


@never_cache
@require_http_methods(["GET"])
def crisis_executive(request: HttpRequest, token: str) -> HttpResponse:
    """The executives' read-only page, without sign-in (the link is the key): the crisis,
    its timeline, volume and sentiment; the partial refreshes itself every few seconds."""
    try:
        link = executive.link_open(token[:200])
    except executive.LinkRefused as refused:
        return TemplateResponse(request, "room/executive_refused.html", {"error": refused}, status=refused.status)
    crisis = link.crisis
    context = {"crisis": crisis, "link": link, "token": token, "entries": list(crisis.entries.order_by("-at", "-id")[:200]),
               "volume": wall_selectors.volume_series(minutes=60), "sentiment": wall_selectors.sentiment_series(minutes=60)}
    template = "room/executive.html#live" if request.htmx else "room/executive.html"
    return TemplateResponse(request, template, context)
