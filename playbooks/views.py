"""Playbooks pages: the index (create, import), the event editor, the live cockpit, the
export and drill reports (the post-event report, which reads triage too, is room/views.py's).

One URL per page; a POST carries an `action`. Refusals are WarroomErrors: htmx requests
get the partial with the error and its status (the page swaps it, see playbooks.js);
without JavaScript the page is rendered again with the message."""

from datetime import datetime
from datetime import timezone as dt_timezone
from zoneinfo import ZoneInfo

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.text import slugify
from django.views.decorators.http import require_http_methods

from approvals import selectors as approvals_selectors
from approvals import services as approvals_services
from approvals.models import FollowUp, Post
from warroom import roles
from warroom.errors import InvalidInput, WarroomError
from warroom.roles import PAGE_ROLES, role_required
from warroom.views import render_page

from . import selectors, services, yaml_io
from .models import Contact, Drill, Event, Scenario, Suggestion, Variant

ECHO_LIMIT = 600_000


def _int(value) -> int | None:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if 0 < number < 2**62 else None


def _event(event_id: int) -> Event:
    event = selectors.event_get(event_id)
    if event is None:
        raise Http404("No such event.")
    return event


def _local(value: str, tz: str, label: str) -> datetime:
    """A datetime-local value (YYYY-MM-DDTHH:MM) read in the event's time zone."""
    try:
        naive = datetime.fromisoformat((value or "").strip())
    except ValueError:
        raise InvalidInput(f"{label}: give a date and a time, e.g. 2026-09-14T17:00.") from None
    if naive.tzinfo is not None:
        return naive.astimezone(dt_timezone.utc)
    return timezone.make_aware(naive, ZoneInfo(services.zone(tz))).astimezone(dt_timezone.utc)


def _can_build(request) -> bool:
    return roles.has_role(request.user, services.BUILDERS)


# --- Index ----------------------------------------------------------------------------------

@require_http_methods(["GET", "POST"])
@role_required(*PAGE_ROLES["playbooks"])
def index(request: HttpRequest) -> HttpResponse:
    context = {"events": None, "form": {}, "can_build": _can_build(request)}
    if request.method == "POST":
        action = request.POST.get("action")
        try:
            if action == "create":
                form = {k: request.POST.get(k, "")[:200] for k in ("name", "starts_at", "ends_at", "time_zone")}
                context["form"] = form
                tz = form["time_zone"] or "UTC"
                event = services.event_create(
                    user=request.user, name=form["name"], starts_at=_local(form["starts_at"], tz, "Start"),
                    ends_at=_local(form["ends_at"], tz, "End"), time_zone=tz)
                return redirect("playbook_event", event_id=event.id)
            if action == "import":
                upload = request.FILES.get("file")
                if upload is not None:
                    if upload.size > yaml_io.MAX_BYTES:
                        raise yaml_io.PlaybookInvalid([f"The file is larger than {yaml_io.MAX_BYTES // 1024} KB."])
                    try:
                        text = upload.read().decode("utf-8")
                    except UnicodeDecodeError:
                        raise yaml_io.PlaybookInvalid(["The file is not UTF-8 text."]) from None
                else:
                    text = request.POST.get("yaml", "")
                context["yaml"] = text[:ECHO_LIMIT]
                event = yaml_io.playbook_import(user=request.user, text=text)
                return redirect("playbook_event", event_id=event.id)
            raise InvalidInput("Unknown action.")
        except WarroomError as error:
            context["error"] = str(error)
            context["import_errors"] = getattr(error, "errors", None)
            context["error_action"] = action
            return render_page(request, "playbooks/index.html", {**context, "events": selectors.event_list()},
                               status=error.status)
    context["events"] = selectors.event_list()
    return render_page(request, "playbooks/index.html", context)


# --- Editor ---------------------------------------------------------------------------------

def _editor_context(request, event: Event) -> dict:
    cards = selectors.scenario_cards(event, None)
    cards.sort(key=lambda card: (card.scenario.order, card.scenario.id))
    moments, current = selectors.run_of_show(event)
    return {
        "event": event, "cards": cards, "moments": moments, "current_moment": current,
        "accounts": selectors.brand_accounts(), "event_account_ids": {a.id for a in event.accounts.all()},
        "event_accounts": list(event.accounts.all()), "rules": selectors.rules_for_triggers(),
        "library": approvals_selectors.media_library(limit=100),
        "triggers": Scenario.Trigger.choices, "can_build": _can_build(request),
        "checklist": approvals_services.CHECKLIST, "submittable": (Post.State.DRAFT, Post.State.REJECTED,
                                                                   Post.State.FAILED),
        "editable": (Post.State.DRAFT, Post.State.PENDING, Post.State.APPROVED, Post.State.REJECTED, Post.State.FAILED),
        "tz": event.time_zone, "follow_up_kinds": FollowUp.Kind.choices,
    }


def _editor_action(request, event: Event) -> None:
    post, user, action = request.POST, request.user, request.POST.get("action")
    if action == "update":
        services.event_update(
            user=user, event_id=event.id, name=post.get("name", ""),
            starts_at=_local(post.get("starts_at"), post.get("time_zone") or event.time_zone, "Start"),
            ends_at=_local(post.get("ends_at"), post.get("time_zone") or event.time_zone, "End"),
            time_zone=post.get("time_zone", ""), hashtags=post.get("hashtags", ""),
            account_ids=[i for i in map(_int, post.getlist("accounts")) if i],
            guardrails={key: post.get(key, "") for key in services.GUARDRAIL_KEYS})
    elif action == "contact_add":
        services.contact_add(user=user, event_id=event.id, name=post.get("name", ""), role=post.get("role", ""),
                             phone=post.get("phone", ""), email=post.get("email", ""))
    elif action == "contact_remove":
        contact = Contact.objects.filter(id=_int(post.get("contact")), event=event).first()
        if contact is None:
            raise InvalidInput("That contact is no longer on this event.")
        services.contact_remove(user=user, contact_id=contact.id)
    elif action == "scenario_add":
        services.scenario_create(user=user, event_id=event.id, name=post.get("name", ""),
                                 trigger=post.get("trigger", "manual"), rule_id=_int(post.get("rule")),
                                 keywords=post.get("keywords", "").replace(",", "\n"),
                                 expires_minutes=_int(post.get("expires_minutes")) or 15)
    elif action == "variant_add":
        scenario = event.scenarios.filter(id=_int(post.get("scenario"))).first()
        if scenario is None:
            raise InvalidInput("That scenario is not on this event.")
        media = [line.strip() for line in post.get("media", "").splitlines() if line.strip()]
        picked = post.get("library_media", "").strip().lower()[:64]
        if picked:  # a file from the content library, with its alt text (the account's network checks both)
            media.append({"sha256": picked, "alt": post.get("library_alt", "")[:2000]})
        services.variant_create(user=user, scenario_id=scenario.id, account_id=_int(post.get("account")) or 0,
                                text=post.get("text", ""), label=post.get("label", ""), media=media)
    elif action in ("variant_edit", "variant_submit"):
        variant = Variant.objects.filter(id=_int(post.get("variant")), scenario__event=event).first()
        if variant is None:
            raise InvalidInput("That variant is not on this event.")
        if action == "variant_edit":
            services.variant_edit(user=user, variant_id=variant.id, text=post.get("text", ""))
        else:
            ticked = set(post.getlist("checklist"))
            questions = list(approvals_services.CHECKLIST) + list(event.guardrails.get("checklist", []))
            services.variant_submit(user=user, variant_id=variant.id,
                                    checklist={q: str(n) in ticked for n, q in enumerate(questions)},
                                    override_reason=post.get("override_reason", ""))
    elif action == "wrap_links":
        variant = Variant.objects.filter(id=_int(post.get("variant")), scenario__event=event).first()
        if variant is None:
            raise InvalidInput("That variant is not on this event.")
        services.variant_wrap_links(user=user, variant_id=variant.id)
    elif action == "follow_up_add":
        variant = Variant.objects.filter(id=_int(post.get("variant")), scenario__event=event).first()
        if variant is None:
            raise InvalidInput("That variant is not on this event.")
        ticked = set(post.getlist("checklist"))
        services.variant_follow_up_add(
            user=user, variant_id=variant.id, text=post.get("text", ""), likes=_int(post.get("likes")) or 0,
            within_minutes=_int(post.get("within_minutes")) or 60, kind=post.get("kind", "reply")[:10],
            checklist={q: str(n) in ticked for n, q in enumerate(approvals_services.CHECKLIST)})
    elif action == "moment_add":
        services.moment_add(user=user, event_id=event.id, at=_local(post.get("at"), event.time_zone, "Time"),
                            title=post.get("title", ""), scenario_ids=[i for i in map(_int, post.getlist("scenarios")) if i])
    else:
        raise InvalidInput("Unknown action.")


@require_http_methods(["GET", "POST"])
@role_required(*PAGE_ROLES["playbook_event"])
def event_page(request: HttpRequest, event_id: int) -> HttpResponse:
    event = _event(event_id)
    if request.method == "POST":
        try:
            _editor_action(request, event)
        except WarroomError as error:
            event = _event(event_id)
            context = {**_editor_context(request, event), "error": str(error),
                       "error_action": request.POST.get("action", ""),
                       "error_target": request.POST.get("variant") or request.POST.get("scenario") or ""}
            return render_page(request, "playbooks/event.html", context, status=error.status)
        anchor = {"variant_add": "scenario-{}", "variant_edit": "variant-{}", "variant_submit": "variant-{}"}.get(
            request.POST.get("action", ""), "")
        target = request.POST.get("variant") or request.POST.get("scenario") or ""
        url = request.path + (f"#{anchor.format(_int(target))}" if anchor and _int(target) else "")
        return redirect(url)
    return render_page(request, "playbooks/event.html", lambda: _editor_context(request, event))


@require_http_methods(["GET"])
@role_required(*PAGE_ROLES["playbook_export"])
def export(request: HttpRequest, event_id: int) -> HttpResponse:
    event = _event(event_id)
    response = HttpResponse(yaml_io.playbook_export(event), content_type="application/yaml; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{slugify(event.name) or "playbook"}.yaml"'
    return response


# --- The live cockpit -------------------------------------------------------------------------

def _cockpit_context(request, event: Event, **extra) -> dict:
    drill = selectors.running_drill(event)
    moments, current = selectors.run_of_show(event)
    confirm = None
    confirm_id = _int(request.GET.get("confirm"))
    if confirm_id:
        confirm = Variant.objects.filter(id=confirm_id, scenario__event=event).select_related("post__account",
                                                                                            "scenario").first()
    return {
        "event": event, "drill": drill, "cards": selectors.scenario_cards(event, drill),
        "history": selectors.recent_suggestions(event, drill), "moments": moments, "current_moment": current,
        "contacts": list(event.contacts.all()), "can_fire": roles.has_role(request.user, services.FIRERS),
        "sandboxes": selectors.sandbox_accounts(), "confirm": confirm, "tz": event.time_zone,
        "queue": approvals_services.queue_state(), "now": timezone.now(), **extra,
    }


def _cockpit_action(request, event: Event) -> str:
    post, user, action = request.POST, request.user, request.POST.get("action")
    if action == "fire":
        variant = Variant.objects.filter(id=_int(post.get("variant")), scenario__event=event).first()
        if variant is None:
            raise InvalidInput("That variant is not on this event.")
        if post.get("confirm") != "yes":
            raise InvalidInput("Confirm the fire: press Fire now in the confirmation.")
        firing = services.variant_fire(user=user, variant_id=variant.id, suggestion_id=_int(post.get("suggestion")))
        where = f"the sandbox @{firing.sandbox_account.handle}" if firing.drill_id else f"@{variant.post.account.handle}"
        return f"Fired \u201c{variant.scenario.name}\u201d to {where}."
    if action == "skip":
        suggestion = Suggestion.objects.filter(id=_int(post.get("suggestion")), scenario__event=event).first()
        if suggestion is None:
            raise InvalidInput("That suggestion is not on this event.")
        services.suggestion_skip(user=user, suggestion_id=suggestion.id, note=post.get("note", ""))
        return f"Skipped \u201c{suggestion.scenario.name}\u201d."
    if action == "call":
        scenario = event.scenarios.filter(id=_int(post.get("scenario"))).first()
        if scenario is None:
            raise InvalidInput("That scenario is not on this event.")
        services.scenario_suggest_manually(user=user, scenario_id=scenario.id)
        return f"Called \u201c{scenario.name}\u201d for the room."
    if action == "drill_start":
        speed = None
        if post.get("replay"):
            try:
                speed = float(post.get("speed") or 10)
            except ValueError:
                raise InvalidInput("Replay speed: a number, e.g. 10.") from None
        services.drill_start(user=user, event_id=event.id, sandbox_account_id=_int(post.get("sandbox")) or 0,
                             replay_speed=speed)
        return "Drill started: firing goes to the sandbox account only."
    if action == "drill_stop":
        drill = selectors.running_drill(event)
        if drill is None:
            raise InvalidInput("No drill is running.")
        services.drill_stop(user=user, drill_id=drill.id)
        return "Drill ended."
    raise InvalidInput("Unknown action.")


@require_http_methods(["GET", "POST"])
@role_required(*PAGE_ROLES["playbook_live"])
def live_page(request: HttpRequest, event_id: int) -> HttpResponse:
    event = _event(event_id)
    if request.method == "POST":
        try:
            message = _cockpit_action(request, event)
        except WarroomError as error:
            context = _cockpit_context(request, event, error=str(error))
            if request.htmx:
                return TemplateResponse(request, "playbooks/live.html#board", context, status=error.status)
            return render_page(request, "playbooks/live.html", context, status=error.status)
        if request.htmx:
            return TemplateResponse(request, "playbooks/live.html#board", _cockpit_context(request, event, message=message))
        return redirect("playbook_live", event_id=event.id)
    if request.htmx and request.GET.get("part") == "board":
        return TemplateResponse(request, "playbooks/live.html#board", _cockpit_context(request, event))
    return render_page(request, "playbooks/live.html", lambda: _cockpit_context(request, event))


# --- Reports -----------------------------------------------------------------------------------

@require_http_methods(["GET"])
@role_required(*PAGE_ROLES["playbook_drill"])
def drill_report(request: HttpRequest, drill_id: int) -> HttpResponse:
    drill = Drill.objects.filter(id=drill_id).select_related("event", "sandbox_account", "started_by").first()
    if drill is None:
        raise Http404("No such drill.")
    rows = selectors.timings(event=drill.event, drill=drill)
    fired = [row.trigger_to_fire for row in rows if row.trigger_to_fire is not None]
    return render_page(request, "playbooks/drill.html", {
        "drill": drill, "event": drill.event, "rows": rows, "tz": drill.event.time_zone,
        "median": sorted(fired)[len(fired) // 2] if fired else None, "slowest": max(fired) if fired else None,
        "firings": list(drill.firings.select_related("variant__scenario", "variant__post__account", "fired_by")),
    })
