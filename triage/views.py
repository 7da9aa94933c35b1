"""The Queue: one URL (/queue/) for the page, its filtered results, one case's detail
(`?case=<id>`), the live row fetch (`?row=<id>`), and every action, by POST with `action`.

htmx requests get the partial they swap, with the status of any refusal (400, 403, 404,
409); without JavaScript a POST redirects back, or renders the whole page with the message.
Which cases a user may see, and so act on, is decided by triage.selectors for every request."""

from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from approvals import selectors as approvals_selectors
from approvals.services import CHECKLIST
from listening import selectors as listening_selectors
from networks import registry as networks
from warroom import live, roles
from warroom.errors import InvalidInput, WarroomError
from warroom.forms import optional_number
from warroom.roles import PAGE_ROLES, role_required
from warroom.views import render_page

from . import rows, selectors, services
from .models import Case, Priority, Team, TriageRule
from .selectors import CaseNotFound, QueueFilters

ESCALATION_TEAMS = [(Team.LEGAL, Team.LEGAL.label), (Team.PR, Team.PR.label), (Team.SUPPORT, Team.SUPPORT.label)]
BULK_LIMIT = 200
TEXT_ECHO_LIMIT = 4000


def _int(value) -> int | None:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if 0 < number < 2**62 else None


def _name(user) -> str:
    return user.get_full_name() or user.get_username()


def _abilities(user) -> dict:
    return {
        "can_work": roles.has_role(user, services.AGENTS),
        "can_assign": roles.has_role(user, {roles.LEAD, roles.ADMIN}),
        "me": user.id,
    }


# --- Reading ---------------------------------------------------------------------------

@require_http_methods(["GET", "POST"])
@role_required(*PAGE_ROLES["queue"])
def index(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        return _act(request)
    filters = QueueFilters.from_query(request.GET)
    row_id = _int(request.GET.get("row"))
    if row_id is not None:
        return _row_sync(request, row_id, filters)
    case_id = _int(request.GET.get("case")) if "case" in request.GET else None
    if request.htmx and request.htmx.target == "case-detail":
        return _detail_response(request, case_id)
    if request.htmx and request.htmx.target == "queue-results":
        return TemplateResponse(request, "triage/queue.html#results", _results_context(request, filters))
    return _page(request, filters, case_id=case_id)


def _results_context(request: HttpRequest, filters: QueueFilters) -> dict:
    cases = selectors.case_queue(user=request.user, filters=filters)
    abilities = _abilities(request.user)
    rows.rows_attach(cases, viewer=abilities, csrf_token=get_token(request))
    return {"cases": cases, "filters": filters, "full": len(cases) == selectors.QUEUE_LIMIT, **abilities}


def _page(request: HttpRequest, filters: QueueFilters, *, case_id: int | None = None, detail: dict | None = None,
          message: dict | None = None, status: int = 200) -> HttpResponse:
    if detail is None and case_id is not None:
        detail, status = _detail_context(request, case_id)
    teams = selectors.visible_teams(request.user)

    def context() -> dict:
        return {
            **_results_context(request, filters),
            **(detail or {"case": None}),
            **(message or {}),
            "teams": [(value, label) for value, label in Team.choices if teams is None or value in teams],
            "priorities": Priority.choices,
            "tags": selectors.queue_tags(request.user),
            "assignees": selectors.assignable_users() if roles.has_role(request.user, {roles.LEAD, roles.ADMIN}) else [],
        }

    return render_page(request, "triage/queue.html", context, status=status)


def _row_sync(request: HttpRequest, case_id: int, filters: QueueFilters) -> HttpResponse:
    """What one row now looks like on this user's page with these filters, or that it is
    gone. The live layer asks for it after each case event."""
    as_of = live.latest_id()  # read first: the row below is at least this fresh
    rows = selectors.case_queue(user=request.user, filters=filters, case_id=case_id)
    context = {"as_of": as_of, "case_id": case_id, "c": rows[0] if rows else None, **_abilities(request.user)}
    return TemplateResponse(request, "triage/queue.html#sync", context)


def _reply_network(case: Case) -> str | None:
    """The network a reply to this case goes out on: its mention's, when that is one the room
    publishes on (a demo, RSS or webhook mention may be answered from any account)."""
    platform = case.mention.platform if case.mention else None
    return platform if platform in networks.MODULES else None


def _detail_context(request: HttpRequest, case_id: int | None, **extra) -> tuple[dict, int]:
    try:
        case = selectors.case_get(case_id=case_id, user=request.user)
    except CaseNotFound as error:
        return {"case": None, "detail_error": error}, error.status
    present = selectors.case_presence(case.id)
    context = {
        "case": case,
        "accounts": approvals_selectors.account_list(network=_reply_network(case)),
        "canned": selectors.canned_for(case),
        "checklist": list(enumerate(CHECKLIST)),
        "reply_route": services.reply_route(case=case, user=request.user, text=""),
        "escalation_teams": ESCALATION_TEAMS,
        "assignees": selectors.assignable_users() if roles.has_role(request.user, {roles.LEAD, roles.ADMIN}) else [],
        "present": [{"uid": uid, **entry} for uid, entry in present.items() if uid != str(request.user.id)],
        "typed": {},
        **_abilities(request.user),
        **extra,
    }
    return context, 200


def _detail_response(request: HttpRequest, case_id: int | None, *, status: int | None = None, **extra) -> HttpResponse:
    context, found = _detail_context(request, case_id, **extra)
    return TemplateResponse(request, "triage/queue.html#detail", context, status=status or found)


# --- Acting ----------------------------------------------------------------------------

def _act(request: HttpRequest) -> HttpResponse:
    action = request.POST.get("action", "")
    if action in ("viewing", "replying", "left"):
        return _presence(request, action)
    if action in ("bulk_close", "bulk_assign", "bulk_tag"):
        return _bulk(request, action)
    handler = {"take": _take, "assign": _assign, "wait": _wait, "close": _close,
               "escalate": _escalate, "note": _note, "reply": _reply}.get(action)
    from_detail = request.htmx and request.htmx.target == "case-detail"
    case_id = _int(request.POST.get("case"))
    typed = {
        "text": request.POST.get("text", "")[:TEXT_ECHO_LIMIT],
        "note": request.POST.get("note", "")[:TEXT_ECHO_LIMIT],
        "team": request.POST.get("team", ""),
        "account": _int(request.POST.get("account")),
        "checklist": request.POST.getlist("checklist"),
        "override_reason": request.POST.get("override_reason", "")[:500],
    }
    error, notice = None, ""
    try:
        if handler is None:
            raise InvalidInput(f"Unknown action {action[:40]!r}.")
        case = selectors.case_get(case_id=case_id, user=request.user, events=False)
        notice = handler(request, case)
    except WarroomError as exc:
        error = exc
    status = error.status if error else 200
    open_form = action if action in ("escalate", "note", "reply") and error else ""

    if request.htmx and from_detail:
        return _detail_response(request, case_id, status=status, detail_error=error, notice=notice,
                                typed=typed if error else {}, open_form=open_form)
    if request.htmx:
        rows = selectors.case_queue(user=request.user, case_id=case_id) if case_id else []
        context = {"c": rows[0] if rows else None, "case_id": case_id, "row_error": error, "row_notice": notice,
                   **_abilities(request.user)}
        return TemplateResponse(request, "triage/queue.html#row-response", context, status=status)
    if error is None:
        return redirect(f"{reverse('queue')}?case={case_id}" if action in ("escalate", "note", "reply") else reverse("queue"))
    detail, _ = _detail_context(request, case_id, detail_error=error, typed=typed, open_form=open_form)
    return _page(request, QueueFilters(), detail=detail, status=status)


def _take(request: HttpRequest, case: Case) -> str:
    services.case_take(case_id=case.id, user=request.user)
    return "It is yours."


def _assignee(request: HttpRequest):
    assignee = get_user_model().objects.filter(id=_int(request.POST.get("assignee")), is_active=True).first()
    if assignee is None:
        raise InvalidInput("Assign to: choose a person.")
    return assignee


def _assign(request: HttpRequest, case: Case) -> str:
    assignee = _assignee(request)
    services.case_assign(case_id=case.id, user=request.user, assignee=assignee)
    return f"Assigned to {_name(assignee)}."


def _wait(request: HttpRequest, case: Case) -> str:
    services.case_wait(case_id=case.id, user=request.user)
    return "Waiting on the customer: the clock stopped."


def _close(request: HttpRequest, case: Case) -> str:
    services.case_close(case_id=case.id, user=request.user)
    return f"Case #{case.id} closed."


def _escalate(request: HttpRequest, case: Case) -> str:
    services.case_escalate(case_id=case.id, user=request.user, team=request.POST.get("team", ""),
                           note=request.POST.get("note", ""))
    return f"Escalated to {Team(request.POST['team']).label}."


def _note(request: HttpRequest, case: Case) -> str:
    services.case_note(case_id=case.id, user=request.user, text=request.POST.get("note", ""))
    return "Note added."


def _reply(request: HttpRequest, case: Case) -> str:
    seen = _int(request.POST.get("version"))
    if seen is None:
        raise InvalidInput("This form does not say which version of the case you read: open the case again.")
    ticked = set(request.POST.getlist("checklist"))
    post = services.case_reply(
        case_id=case.id, user=request.user, account_id=_int(request.POST.get("account")) or 0,
        text=request.POST.get("text", ""), seen_version=seen,
        checklist={question: str(n) in ticked for n, question in enumerate(CHECKLIST)},
        override_reason=request.POST.get("override_reason", ""),
    )
    if post.state == post.State.PENDING:
        return "Reply sent to legal. It goes out once approved."
    return "Reply approved by policy: it goes out now."


def _bulk(request: HttpRequest, action: str) -> HttpResponse:
    """One change to many cases: each case on its own, so one refusal does not undo the rest."""
    ids = [i for i in (_int(v) for v in request.POST.getlist("cases")[:BULK_LIMIT]) if i is not None]
    done, refused = [], []
    try:
        if not ids:
            raise InvalidInput("Select cases first (x on a row).")
        if action == "bulk_assign":
            assignee = _assignee(request)
            change = lambda case_id: services.case_assign(case_id=case_id, user=request.user, assignee=assignee)  # noqa: E731
            verb = f"assigned to {_name(assignee)}"
        elif action == "bulk_tag":
            tag = " ".join(request.POST.get("tag", "").split()).lower()[:40]
            if not tag:
                raise InvalidInput("Tag is empty: type the tag to add.")
            change = lambda case_id: services.case_tag(case_id=case_id, user=request.user, tag=tag)  # noqa: E731
            verb = f"tagged {tag}"
        else:
            change = lambda case_id: services.case_close(case_id=case_id, user=request.user)  # noqa: E731
            verb = "closed"
        for case_id in ids:
            try:
                selectors.case_get(case_id=case_id, user=request.user, events=False)
                change(case_id)
                done.append(case_id)
            except WarroomError as exc:
                refused.append((case_id, exc))
        error = refused[0][1] if refused and not done else None
    except WarroomError as exc:
        error = exc
    context = {
        "notice": f"{len(done)} case{'s' if len(done) != 1 else ''} {verb}." if done else "",
        "refused": refused, "error": error,
    }
    status = error.status if error else 200
    if request.htmx:
        return TemplateResponse(request, "triage/queue.html#message", context, status=status)
    if error is None and not refused:
        return redirect("queue")
    return _page(request, QueueFilters(), message=context, status=status)


# --- Presence --------------------------------------------------------------------------

def _presence(request: HttpRequest, doing: str) -> HttpResponse:
    """Who is viewing and who is replying to a case: kept a minute in the cache (an open
    page refreshes it every 20 s) and pushed live to the people who can see the case when
    it changes, and again before other pages' badges run out. Opening the reply form while
    someone else replies answers with a warning."""
    try:
        case = selectors.case_get(case_id=_int(request.POST.get("case")), user=request.user, events=False)
    except CaseNotFound as error:
        return HttpResponse(status=error.status)
    now = timezone.now().timestamp()
    uid, name = str(request.user.id), _name(request.user)
    present = selectors.case_presence(case.id)
    before = present.pop(uid, None)
    push = (before or {}).get("doing") != (None if doing == "left" else doing)
    if doing != "left":
        show_until = before["show_until"] if before and not push else 0
        if show_until - now < selectors.PRESENCE_SECONDS:  # others' badges would run out before the next refresh
            show_until, push = now + selectors.BADGE_SECONDS, True
        present[uid] = {"who": name, "doing": doing, "alive_until": now + selectors.PRESENCE_SECONDS,
                        "show_until": show_until}
    cache.set(selectors.presence_key(case.id), present, selectors.PRESENCE_SECONDS)
    if push:
        with transaction.atomic():
            live.publish(
                "case.presence", audience=services.case_audience(case), actor=name,
                summary=f"{name} {'left' if doing == 'left' else 'is ' + doing} case #{case.id}",
                case_id=case.id, who=name, doing=doing,
                present=[{"uid": key, "who": e["who"], "doing": e["doing"], "until": e["show_until"]}
                         for key, e in present.items()],
            )
    others = [e for key, e in present.items() if key != uid and e["doing"] == "replying"]
    context = {"case_id": case.id, "others": others if doing == "replying" else []}
    return TemplateResponse(request, "triage/queue.html#presence-warning", context)


# --- The lead's pages: routing (triage rules, SLA targets) and response KPIs ---------------

def _rule_form(post) -> dict:
    return {
        "name": post.get("name", ""), "query": post.get("query", ""),
        "alert_rule": _int(post.get("alert_rule")),
        "sentiment_at_most": optional_number(post.get("sentiment_at_most"), "Sentiment at most"),
        "min_followers": optional_number(post.get("min_followers"), "Minimum followers", whole=True),
        "languages": post.get("languages", "").replace(",", " ").split(),
        "priority": post.get("priority", ""), "team": post.get("team", ""),
        "tags": post.get("tags", "").split(","), "assign": post.get("assign", ""),
        "escalate_note": post.get("escalate_note", ""), "replies_need_legal": post.get("replies_need_legal") == "on",
    }


def _rule_shown(rule: TriageRule) -> dict:
    """A rule as its edit form shows it (the same shape as a typed form)."""
    return {"name": rule.name, "query": rule.query, "alert_rule": str(rule.alert_rule_id or ""),
            "sentiment_at_most": "" if rule.sentiment_at_most is None else rule.sentiment_at_most,
            "min_followers": "" if rule.min_followers is None else rule.min_followers,
            "languages": " ".join(rule.languages), "priority": rule.priority, "team": rule.team,
            "tags": ", ".join(rule.tags), "assign": rule.assign, "escalate_note": rule.escalate_note,
            "replies_need_legal": rule.replies_need_legal}


def _routing_action(request: HttpRequest) -> str:
    action = request.POST.get("action", "")
    rule_id = _int(request.POST.get("rule"))
    if action in ("update", "enable", "disable", "up", "down") and (
            rule_id is None or not TriageRule.objects.filter(id=rule_id).exists()):
        raise InvalidInput("That triage rule no longer exists.")
    if action == "create":
        rule = services.triage_rule_create(user=request.user, **_rule_form(request.POST))
        return f"Rule \u201c{rule.name}\u201d added; it routes new mentions from now on."
    if action == "update":
        rule = services.triage_rule_update(rule_id=rule_id, user=request.user, **_rule_form(request.POST))
        return f"Rule \u201c{rule.name}\u201d saved."
    if action in ("enable", "disable"):
        rule = services.triage_rule_set_enabled(rule_id=rule_id, user=request.user, enabled=action == "enable")
        return f"Rule \u201c{rule.name}\u201d {action}d."
    if action in ("up", "down"):
        services.triage_rule_move(rule_id=rule_id, user=request.user, up=action == "up")
        return "Order saved: the first rule that matches decides."
    if action == "sla":
        changed = []
        for priority in Priority.values:
            first = optional_number(request.POST.get(f"{priority}_first"), f"{priority} first response", whole=True)
            resolution = optional_number(request.POST.get(f"{priority}_resolution"), f"{priority} resolution", whole=True)
            if first is None or resolution is None:
                raise InvalidInput(f"{priority}: give both targets in minutes.")
            changed.append(services.sla_policy_set(user=request.user, priority=priority,
                                                   first_response_minutes=first, resolution_minutes=resolution))
        return "SLA targets saved. Cases opened from now on use them; open cases keep theirs."
    raise InvalidInput(f"Unknown action {action[:40]!r}.")


@require_http_methods(["GET", "POST"])
@role_required(*PAGE_ROLES["triage_routing"])
def routing(request: HttpRequest) -> HttpResponse:
    """Triage rules (conditions -> priority, team, tags, round-robin, escalation) and the
    SLA targets per priority. Each form is checked as a whole: a refusal changes nothing
    and shows what was typed with the reason."""
    error, notice, form = None, "", {}
    if request.method == "POST":
        try:
            with transaction.atomic():
                notice = _routing_action(request)
        except WarroomError as exc:
            error = exc
            form = {**request.POST.dict(), "replies_need_legal": request.POST.get("replies_need_legal") == "on"}
        else:
            if not request.htmx:
                return redirect(f"{reverse('triage_routing')}?done={request.POST.get('action', '')}")

    def context() -> dict:
        rules = selectors.triage_rule_list()
        for rule in rules:
            rule.shown = _rule_shown(rule)
        policies = selectors.sla_policies()
        for policy in policies:  # after a refusal, the targets as typed
            typed = form if form.get("action") == "sla" else {}
            policy.first_shown = typed.get(f"{policy.priority}_first", policy.first_response_minutes)
            policy.resolution_shown = typed.get(f"{policy.priority}_resolution", policy.resolution_minutes)
        return {
            "rules": rules, "policies": policies,
            "alert_rules": listening_selectors.rule_list(), "priorities": Priority.choices, "teams": Team.choices,
            "assign_choices": TriageRule.Assign.choices, "error": error, "notice": notice,
            "form": form, "form_action": request.POST.get("action", "") if error else "",
            "form_rule": _int(request.POST.get("rule")) if error else None,
        }

    return render_page(request, "triage/routing.html", context, status=error.status if error else 200)


@require_http_methods(["GET"])
@role_required(*PAGE_ROLES["kpis"])
def kpis(request: HttpRequest) -> HttpResponse:
    fresh = request.GET.get("fresh") == "1"  # "Recompute now", for a lead who cannot wait a minute
    return render_page(request, "triage/kpis.html", lambda: {
        **selectors.kpi_snapshot(refresh=fresh), "policies": selectors.sla_policies(),
    })
