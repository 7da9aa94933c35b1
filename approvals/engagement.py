"""Approvals' writes for what happened after a post went out: following its engagement on
a schedule that decays with age (append-only samples, latest counts rolled up on the
Tracked row), the room's own short links and their clicks, and the follow-ups that ride
the wave (a pre-approved reply, thread or repost that fires once when its parent passes a
threshold).

Reading the network and the read budget are the orchestration layer's
(room/flows/engagement.py): this module claims what is due, records what was read, and
calls `engagement_recorded` inside that transaction, which room/flows connects to the
follow-up check.
"""

import secrets
from datetime import datetime, timedelta
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from warroom import audit, live, roles
from warroom.errors import Forbidden, InvalidInput
from warroom.hooks import Hook

from . import services, tasks
from .models import Account, EngagementSample, FollowUp, Post, ShortLink, Tracked

# --- The decaying schedule -------------------------------------------------------------

# (age below which, read every): every minute in the first hour, hourly to a day, daily to a week.
SCHEDULE = (
    (timedelta(hours=1), timedelta(minutes=1)),
    (timedelta(days=1), timedelta(hours=1)),
    (timedelta(days=7), timedelta(days=1)),
)
FOLLOW_FOR = SCHEDULE[-1][0]
CLAIM_LEASE = timedelta(minutes=2)  # a claimed read not recorded by then is due again


def next_read(*, published_at: datetime, at: datetime, pace: float = 1.0) -> datetime | None:
    """When to read a post again after reading it at `at`: its age picks the step, `pace`
    (1 or more, the budget's stretch) lengthens it; None once it is a week old. The last
    read of the week is at the week's end, however stretched."""
    age = at - published_at
    for below, every in SCHEDULE:
        if age < below:
            return min(at + every * max(pace, 1.0), published_at + FOLLOW_FOR)
    return None


def tracked_start(*, account: Account, platform_id: str, published_at: datetime, post: Post | None = None,
                  sandbox: bool = False) -> Tracked:
    """Start following a post that went out (idempotent by platform id): first read a
    minute after it was published."""
    tracked, _ = Tracked.objects.get_or_create(
        platform=account.platform, platform_id=platform_id,
        defaults={"account": account, "post": post, "sandbox": sandbox, "published_at": published_at,
                  "next_read_at": published_at + SCHEDULE[0][1]},
    )
    return tracked


@transaction.atomic
def tracked_due_claim(*, now: datetime | None = None, limit: int = 100) -> list[Tracked]:
    """The tracked posts due for a read, claimed for CLAIM_LEASE so another worker (or the
    next beat tick) does not read them too."""
    now = now or timezone.now()
    due = list(Tracked.objects.select_for_update(skip_locked=True)
               .filter(next_read_at__lte=now).order_by("next_read_at", "id")[:limit])
    Tracked.objects.filter(id__in=[tracked.id for tracked in due]).update(next_read_at=now + CLAIM_LEASE)
    return due


@transaction.atomic
def tracked_defer(*, tracked_ids: list[int], until: datetime) -> int:
    """The budget cannot spare these reads now: they wait (stretched, never dropped)."""
    return Tracked.objects.filter(id__in=tracked_ids, next_read_at__isnull=False).update(next_read_at=until)


@transaction.atomic
def tracked_gone(*, tracked_id: int, at: datetime | None = None) -> None:
    """The network no longer shows the post (deleted, protected): stop reading it."""
    Tracked.objects.filter(id=tracked_id).update(next_read_at=None, last_read_at=at or timezone.now())


# A tracked post's engagement was read (tracked, sample), inside that transaction:
# room.flows.engagement.engagement_recorded (follow-ups that ride the wave).
engagement_recorded = Hook("approvals.engagement_recorded")


@transaction.atomic
def engagement_record(*, tracked_id: int, at: datetime, counts: dict, pace: float = 1.0) -> EngagementSample:
    """Append one reading, roll it up onto the tracked post, schedule the next read."""
    tracked = Tracked.objects.select_for_update().get(id=tracked_id)
    sample = EngagementSample.objects.create(
        tracked=tracked, at=at, likes=counts.get("likes") or 0, reposts=counts.get("reposts") or 0,
        replies=counts.get("replies") or 0, quotes=counts.get("quotes") or 0, impressions=counts.get("impressions"),
        clicks=tracked.clicks,
    )
    tracked.likes, tracked.reposts, tracked.replies = sample.likes, sample.reposts, sample.replies
    tracked.quotes, tracked.impressions = sample.quotes, sample.impressions
    tracked.last_read_at, tracked.reads = at, tracked.reads + 1
    tracked.next_read_at = next_read(published_at=tracked.published_at, at=at, pace=pace)
    tracked.save()
    live.publish("engagement.recorded", summary=f"{sample.likes} likes, {sample.reposts} reposts on {tracked}",
                 tracked_id=tracked.id, post_id=tracked.post_id, likes=sample.likes, reposts=sample.reposts,
                 replies=sample.replies, quotes=sample.quotes)
    engagement_recorded(tracked=tracked, sample=sample)
    return sample


# --- Own short links ---------------------------------------------------------------------

CODE_BYTES = 6


def _with_utm(url: str, *, source: str, campaign: str) -> str:
    parts = urlsplit(url)
    query = [(key, value) for key, value in parse_qsl(parts.query, keep_blank_values=True)
             if not key.startswith("utm_")]
    query += [("utm_source", source), ("utm_medium", "social")]
    if campaign:
        query.append(("utm_campaign", campaign))
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), parts.fragment))


@transaction.atomic
def short_link_create(*, user, account_id: int, url: str, campaign: str = "", post_id: int | None = None) -> ShortLink:
    """A `/l/<code>` redirect to `url` with UTM tags for the account (utm_source) and the
    event (utm_campaign). Only http(s) URLs."""
    if not roles.has_role(user, {roles.COMMUNITY_MANAGER, roles.PRODUCER, roles.LEAD, roles.ADMIN}):
        raise Forbidden("Your role cannot make short links.")
    url = (url or "").strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or len(url) > 1500:
        raise InvalidInput("URL: give a full http:// or https:// address (at most 1,500 characters).")
    account = Account.objects.filter(id=account_id).first()
    if account is None:
        raise InvalidInput("Account: choose one of the brand's accounts.")
    campaign = (campaign or "").strip()[:120]
    link = ShortLink.objects.create(
        code=secrets.token_urlsafe(CODE_BYTES), account=account, post_id=post_id, campaign=campaign,
        target=_with_utm(url, source=f"{account.platform}-{account.handle}", campaign=campaign),
    )
    audit.record(actor=user, action="short_link.create", obj=link, details={"target": link.target[:500]})
    return link


def post_wrap_links(*, user, post_id: int, campaign: str = "") -> Post:
    """Replace every URL in a draft's text by a short link of the room (an edit: a Yes
    already given is voided, as for any edit)."""
    post = Post.objects.get(id=post_id)
    text = post.text
    for url in dict.fromkeys(_urls(text)):
        link = short_link_create(user=user, account_id=post.account_id, url=url, campaign=campaign, post_id=post.id)
        text = text.replace(url, _short_url(link))
    if text == post.text:
        return post
    return services.post_edit(post_id=post.id, user=user, text=text, media=post.media)


def _urls(text: str) -> list[str]:
    return [word.rstrip(".,;:!?)") for word in text.split() if word.startswith(("http://", "https://"))]


def _short_url(link: ShortLink) -> str:
    return f"{settings.PUBLIC_BASE_URL.rstrip('/')}/l/{link.code}"


# Substrings of user agents that are bots, link unfurlers and prefetchers, not people.
BOT_AGENTS = (
    "bot", "crawl", "spider", "slurp", "facebookexternalhit", "facebot", "twitterbot", "slackbot", "discordbot",
    "whatsapp", "telegrambot", "linkedinbot", "embedly", "preview", "prefetch", "skypeuripreview", "bitlybot",
    "curl/", "wget/", "python-requests", "headless", "lighthouse", "pingdom", "uptime",
)


def is_bot(*, method: str, user_agent: str, purpose: str = "") -> bool:
    """A HEAD, a declared prefetch (`Purpose`/`Sec-Purpose: prefetch`), an empty user
    agent or one naming a bot, unfurler or preview is not a person clicking."""
    agent = (user_agent or "").lower()
    return (method.upper() == "HEAD" or "prefetch" in (purpose or "").lower() or not agent.strip()
            or any(marker in agent for marker in BOT_AGENTS))


def short_link_hit(*, code: str, method: str, user_agent: str, purpose: str = "") -> str | None:
    """Where `/l/<code>` sends the browser (None for an unknown code), counting the click
    when a person made it."""
    link = ShortLink.objects.filter(code=code[:16]).first()
    if link is None:
        return None
    if is_bot(method=method, user_agent=user_agent, purpose=purpose):
        ShortLink.objects.filter(id=link.id).update(bot_hits=F("bot_hits") + 1)
    else:
        with transaction.atomic():
            ShortLink.objects.filter(id=link.id).update(clicks=F("clicks") + 1)
            if link.post_id:
                Tracked.objects.filter(post_id=link.post_id).update(clicks=F("clicks") + 1)
    return link.target


# --- Ride the wave -------------------------------------------------------------------------

KINDS = {kind.value for kind in FollowUp.Kind}


@transaction.atomic
def follow_up_create(*, user, parent_post_id: int, text: str = "", likes: int, within_minutes: int = 60,
                     kind: str = FollowUp.Kind.REPLY) -> FollowUp:
    """A follow-up to one of our own posts, prepared ahead: a fire-only draft (legal clears
    it like any post) and the threshold on the parent that fires it. A reply answers the
    parent; a thread answers the follow-up before it in the parent's chain (the parent
    itself for the first); a repost has no text, and legal's Yes binds the post it reposts
    (one repost per parent: a network takes a repost once)."""
    parent = Post.objects.select_for_update().filter(id=parent_post_id).first()
    if parent is None:
        raise InvalidInput("No such post to follow up.")
    if kind not in KINDS:
        raise InvalidInput("Kind: a reply, a thread or a repost.")
    if not isinstance(likes, int) or likes < 1 or not isinstance(within_minutes, int) or not 1 <= within_minutes <= 7 * 24 * 60:
        raise InvalidInput("Threshold: likes of at least 1, within 1 minute to a week.")
    if kind == FollowUp.Kind.REPOST:
        if not roles.has_role(user, services.AUTHORS):
            raise Forbidden("Your role cannot write posts.")
        if FollowUp.objects.filter(parent=parent, kind=FollowUp.Kind.REPOST).exists():
            raise InvalidInput("This post already has a repost follow-up: a network takes a repost once.")
        post = Post.objects.create(account=parent.account, author=user, text="", fire_only=True, repost=True,
                                   reply_to_post=parent)
        audit.record(actor=user, action="post.create", obj=post, details={"repost_of": parent.id})
    else:
        post = services.post_create(author=user, account_id=parent.account_id, text=text, fire_only=True)
        target = parent
        if kind == FollowUp.Kind.THREAD:
            before = (FollowUp.objects.filter(parent=parent).exclude(kind=FollowUp.Kind.REPOST)
                      .select_related("post").order_by("-id").first())
            target = before.post if before is not None else parent
        post.reply_to_post = target
        post.save(update_fields=["reply_to_post", "updated_at"])
    follow_up = FollowUp.objects.create(post=post, parent=parent, kind=kind, likes=likes, within_minutes=within_minutes)
    audit.record(actor=user, action="follow_up.create", obj=post,
                 details={"parent": parent.id, "kind": kind, "reply_to": post.reply_to_post_id, "likes": likes,
                          "within_minutes": within_minutes})
    return follow_up


@transaction.atomic
def follow_up_fire(*, follow_up_id: int, sample: EngagementSample) -> Post | None:
    """Fire a follow-up whose parent crossed its threshold: exactly once (the row is
    locked and stamped), never while the queue is paused (it waits and is checked again
    at the next reading), only with legal's Yes for its exact content (a repost's: the
    post it reposts), and a thread only once the follow-up before it is out (it answers
    that post, whose id is known then). Audited and pushed live like a fire. None when
    it did not fire."""
    follow_up = FollowUp.objects.select_for_update().select_related("post").filter(id=follow_up_id).first()
    if follow_up is None or follow_up.fired_at is not None:
        return None
    post = follow_up.post
    if services.queue_state().paused:
        return None
    if post.state != Post.State.APPROVED or post.approved_hash != post.content_hash():
        return None
    target = Post.objects.filter(id=post.reply_to_post_id).first() if post.reply_to_post_id else None
    if target is None or target.state != Post.State.PUBLISHED or not target.platform_id:
        return None  # the post it answers (or reposts) is not out yet: the next reading checks again
    follow_up.fired_at = timezone.now()
    follow_up.save(update_fields=["fired_at"])
    post.publish_at, post.state, post.enqueued_at = follow_up.fired_at, Post.State.SCHEDULED, None
    post.save(update_fields=["publish_at", "state", "enqueued_at", "updated_at"])
    details = {"parent": follow_up.parent_id or post.reply_to_post_id, "kind": follow_up.kind,
               "reply_to": post.reply_to_post_id, "likes": sample.likes, "threshold": follow_up.likes,
               "content_hash": post.approved_hash}
    audit.record(actor=None, action="follow_up.fire", obj=post, details=details)
    what = f"reposting our post #{post.reply_to_post_id}" if post.repost else post.text[:100]
    live.publish("follow_up.fired", audience=[live.ROOM],
                 summary=f"Riding the wave ({sample.likes} likes ≥ {follow_up.likes}): {what}",
                 post_id=post.id, parent_id=follow_up.parent_id or post.reply_to_post_id, follow_up_kind=follow_up.kind)
    tasks.post_publish.delay_on_commit(post.id)
    return post


def follow_ups_crossed(*, tracked: Tracked, sample: EngagementSample) -> list[int]:
    """The follow-ups of this tracked post that its reading crossed and that wait to fire,
    in the order they were made (a thread's links in chain order)."""
    if tracked.post_id is None or tracked.sandbox:
        return []
    waiting = FollowUp.objects.filter(parent_id=tracked.post_id, fired_at__isnull=True,
                                      likes__lte=sample.likes).order_by("id")
    return [follow_up.id for follow_up in waiting
            if sample.at <= tracked.published_at + timedelta(minutes=follow_up.within_minutes)]
