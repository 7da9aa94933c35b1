"""Pages that read across sibling apps: the post-event report (playbooks' firings and
timings, approvals' answers, triage's response times over the event's window)."""

from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.http import require_http_methods

from playbooks import selectors as playbooks_selectors
from triage import selectors as triage_selectors
from warroom.roles import PAGE_ROLES, role_required
from warroom.views import render_page


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
