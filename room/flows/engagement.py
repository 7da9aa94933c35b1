"""What happened to what the room published: every post that went out (a published post,
or a drill's post on the sandbox account) is followed on a schedule that decays with its
age, read through its account's network module (networks/registry.py: `engagement`), X's
reads counted against the X read budget listening keeps; and a reading that crosses a
follow-up's threshold fires it (ride the wave).

Listening never stops for engagement: X's engagement reads stretch from half the monthly
cap and wait altogether in its last tenth (listening.selectors.engagement_pace). Networks
without a paid read cap (Mastodon, Bluesky) keep the plain schedule."""

from datetime import datetime, timedelta

from django.db.models import Exists, OuterRef
from django.utils import timezone

from approvals import engagement as approvals_engagement
from approvals import services as approvals
from approvals.models import Account, EngagementSample, Post, Tracked
from listening import selectors as listening_selectors
from listening import services as listening
from networks import registry
from networks.errors import AdapterError, RateLimited
from playbooks.models import Firing

DEFER_WHEN_RESERVED = timedelta(hours=1)
DEFER_ON_ERROR = timedelta(minutes=5)


def engagement_adopt(*, now: datetime) -> int:
    """Start following what went out in the last week and is not followed yet."""
    since = now - approvals_engagement.FOLLOW_FOR
    followed = Tracked.objects.filter(platform=OuterRef("account__platform"), platform_id=OuterRef("platform_id"))
    posts = (Post.objects.filter(state=Post.State.PUBLISHED, published_at__gte=since, repost=False,
                                 account__platform__in=list(registry.ENGAGEMENT))
             .exclude(platform_id="").exclude(Exists(followed)).select_related("account"))
    started = 0
    for post in posts[:500]:
        approvals_engagement.tracked_start(account=post.account, platform_id=post.platform_id,
                                           published_at=post.published_at, post=post)
        started += 1
    drill_followed = Tracked.objects.filter(platform=OuterRef("sandbox_account__platform"),
                                            platform_id=OuterRef("platform_id"))
    firings = (Firing.objects.filter(drill__isnull=False, published_at__gte=since,
                                     sandbox_account__platform__in=list(registry.ENGAGEMENT))
               .exclude(platform_id="").exclude(Exists(drill_followed)).select_related("sandbox_account"))
    for firing in firings[:500]:
        approvals_engagement.tracked_start(account=firing.sandbox_account, platform_id=firing.platform_id,
                                           published_at=firing.published_at, sandbox=True)
        started += 1
    return started


def engagement_refresh(*, now: datetime | None = None, limit: int = 100) -> int:
    """One pass of the schedule (beat, every ENGAGEMENT_EVERY_SECONDS): adopt what went
    out, read what is due through each account's network, record it. Returns how many
    readings were recorded. Safe to run twice and from many workers: due posts are
    claimed with a lease."""
    now = now or timezone.now()
    engagement_adopt(now=now)
    due = approvals_engagement.tracked_due_claim(now=now, limit=limit)
    if not due:
        return 0
    accounts = Account.objects.in_bulk({tracked.account_id for tracked in due})
    by_account: dict[int, list[Tracked]] = {}
    for tracked in due:
        by_account.setdefault(tracked.account_id, []).append(tracked)
    pace = listening_selectors.engagement_pace(now=now)
    recorded = 0
    for account_id, group in by_account.items():
        recorded += _read(account=accounts[account_id], group=group, now=now, pace=pace)
    return recorded


def _read(*, account: Account, group: list[Tracked], now: datetime, pace: float | None) -> int:
    """Read one account's due posts on its network and record them (or defer them: a read
    budget that cannot spare them, a rate limit, a failure)."""
    ids = [tracked.id for tracked in group]
    network = registry.module(group[0].platform)
    budgeted = getattr(network, "READS_BUDGETED", False)
    if budgeted and pace is None:  # the rest of the month's reads is listening's: check again later
        approvals_engagement.tracked_defer(tracked_ids=ids, until=now + DEFER_WHEN_RESERVED)
        return 0
    try:
        channel = approvals.account_channel(account)
        approvals.channel_guard(channel)
        counts = network.engagement(channel, [tracked.platform_id for tracked in group])
    except RateLimited as error:
        approvals_engagement.tracked_defer(tracked_ids=ids, until=max(error.reset_at, now + timedelta(seconds=30)))
        return 0
    except AdapterError:  # a 5xx, a timeout, credentials: the next try is in a few minutes
        approvals_engagement.tracked_defer(tracked_ids=ids, until=now + DEFER_ON_ERROR)
        return 0
    if budgeted:
        listening.engagement_reads_record(reads=len(counts), requests=-(-len(group) // network.LOOKUP_BATCH), now=now)
    recorded = 0
    for tracked in group:
        found = counts.get(tracked.platform_id)
        if found is None:
            approvals_engagement.tracked_gone(tracked_id=tracked.id, at=now)
            continue
        approvals_engagement.engagement_record(tracked_id=tracked.id, at=now, counts=found,
                                               pace=pace if budgeted and pace else 1.0)
        recorded += 1
    return recorded


def engagement_recorded(*, tracked: Tracked, sample: EngagementSample) -> None:
    """A reading is stored (approvals.engagement_recorded, in its transaction): the
    follow-ups it lifts over their threshold fire, each once, never while paused."""
    for follow_up_id in approvals_engagement.follow_ups_crossed(tracked=tracked, sample=sample):
        approvals_engagement.follow_up_fire(follow_up_id=follow_up_id, sample=sample)
