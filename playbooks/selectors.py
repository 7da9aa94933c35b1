"""Playbooks' reads, shaped for the index, the editor, the cockpit and the reports."""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import Avg, Count, Prefetch
from django.db.models.functions import TruncMinute
from django.utils import timezone

from approvals.models import Account, ApprovalRequest, FollowUp, Post
from listening.models import AlertRule, Mention

from .models import Drill, Event, Firing, Moment, Scenario, Suggestion, Variant
from .services import LISTEN_MARGIN


def event_list() -> list[Event]:
    return list(Event.objects.annotate(scenario_count=Count("scenarios", distinct=True)).order_by("-starts_at"))


def event_get(event_id: int) -> Event | None:
    return Event.objects.filter(id=event_id).prefetch_related("accounts", "contacts").first()


def brand_accounts() -> list[Account]:
    return list(Account.objects.filter(sandbox=False).order_by("name"))


def sandbox_accounts() -> list[Account]:
    return list(Account.objects.filter(sandbox=True).order_by("name"))


def rules_for_triggers() -> list[AlertRule]:
    return list(AlertRule.objects.filter(enabled=True).order_by("name"))


def running_drill(event: Event) -> Drill | None:
    return event.drills.filter(ended_at__isnull=True).select_related("sandbox_account", "replay_source").first()


@dataclass
class ScenarioCard:
    scenario: Scenario
    variants: list[Variant]
    suggestion: Suggestion | None  # the open one: the card is lit
    fired: list[Firing] = field(default_factory=list)

    @property
    def lit(self) -> bool:
        return self.suggestion is not None


def scenario_cards(event: Event, drill: Drill | None) -> list[ScenarioCard]:
    """Every scenario with its variants (and their posts), its open suggestion in this
    mode (the night or the running drill) and what was fired in that mode."""
    scenarios = (event.scenarios.select_related("rule")
                 .prefetch_related(Prefetch("variants", queryset=Variant.objects.select_related("post__account"))))
    open_ones = {s.scenario_id: s for s in Suggestion.objects.filter(
        scenario__event=event, drill=drill, state=Suggestion.State.SUGGESTED).order_by("suggested_at")}
    fired: dict[int, list[Firing]] = {}
    for firing in Firing.objects.filter(variant__scenario__event=event, drill=drill).select_related("fired_by"):
        fired.setdefault(firing.variant_id, []).append(firing)
    follow_ups: dict[int, list[FollowUp]] = {}
    for follow_up in (FollowUp.objects.filter(parent__variant__scenario__event=event)
                      .select_related("post").order_by("id")):
        follow_ups.setdefault(follow_up.parent_id, []).append(follow_up)
    cards = []
    for scenario in scenarios:
        variants = list(scenario.variants.all())
        for variant in variants:
            variant.follow_ups = follow_ups.get(variant.post_id, [])
            variant.fired_here = fired.get(variant.id, [])
            variant.fireable = (variant.post.state == Post.State.APPROVED
                                and variant.post.approved_hash == variant.post.content_hash()
                                and not variant.fired_here)
        cards.append(ScenarioCard(scenario, variants, open_ones.get(scenario.id),
                                  [f for v in variants for f in v.fired_here]))
    cards.sort(key=lambda card: (not card.lit, card.scenario.order, card.scenario.id))
    return cards


def recent_suggestions(event: Event, drill: Drill | None, limit: int = 20) -> list[Suggestion]:
    return list(Suggestion.objects.filter(scenario__event=event, drill=drill).select_related("scenario", "decided_by")
                .order_by("-suggested_at")[:limit])


def run_of_show(event: Event, now: datetime | None = None) -> tuple[list[Moment], Moment | None]:
    """The moments in order and the current one: the last that has begun."""
    now = now or timezone.now()
    moments = list(event.moments.prefetch_related("scenarios"))
    current = None
    for moment in moments:
        if moment.at <= now:
            current = moment
    return moments, current


# --- Reports ---------------------------------------------------------------------------

@dataclass
class Timing:
    scenario: str
    reason: str
    triggered_at: datetime
    suggested_at: datetime
    state: str
    fired_at: datetime | None
    fired_by: str
    published_at: datetime | None
    error: str

    @property
    def trigger_to_suggest(self) -> float:
        return max(0.0, (self.suggested_at - self.triggered_at).total_seconds())

    @property
    def trigger_to_fire(self) -> float | None:
        return (self.fired_at - self.triggered_at).total_seconds() if self.fired_at else None


def timings(*, event: Event, drill: Drill | None) -> list[Timing]:
    rows = []
    suggestions = Suggestion.objects.filter(scenario__event=event, drill=drill).select_related("scenario")
    for suggestion in suggestions.prefetch_related("firings__fired_by", "firings__variant__post").order_by("suggested_at"):
        firing = next(iter(suggestion.firings.all()), None)
        published = None
        if firing is not None:
            published = firing.published_at if drill else firing.variant.post.published_at
        rows.append(Timing(
            scenario=suggestion.scenario.name, reason=suggestion.reason, triggered_at=suggestion.triggered_at,
            suggested_at=suggestion.suggested_at, state=suggestion.get_state_display(),
            fired_at=firing.fired_at if firing else None,
            fired_by=(firing.fired_by.get_full_name() or firing.fired_by.get_username()) if firing else "",
            published_at=published, error=(firing.error if firing and drill else ""),
        ))
    return rows


def drill_list(event: Event) -> list[Drill]:
    return list(event.drills.select_related("sandbox_account", "started_by"))


@dataclass
class Chart:
    """A server-rendered SVG chart of mention volume (bars) and mean sentiment (line)."""

    width: int
    height: int
    bars: list[dict]
    line: str
    max_count: int
    labels: list[dict]


def volume_chart(start: datetime, end: datetime, *, width: int = 720, height: int = 180) -> Chart:
    span = max((end - start).total_seconds(), 60)
    bucket = timedelta(minutes=max(1, int(span // 60 // 48) or 1))
    rows = (Mention.objects.filter(posted_at__gte=start, posted_at__lt=end).annotate(minute=TruncMinute("posted_at"))
            .values("minute").annotate(n=Count("id"), s=Avg("sentiment")).order_by("minute"))
    buckets: dict[int, list] = {}
    for row in rows:
        index = int((row["minute"] - start) / bucket)
        n, s = buckets.get(index, [0, 0.0])
        buckets[index] = [n + row["n"], s + (row["s"] or 0) * row["n"]]
    count = max(1, int(span / bucket.total_seconds()))
    max_count = max([n for n, _ in buckets.values()] or [0])
    slot = width / count
    bars, points, labels = [], [], []
    for i in range(count):
        n, s = buckets.get(i, [0, 0.0])
        h = (n / max_count) * (height - 20) if max_count else 0
        bars.append({"x": round(i * slot, 1), "y": round(height - h, 1), "w": max(1, round(slot - 1, 1)),
                     "h": round(h, 1), "n": n, "at": start + i * bucket})
        if n:
            mean = s / n  # -1..1 drawn from bottom to top
            points.append(f"{round(i * slot + slot / 2, 1)},{round((1 - (mean + 1) / 2) * height, 1)}")
    for i in range(0, count, max(1, count // 6)):
        labels.append({"x": round(i * slot, 1), "text": (start + i * bucket).strftime("%H:%M")})
    return Chart(width, height, bars, " ".join(points), max_count, labels)


@dataclass
class EventReport:
    event: Event
    firings: list[Firing]
    timings: list[Timing]
    approvals: list[dict]
    triage: dict
    chart: Chart


def event_report(event: Event, *, triage: dict) -> EventReport:
    """What fired and when, how long legal took, triage's response times, and the chart.
    Triage's figures for the event's window come from the caller (room/views.py), since
    playbooks does not read triage."""
    firings = list(Firing.objects.filter(variant__scenario__event=event, drill__isnull=True)
                   .select_related("variant__scenario", "variant__post__account", "fired_by", "suggestion"))
    approvals = []
    posts = Post.objects.filter(variant__scenario__event=event).select_related("account", "variant__scenario")
    answered = ApprovalRequest.objects.filter(post__in=posts, answered_at__isnull=False).order_by("answered_at")
    by_post: dict[int, list] = {}
    for request in answered.select_related("answered_by"):
        by_post.setdefault(request.post_id, []).append(request)
    for post in posts.order_by("variant__scenario__order", "id"):
        requests = by_post.get(post.id, [])
        approvals.append({
            "post": post, "scenario": post.variant.scenario.name,
            "answers": [{"state": r.get_state_display(), "by": r.answered_by, "at": r.answered_at,
                         "minutes": round((r.answered_at - r.created_at).total_seconds() / 60, 1)} for r in requests],
        })
    return EventReport(event, firings, timings(event=event, drill=None), approvals, triage,
                       volume_chart(event.starts_at, event.ends_at))


@dataclass
class EventNow:
    """The event the room is working now, as the Wall shows it."""

    event: Event
    drill: Drill | None
    lit: list[Scenario]  # suggested and waiting for the producer, oldest first
    scenario_count: int
    fired_count: int


def event_now(now: datetime | None = None, limit: int = 5) -> EventNow | None:
    """A running drill's event, else the event whose listening window (an hour either
    side) holds `now`; None on an ordinary day. A handful of small queries."""
    now = now or timezone.now()
    drill = Drill.objects.filter(ended_at__isnull=True).select_related("event").order_by("-started_at").first()
    event = drill.event if drill else (Event.objects.filter(starts_at__lte=now + LISTEN_MARGIN,
                                                            ends_at__gte=now - LISTEN_MARGIN).order_by("starts_at").first())
    if event is None:
        return None
    lit = [s.scenario for s in Suggestion.objects.filter(scenario__event=event, drill=drill, state=Suggestion.State.SUGGESTED)
           .select_related("scenario").order_by("suggested_at")[:limit]]
    return EventNow(event=event, drill=drill, lit=lit, scenario_count=event.scenarios.count(),
                    fired_count=Firing.objects.filter(variant__scenario__event=event, drill=drill).count())
