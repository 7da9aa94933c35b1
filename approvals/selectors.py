"""Approvals' reads, shaped for the Approvals page, the calendar, the queue review and the
pause banner every page shows."""

import difflib
import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from datetime import timezone as dt_timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db.models import QuerySet
from django.utils import timezone

from networks import limits
from warroom import roles

from .models import Account, ApprovalRequest, MediaAsset, Post, QueueState
from .services import CHECKLIST, post_attachments

MY_POSTS_LIMIT = 50
APPROVER_LIMIT = 200
CALENDAR_LIMIT = 500
# Sorts after every ISO timestamp: requests with no publish time come after the dated ones.
NO_TIME = "9999"


def zone(name: str) -> ZoneInfo:
    """An account's time zone, UTC when the stored name is not one zoneinfo knows."""
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def account_list(*, network: str | None = None) -> list[Account]:
    """The brand's accounts; those on one network (a reply goes out where its mention was heard)."""
    accounts = Account.objects.order_by("name", "id")
    return list(accounts.filter(platform=network) if network else accounts)


def account_health(account: Account, now: datetime | None = None) -> str:
    """One word for the account's health, like a source's: rate-limited while publishing
    waits for the network's reset, failing when its last publish failed, ok when it
    last published, waiting before it ever has."""
    now = now or timezone.now()
    if account.rate_limited_until and account.rate_limited_until > now:
        return "rate-limited"
    if account.last_error_at and (account.last_success_at is None or account.last_error_at > account.last_success_at):
        return "failing"
    return "ok" if account.last_success_at else "waiting"


def account_rows() -> list[dict]:
    """The accounts page's rows: each account with its health word."""
    return [{"account": account, "health": account_health(account)}
            for account in Account.objects.select_related("backup_approver").order_by("name", "id")]


def account_get(account_id: int | None) -> Account | None:
    return Account.objects.filter(id=account_id).first() if account_id else None


# --- What waits for an approver ----------------------------------------------------------

@dataclass
class Item:
    """One card in an approver's list: an open request, or (for the lead) a post that needs a check."""

    kind: str  # "request" or "check"
    dom_id: str
    post: Post
    request: ApprovalRequest | None
    sort_key: str
    version: str
    checklist: list[tuple[str, bool]]
    diff: list[tuple[str, str]] | None = None
    attachments: list = field(default_factory=list)  # (MediaAsset, alt text): shown as they will appear
    network: limits.Network | None = None
    count: limits.Count | None = None


def _open_requests_for(user) -> QuerySet[ApprovalRequest]:
    held = roles.roles_of(user)
    steps = []
    if roles.LEGAL in held:
        steps.append(ApprovalRequest.Step.LEGAL)
    if roles.LEAD in held:
        steps.append(ApprovalRequest.Step.LEAD)
    # Only the step's role answers (a backup approver too), and never the post's author.
    return (ApprovalRequest.objects.filter(step__in=steps, state=ApprovalRequest.State.OPEN, post__state=Post.State.PENDING)
            .exclude(post__author_id=user.id)
            .select_related("post__account", "post__author", "requested_by", "escalated_to"))


def checklist_rows(post: Post) -> list[tuple[str, bool]]:
    """The guardrail questions as the author ticked them, in the order they were asked
    (PostgreSQL's jsonb does not keep the order of keys)."""
    ticked = post.checklist or {}
    asked = [(question, bool(ticked.get(question))) for question in CHECKLIST]
    return asked + [(question, bool(value)) for question, value in ticked.items() if question not in CHECKLIST]


def request_item(request: ApprovalRequest) -> Item:
    post = request.post
    due = request.due_at.astimezone(dt_timezone.utc).isoformat() if request.due_at else NO_TIME
    return Item(
        kind="request", dom_id=f"request-{request.id}", post=post, request=request,
        sort_key=f"1|{due}|{request.created_at.isoformat()}|{request.id:012d}",
        version=f"{request.id}:{post.content_hash()[:16]}:{post.updated_at.isoformat()}:{request.escalated_at or ''}",
        checklist=checklist_rows(post), diff=text_diff(request.previous_text, post.text) if request.previous_text else None,
        **_as_it_will_appear(post),
    )


def _as_it_will_appear(post: Post) -> dict:
    network = limits.network(post.account.platform)
    return {"attachments": post_attachments(post) if post.media_items() else [], "network": network,
            "count": network.count(post.text)}


def _check_item(post: Post) -> Item:
    return Item(kind="check", dom_id=f"check-{post.id}", post=post, request=None,
                sort_key=f"0|{post.updated_at.isoformat()}|{post.id:012d}", version=f"check:{post.updated_at.isoformat()}",
                checklist=checklist_rows(post), **_as_it_will_appear(post))


def approver_items(user, *, post_id: int | None = None) -> list[Item]:
    """What waits for this user's answer, needs-check posts first (the lead), then open
    requests oldest due first. With post_id: only what concerns that post."""
    requests = _open_requests_for(user)
    if post_id is not None:
        requests = requests.filter(post_id=post_id)
    items = [request_item(r) for r in requests.order_by("due_at", "created_at", "id")[:APPROVER_LIMIT]]
    if roles.has_role(user, {roles.LEAD}):
        checks = Post.objects.filter(state=Post.State.NEEDS_CHECK).select_related("account", "author")
        if post_id is not None:
            checks = checks.filter(id=post_id)
        items = [_check_item(p) for p in checks.order_by("updated_at", "id")[:APPROVER_LIMIT]] + items
    return items


def approver_count(user) -> int:
    count = _open_requests_for(user).count()
    if roles.has_role(user, {roles.LEAD}):
        count += Post.objects.filter(state=Post.State.NEEDS_CHECK).count()
    return count


def is_approver(user) -> bool:
    return roles.has_role(user, {roles.LEGAL, roles.LEAD})


_WORDS = re.compile(r"\s+|[^\s]+")


def text_diff(before: str, after: str) -> list[tuple[str, str]]:
    """A word-level diff: [(op, text)] with op "same", "del" or "ins", whitespace kept.
    Changes separated only by whitespace read as one change ("in the dark" -> "all night")."""
    a, b = _WORDS.findall(before or ""), _WORDS.findall(after or "")
    out: list[tuple[str, str]] = []
    deleted, inserted = "", ""

    def flush() -> None:
        nonlocal deleted, inserted
        out.extend((op, text) for op, text in (("del", deleted), ("ins", inserted)) if text)
        deleted, inserted = "", ""

    opcodes = difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes()
    for n, (op, i1, i2, j1, j2) in enumerate(opcodes):
        same = "".join(a[i1:i2])
        between_changes = 0 < n < len(opcodes) - 1 and not same.strip()
        if op == "equal" and not between_changes:
            flush()
            out.append(("same", same))
        elif op == "equal":
            deleted, inserted = deleted + same, inserted + same
        else:
            deleted, inserted = deleted + "".join(a[i1:i2]), inserted + "".join(b[j1:j2])
    flush()
    return out


# --- An author's posts -------------------------------------------------------------------

def my_posts(user, *, post_id: int | None = None) -> list[Post]:
    posts = Post.objects.filter(author_id=user.id).select_related("account")
    if post_id is not None:
        posts = posts.filter(id=post_id)
    return list(posts.order_by("-created_at", "-id")[:MY_POSTS_LIMIT])


# --- The calendar ------------------------------------------------------------------------

@dataclass
class CalendarDay:
    day: date
    posts: list[Post]


def calendar_range(view: str, day: date) -> tuple[date, int]:
    """The first day shown and how many: a week starts on Monday."""
    if view == "week":
        return day - timedelta(days=day.weekday()), 7
    return day, 1


def calendar_days(*, first: date, days: int) -> list[CalendarDay]:
    """Posts with a publish time in these UTC days, across every account."""
    start = datetime.combine(first, time.min, tzinfo=dt_timezone.utc)
    end = start + timedelta(days=days)
    posts = list(Post.objects.filter(publish_at__gte=start, publish_at__lt=end).select_related("account", "author")
                 .order_by("publish_at", "id")[:CALENDAR_LIMIT])
    by_day = {first + timedelta(days=n): [] for n in range(days)}
    for post in posts:
        by_day[post.publish_at.astimezone(dt_timezone.utc).date()].append(post)
    return [CalendarDay(day=d, posts=p) for d, p in by_day.items()]


# --- The queue switch --------------------------------------------------------------------

@dataclass(frozen=True)
class Banner:
    paused: bool
    reason: str = ""
    by: str = ""
    since: datetime | None = None
    auto_resume: str = ""  # ISO 8601 in UTC, as the live event carries it


def queue_banner() -> Banner:
    """The pause as every page shows it: one query, and no row means running."""
    queue = QueueState.objects.select_related("paused_by").filter(id=1).first()
    if queue is None or not queue.paused:
        return Banner(paused=False)
    by = queue.paused_by
    return Banner(
        paused=True, reason=queue.reason,
        by=(by.get_full_name() or by.get_username()) if by is not None else "system",
        since=queue.paused_at,
        auto_resume=queue.auto_resume_at.astimezone(dt_timezone.utc).isoformat() if queue.auto_resume_at else "",
    )


# --- Media and the composer's previews -----------------------------------------------------

LIBRARY_LIMIT = 200


def media_attached(media: list[dict]) -> list[tuple[MediaAsset, str]]:
    """(asset, alt text) for the composer's attachments, in order; unknown hashes dropped."""
    assets = MediaAsset.objects.in_bulk([m["sha256"] for m in media], field_name="sha256")
    return [(assets[m["sha256"]], m.get("alt", "")) for m in media if m["sha256"] in assets]


def media_get(sha256: str) -> MediaAsset | None:
    return MediaAsset.objects.filter(sha256=sha256).first()


def media_library(*, event: str = "", limit: int = LIBRARY_LIMIT) -> list[MediaAsset]:
    assets = MediaAsset.objects.select_related("uploaded_by", "cleared_by").order_by("-created_at", "-id")
    if event:
        assets = assets.filter(event_tag__iexact=event)
    return list(assets[:limit])


def media_events() -> list[str]:
    return sorted(set(MediaAsset.objects.exclude(event_tag="").values_list("event_tag", flat=True)))


@dataclass
class Preview:
    account: Account
    network: limits.Network
    text: str
    own_text: bool
    count: limits.Count
    attachments: list
    problems: list[str]

    @property
    def percent(self) -> int:
        return min(100, round(100 * self.count.used / self.count.limit)) if self.count.limit else 0


def compose_previews(*, account_ids: list[int], text: str, texts: dict[int, str], media: list[dict]) -> list[Preview]:
    """How the post will look on each chosen account, counted as its network counts it,
    with every problem its network (or the account's alt-text rule) would refuse."""
    accounts = Account.objects.in_bulk(account_ids)
    attached = media_attached(media)
    previews = []
    for account_id in account_ids:
        account = accounts.get(account_id)
        if account is None:
            continue
        network = limits.network(account.platform)
        own = (texts.get(account_id) or "").strip()
        body = own or (text or "").strip()
        count = network.count(body)
        infos = [(limits.MediaInfo(a.content_type, a.size, a.width, a.height, a.duration, a.frames), alt)
                 for a, alt in attached]
        problems = list(count.problems) + network.media_problems(infos)
        if account.require_alt_text:
            problems += [f"Media {n} ({a.kind}): alt text is missing; {account.name} requires it."
                         for n, (a, alt) in enumerate(attached, 1) if not alt.strip()]
        previews.append(Preview(account, network, body, bool(own), count, attached, problems))
    return previews
