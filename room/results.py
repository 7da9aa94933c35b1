"""What worked, per event or per drill: every variant fired, when, the time from its
trigger to it going out, its latest engagement and the series behind it (approvals'
Tracked and EngagementSample rows, never the network), the best and the worst. Read by
the results page, its CSV and its PDF."""

from dataclasses import dataclass, field
from datetime import datetime

from approvals.models import EngagementSample, Tracked
from playbooks.models import Drill, Event, Firing

TEXT_LIMIT = 600


@dataclass
class ResultRow:
    firing_id: int
    scenario: str
    label: str
    account: str
    text: str
    fired_at: datetime
    published_at: datetime | None
    trigger_to_published: float | None  # seconds
    platform_id: str
    tracked_id: int | None = None
    likes: int = 0
    reposts: int = 0
    replies: int = 0
    quotes: int = 0
    impressions: int | None = None
    clicks: int = 0
    read_at: datetime | None = None
    series: dict = field(default_factory=dict)  # {"t": [epoch s], "likes": [...], ...}

    @property
    def engagement(self) -> int:
        """One figure to rank by: every interaction a person made with the post."""
        return self.likes + self.reposts + self.replies + self.quotes + self.clicks


@dataclass
class Results:
    event: Event
    drill: Drill | None
    rows: list[ResultRow]
    best: ResultRow | None
    worst: ResultRow | None


def _series(samples: list[EngagementSample]) -> dict:
    return {
        "t": [int(sample.at.timestamp()) for sample in samples],
        "likes": [sample.likes for sample in samples],
        "reposts": [sample.reposts for sample in samples],
        "replies": [sample.replies for sample in samples],
        "quotes": [sample.quotes for sample in samples],
    }


def results_for(*, event: Event, drill: Drill | None = None) -> Results:
    firings = list(Firing.objects.filter(variant__scenario__event=event, drill=drill)
                   .select_related("variant__scenario", "variant__post__account", "sandbox_account", "suggestion")
                   .order_by("fired_at", "id"))
    rows = []
    for firing in firings:
        post = firing.variant.post
        account = firing.sandbox_account if drill else post.account
        published_at = firing.published_at if drill else post.published_at
        platform_id = firing.platform_id if drill else post.platform_id
        triggered = firing.suggestion.triggered_at if firing.suggestion else firing.fired_at
        rows.append(ResultRow(
            firing_id=firing.id, scenario=firing.variant.scenario.name, label=firing.variant.label,
            account=f"@{account.handle}" if account else "", text=post.text[:TEXT_LIMIT], fired_at=firing.fired_at,
            published_at=published_at, platform_id=platform_id,
            trigger_to_published=round((published_at - triggered).total_seconds(), 1) if published_at else None,
        ))
    ids = [row.platform_id for row in rows if row.platform_id]
    tracked = {t.platform_id: t for t in Tracked.objects.filter(platform_id__in=ids)}
    samples: dict[int, list[EngagementSample]] = {}
    for sample in EngagementSample.objects.filter(tracked__in=tracked.values()).order_by("at", "id"):
        samples.setdefault(sample.tracked_id, []).append(sample)
    for row in rows:
        found = tracked.get(row.platform_id) if row.platform_id else None
        if found is None:
            continue
        row.tracked_id, row.likes, row.reposts, row.replies = found.id, found.likes, found.reposts, found.replies
        row.quotes, row.impressions, row.clicks, row.read_at = found.quotes, found.impressions, found.clicks, found.last_read_at
        row.series = _series(samples.get(found.id, []))
    read = [row for row in rows if row.read_at is not None]
    best = max(read, key=lambda row: (row.engagement, -row.firing_id), default=None)
    worst = min(read, key=lambda row: (row.engagement, row.firing_id), default=None)
    if worst is best:
        worst = None  # one post is not both
    return Results(event=event, drill=drill, rows=rows, best=best, worst=worst)


CSV_HEADER = ["scenario", "variant", "account", "text", "fired_at", "published_at", "trigger_to_published_s",
              "likes", "reposts", "replies", "quotes", "impressions", "link_clicks", "engagement", "last_read_at"]


def csv_rows(results: Results) -> list[list]:
    return [[row.scenario, row.label, row.account, row.text, row.fired_at.isoformat(),
             row.published_at.isoformat() if row.published_at else "", row.trigger_to_published, row.likes,
             row.reposts, row.replies, row.quotes, "" if row.impressions is None else row.impressions, row.clicks,
             row.engagement, row.read_at.isoformat() if row.read_at else ""] for row in results.rows]
