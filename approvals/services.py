"""Approvals' writes: posts and their state machine, legal's Yes/No bound to the exact
content, scheduling, the pause switch, and publishing exactly once.

Publishing runs in two transactions. The first claims a due post (SCHEDULED ->
PUBLISHING) and records an attempt, so a worker that dies later leaves evidence. The
second holds the switch's advisory lock shared while it re-checks the pause and the approval
and calls the platform; a pause takes the same lock exclusively, so it waits for publishes in
flight (only those: later ones queue behind it) and every publish that starts after it
commits sees it. No post leaves after a pause commits. A worker killed inside the second
transaction leaves the post PUBLISHING with an unfinished attempt: X may have accepted it,
so the sweep moves it to NEEDS_CHECK for the lead, never back into the queue.

Two answers come from above approvals, through hooks the orchestration layer connects
(room/apps.py): what a post's text touches that the room should not (`text_touches`,
listening's crisis topics), and what a post's final outcome means elsewhere
(`post_outcome`, a reply's case in triage, room/flows/publishing.py).
"""

import hashlib
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from zoneinfo import available_timezones

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import signing
from django.db import OperationalError, connection, transaction
from django.utils import timezone
from psycopg2.errors import LockNotAvailable

from networks import limits, registry
from networks.base import Channel, MediaFile
from networks.errors import PermanentError, PublishOutcomeUnknown, RateLimited, TransientError
from warroom import audit, live, netguard, roles
from warroom.errors import Conflict, Forbidden, InvalidInput, WarroomError
from warroom.hooks import Hook

from . import media as media_files
from .models import Account, ApprovalLink, ApprovalRequest, MediaAsset, Post, PublishAttempt, QueueState

# The three questions, written as what the author affirms by ticking.
CHECKLIST = (
    "It creates no unneeded risk for the brand.",
    "It could not hurt the company or me.",
    "I would want my grandmother to read it.",
)
AUTHORS = frozenset({roles.COMMUNITY_MANAGER, roles.PRODUCER, roles.LEAD, roles.ADMIN})
LATE_GRACE = timedelta(minutes=5)
STUCK_AFTER = timedelta(minutes=2)
MAX_BACKOFF = timedelta(minutes=10)
APPROVERS_AUDIENCE = [live.role_group(roles.LEGAL), live.role_group(roles.LEAD)]
ACCOUNTS_AUDIENCE = [live.role_group(roles.LEAD), live.role_group(roles.ADMIN)]


def _name(user) -> str:
    return (user.get_full_name() or user.get_username()) if user is not None else "system"


def _post_audience(post: Post) -> list[str]:
    return [live.user_group(post.author_id), *APPROVERS_AUDIENCE, live.role_group(roles.PRODUCER),
            live.role_group(roles.COMMUNITY_MANAGER)]


def _publish_event(kind: str, post: Post, summary: str, actor=None, **extra) -> None:
    live.publish(
        kind, audience=_post_audience(post), summary=summary, actor=_name(actor) if actor else "",
        post_id=post.id, state=post.state, state_label=post.get_state_display(), **extra,
    )


# --- The queue switch --------------------------------------------------------------------

_LOCKS = {"": "", "share": "", "update": " FOR UPDATE"}
# The switch's own lock, a transaction-level advisory lock beside the row: publishes in flight
# hold it shared, the pause and the resume exclusively. PostgreSQL queues a new shared request
# behind a waiting exclusive one, so the pause waits only for the publishes already in flight;
# a row lock FOR SHARE would let a busy queue's endless overlapping publishes starve it.
QUEUE_LOCK = 0x5752_0001
_ADVISORY = {"share": "SELECT pg_advisory_xact_lock_shared(%s)", "update": "SELECT pg_advisory_xact_lock(%s)"}


def _queue_row(*, lock: str = "") -> QueueState:
    """The queue's one row, read (and locked, inside the caller's transaction) after the
    switch's lock is held; made on first use."""
    if lock:
        with connection.cursor() as cursor:
            cursor.execute(_ADVISORY[lock], [QUEUE_LOCK])
    query = f"SELECT * FROM approvals_queuestate WHERE id = 1{_LOCKS[lock]}"
    row = next(iter(QueueState.objects.raw(query)), None)
    if row is None:
        QueueState.objects.get_or_create(id=1)
        row = next(iter(QueueState.objects.raw(query)))
    return row


def queue_state() -> QueueState:
    return _queue_row()


@transaction.atomic
def queue_pause(*, user, reason: str, auto_resume_at: datetime | None = None) -> QueueState:
    """Stop every post and reply from leaving. The lead, or an alert rule (user None)."""
    if user is not None and not roles.has_role(user, {roles.LEAD}):
        raise Forbidden("Only the lead can pause the outgoing queue.")
    reason = (reason or "").replace("\x00", "").strip()
    if not reason:
        raise InvalidInput("Reason is empty: say why everything must stop, for the room and the log.")
    if auto_resume_at is not None and auto_resume_at <= timezone.now():
        raise InvalidInput("The auto-resume time is in the past.")
    queue = _queue_row(lock="update")  # waits for publishes in flight to finish
    if queue.paused:
        raise Conflict(f"The queue is already paused since {queue.paused_at:%H:%M} UTC: {queue.reason}")
    queue.paused, queue.reason, queue.paused_by = True, reason[:500], user
    queue.paused_at, queue.auto_resume_at, queue.resumed_at = timezone.now(), auto_resume_at, None
    queue.save()
    audit.record(actor=user, action="queue.pause", obj=queue,
                 details={"reason": queue.reason, "auto_resume_at": auto_resume_at.isoformat() if auto_resume_at else ""})
    live.publish("queue.paused", summary=f"Outgoing queue paused: {queue.reason}", actor=_name(user),
                 reason=queue.reason,
                 auto_resume_at=auto_resume_at.astimezone(dt_timezone.utc).isoformat() if auto_resume_at else "")
    return queue


def came_due_while_paused() -> list[Post]:
    return list(Post.objects.filter(state=Post.State.SCHEDULED, publish_at__lte=timezone.now())
                .select_related("account", "author").order_by("publish_at"))


@transaction.atomic
def queue_resume(*, user, release: str | list[int] = "none") -> list[int]:
    """Let posts leave again. Posts that came due during the pause go out only if the lead
    releases them ("all", or a list of ids); the others wait for a new time."""
    if user is not None and not roles.has_role(user, {roles.LEAD}):
        raise Forbidden("Only the lead can resume the outgoing queue.")
    queue = _queue_row(lock="update")
    if not queue.paused:
        raise Conflict("The queue is not paused.")
    due = Post.objects.select_for_update().filter(state=Post.State.SCHEDULED, publish_at__lte=timezone.now())
    due_ids = list(due.values_list("id", flat=True))
    released = due_ids if release == "all" else [i for i in (release if isinstance(release, list) else []) if i in due_ids]
    held = [i for i in due_ids if i not in released]
    now = timezone.now()
    Post.objects.filter(id__in=released).update(publish_at=now, last_error="", enqueued_at=None)
    Post.objects.filter(id__in=held).update(
        state=Post.State.APPROVED, last_error="Came due while the queue was paused: pick a new time.")
    queue.paused, queue.resumed_at, queue.auto_resume_at = False, now, None
    queue.save()
    audit.record(actor=user, action="queue.resume", obj=queue, details={"released": released, "held": held})
    for post in Post.objects.filter(id__in=due_ids):
        if post.id in released:
            _publish_event("post.scheduled", post, f"Released after the pause: {post.text[:100]}", user)
        else:
            _publish_event("post.held", post, f"Held after the pause, needs a new time: {post.text[:100]}", user)
    live.publish("queue.resumed", summary=f"Outgoing queue resumed; {len(released)} released, {len(held)} held",
                 actor=_name(user), released=len(released), held=len(held))
    return released


def queue_auto_resume() -> bool:
    queue = _queue_row()
    if queue.paused and queue.auto_resume_at and queue.auto_resume_at <= timezone.now():
        try:
            queue_resume(user=None, release="none")
        except Conflict:
            return False
        return True
    return False


# --- Posts -------------------------------------------------------------------------------

def _clean_text(text: str, account: Account | None = None) -> str:
    """The text, refused with the network's own count when that network would refuse it."""
    text = (text or "").replace("\x00", "").strip()
    if not text:
        raise InvalidInput("Text is empty: write the post.")
    problems = limits.network(account.platform if account else "x").text_problems(text)
    if problems:
        where = f" for {account.name}" if account else ""
        raise InvalidInput(f"Text{where}: {' '.join(problems)}")
    return text


def _clean_media(media, account: Account | None = None) -> list:
    """Attached files as [{"sha256", "alt"}], each an uploaded asset, held to the account's
    network (types, sizes, pixels, video length, how many) and to its alt-text rule. Older
    callers may still pass http(s) URLs: links kept with the post, never uploaded."""
    media = media or []
    if not isinstance(media, list):
        raise InvalidInput("Media must be a list of uploaded files.")
    cleaned, files = [], []
    for n, item in enumerate(media, 1):
        if isinstance(item, str) and item.startswith(("http://", "https://")):
            cleaned.append(item[:1000])
            continue
        if not isinstance(item, dict) or not isinstance(item.get("sha256"), str):
            raise InvalidInput(f"Media {n}: attach an uploaded file (or an http(s) URL).")
        asset = MediaAsset.objects.filter(sha256=item["sha256"].lower()[:64]).first()
        if asset is None:
            raise InvalidInput(f"Media {n}: that file is not in the room's media; upload it again.")
        alt = " ".join(str(item.get("alt") or "").replace("\x00", "").split())
        if not alt and account is not None and account.require_alt_text:
            raise InvalidInput(f"Media {n} ({asset.kind}): alt text is missing; {account.name} requires a "
                               "description of every image and video for people who cannot see it.")
        cleaned.append({"sha256": asset.sha256, "alt": alt})
        files.append((_info(asset), alt))
    network = limits.network(account.platform if account else "x")
    problems = network.media_problems(files)
    if not files and len(cleaned) > network.media.max_items:
        problems.append(f"{network.name} takes at most {network.media.max_items} media items per post.")
    if problems:
        where = f" for {account.name}" if account else ""
        raise InvalidInput(f"Media{where}: {' '.join(problems)}")
    return cleaned


def _info(asset: MediaAsset) -> limits.MediaInfo:
    return limits.MediaInfo(asset.content_type, asset.size, asset.width, asset.height, asset.duration, asset.frames)


def _not_past(publish_at: datetime | None) -> datetime | None:
    if publish_at is not None and publish_at < timezone.now() - timedelta(minutes=1):
        raise InvalidInput(f"The publish time {publish_at:%Y-%m-%d %H:%M} UTC is in the past.")
    return publish_at


@transaction.atomic
def post_create(*, author, account_id: int, text: str, media=None, in_reply_to: str = "",
                publish_at: datetime | None = None, publish_on_approval: bool = False, fire_only: bool = False,
                holding: bool = False) -> Post:
    """A draft. `publish_on_approval` means "now": it goes out the moment the last Yes lands,
    so a slow answer never makes it miss a slot or trip the approval deadline. A `holding`
    statement is fired, never scheduled, and may leave while the queue is paused."""
    fire_only = fire_only or holding
    if not roles.has_role(author, AUTHORS):
        raise Forbidden("Your role cannot write posts.")
    publish_at = None if publish_on_approval else _not_past(publish_at)
    account = Account.objects.filter(id=account_id).first()
    if account is None:
        raise InvalidInput("Account: choose one of the brand's accounts.")
    post = Post.objects.create(account=account, author=author, text=_clean_text(text, account),
                               media=_clean_media(media, account),
                               in_reply_to=(in_reply_to or "")[:128], publish_at=None if fire_only else publish_at,
                               publish_on_approval=publish_on_approval and not fire_only, fire_only=fire_only,
                               holding=holding)
    audit.record(actor=author, action="post.create", obj=post)
    return post


# --- Media and the composer ----------------------------------------------------------------

MAX_UPLOAD_FILES = 4


@transaction.atomic
def media_upload(*, user, data: bytes, name: str = "the file", event_tag: str = "", use_tag: str = "",
                 title: str = "") -> MediaAsset:
    """Store an uploaded file once under its hash (approvals/media.py checks what it is by
    its bytes). Uploading the same bytes again returns the same asset."""
    if not roles.has_role(user, AUTHORS):
        raise Forbidden("Your role cannot upload media.")
    limit = settings.MEDIA_UPLOAD_MAX_MB * 1024 * 1024
    if len(data) > limit:
        raise InvalidInput(f"{name} is {len(data) / 1024 / 1024:.1f} MB; the room takes files up to "
                           f"{settings.MEDIA_UPLOAD_MAX_MB} MB.")
    asset, created = media_files.store(data=data, user=user, name=name)
    if created:
        asset.title = (title or "").replace("\x00", "").strip()[:200]
        asset.event_tag = (event_tag or "").replace("\x00", "").strip()[:100]
        asset.use_tag = (use_tag or "").replace("\x00", "").strip()[:100]
        asset.save(update_fields=["title", "event_tag", "use_tag"])
        audit.record(actor=user, action="media.upload", obj=asset,
                     details={"sha256": asset.sha256, "type": asset.content_type, "size": asset.size})
        live.publish("media.uploaded", audience=[live.role_group(r) for r in sorted(AUTHORS | {roles.LEGAL})],
                     summary=f"New media in the library: {asset.kind} {asset.sha256[:12]}", actor=_name(user),
                     sha256=asset.sha256)
    return asset


@transaction.atomic
def media_clear(*, user, sha256: str) -> MediaAsset:
    """Legal clears a library asset for use (who and when are shown wherever it is picked)."""
    if not roles.has_role(user, {roles.LEGAL}):
        raise Forbidden("Only legal clears media in the library.")
    asset = MediaAsset.objects.select_for_update().filter(sha256=sha256).first()
    if asset is None:
        raise InvalidInput("No such file in the library.")
    if asset.cleared_at is not None:
        raise Conflict(f"Already cleared by {_name(asset.cleared_by)} at {asset.cleared_at:%Y-%m-%d %H:%M} UTC.")
    asset.cleared_by, asset.cleared_at = user, timezone.now()
    asset.save(update_fields=["cleared_by", "cleared_at"])
    audit.record(actor=user, action="media.clear", obj=asset, details={"sha256": asset.sha256})
    live.publish("media.cleared", audience=[live.role_group(r) for r in sorted(AUTHORS | {roles.LEGAL})],
                 summary=f"Media cleared by legal: {asset}", actor=_name(user), sha256=asset.sha256)
    return asset


def compose_check(*, versions: list[tuple[int, str]], media) -> list[tuple[Account, str, list]]:
    """Every account's version held to its network before anything is stored: the accounts,
    their texts and media, or InvalidInput naming every problem (per account)."""
    if not versions:
        raise InvalidInput("Accounts: choose at least one account to post to.")
    problems, checked = [], []
    accounts = Account.objects.in_bulk([account_id for account_id, _ in versions])
    for account_id, text in versions:
        account = accounts.get(account_id)
        if account is None:
            raise InvalidInput("Account: choose one of the brand's accounts.")
        try:
            checked.append((account, _clean_text(text, account), _clean_media(media, account)))
        except InvalidInput as exc:
            problems.append(str(exc))
    if problems:
        raise InvalidInput(" ".join(problems))
    return checked


@transaction.atomic
def posts_compose(*, author, versions: list[tuple[int, str]], media=None, checklist: dict[str, bool],
                  publish_at: datetime | None = None, override_reason: str = "") -> list[Post]:
    """One post written for several accounts (each with its own text if given), each sent
    to legal as its own request: legal approves each account's exact version. All or none:
    one account's refusal stores nothing."""
    if not roles.has_role(author, AUTHORS):
        raise Forbidden("Your role cannot write posts.")
    posts = []
    for account, text, cleaned in compose_check(versions=versions, media=media):
        post = post_create(author=author, account_id=account.id, text=text, media=cleaned, publish_at=publish_at,
                           publish_on_approval=publish_at is None)
        posts.append(post_submit(post_id=post.id, user=author, checklist=checklist, override_reason=override_reason))
    return posts


def post_attachments(post: Post) -> list[tuple[MediaAsset, str]]:
    """(asset, alt text) of each file attached to the post, in order."""
    items = post.media_items()
    assets = {a.sha256: a for a in MediaAsset.objects.filter(sha256__in=[m["sha256"] for m in items])}
    return [(assets[m["sha256"]], m.get("alt", "")) for m in items if m["sha256"] in assets]


def _media_files(post: Post) -> list[MediaFile]:
    """The bytes to upload: only those that still hash to what legal approved."""
    items, attached = post.media_items(), post_attachments(post)
    if len(attached) != len(items):
        raise PermanentError("A file attached to this post is no longer in the room's media: attach it again "
                             "(legal will see the post again).")
    files = []
    for asset, alt in attached:
        try:
            data = media_files.read_verified(asset)
        except (OSError, ValueError) as exc:
            raise PermanentError(f"Not sent: {exc}. The file legal approved is not the file on disk; "
                                 "attach it again for a new Yes.") from exc
        files.append(MediaFile(data=data, mime_type=asset.content_type, sha256=asset.sha256, alt_text=alt,
                               filename=f"{asset.sha256[:16]}.{asset.content_type.split('/', 1)[1]}",
                               animated=asset.frames > 1))
    return files


# What a post's text touches that the room should not (text, extra_terms) -> hits, in words:
# listening.selectors.crisis_terms_in.
text_touches = Hook("approvals.text_touches")


def guardrail_hits(text: str) -> list[str]:
    """Blocked terms and the crisis topics spiking right now that the text touches."""
    return text_touches(text=text, extra_terms=settings.GUARDRAIL_BLOCKED_TERMS)


@transaction.atomic
def post_submit(*, post_id: int, user, checklist: dict[str, bool], override_reason: str = "",
                preapproved: str = "") -> Post:
    """Send a draft to legal, once the author ticked the checklist and the lint is clear
    (or overridden with a reason).

    `preapproved` names the policy under which this exact text needs no new Yes (a canned
    reply legal cleared in advance, the lead's own reply): the approval is then recorded
    at once, bound to the content hash like any other, and audited with that reason.
    A lint hit or an account that needs the lead still sends it to legal."""
    post = Post.objects.select_for_update().select_related("account").get(id=post_id)
    if not roles.has_role(user, AUTHORS):
        raise Forbidden("Your role cannot submit posts.")
    if post.state not in (Post.State.DRAFT, Post.State.REJECTED, Post.State.FAILED):
        raise Conflict(f"This post is {post.get_state_display().lower()}; only drafts are submitted.")
    unticked = [q for q in CHECKLIST if not checklist.get(q)]
    if unticked:
        raise InvalidInput(f"Tick every guardrail question before submitting: {unticked[0]}")
    hits = guardrail_hits(post.text)
    override_reason = (override_reason or "").strip()
    if hits and not override_reason:
        raise InvalidInput(f"The text touches {', '.join(hits)}: edit it, or override with a reason.")
    if hits:
        audit.record(actor=user, action="post.lint_override", obj=post, details={"terms": hits, "reason": override_reason})
    post.checklist, post.lint_override = {q: True for q in CHECKLIST}, override_reason[:500]
    post.last_error = ""
    audit.record(actor=user, action="post.submit", obj=post)
    if preapproved and not hits and not post.account.lead_must_approve:
        now = timezone.now()
        post.approved_hash, post.approved_at = post.content_hash(), now
        if post.publish_on_approval and post.publish_at is None:
            post.publish_at = now
        post.state = Post.State.SCHEDULED if post.publish_at else Post.State.APPROVED
        post.save()
        audit.record(actor=user, action="post.approve", obj=post, details={"policy": preapproved[:200], "hash": post.approved_hash})
        _publish_event("post.approved", post, f"Approved ({preapproved[:80]}): {post.text[:120]}", user)
        return post
    post.state = Post.State.PENDING
    post.save()
    _request_open(post=post, step=ApprovalRequest.Step.LEGAL, by=user)
    return post


def _request_open(*, post: Post, step: str, by, previous_text: str = "") -> ApprovalRequest:
    request = ApprovalRequest.objects.create(
        post=post, step=step, content_hash=post.content_hash(), requested_by=by, due_at=post.publish_at,
        previous_text=previous_text,
    )
    audience = [live.role_group(roles.LEGAL if step == ApprovalRequest.Step.LEGAL else roles.LEAD),
                live.user_group(post.author_id)]
    live.publish("approval.requested", audience=audience, summary=f"Waiting for {request.get_step_display()}: {post.text[:120]}",
                 actor=_name(by), post_id=post.id, request_id=request.id, step=step, edited=bool(previous_text))
    return request


def _answerable(post: Post, user) -> ApprovalRequest:
    request = post.requests.filter(state=ApprovalRequest.State.OPEN).first()
    if post.state != Post.State.PENDING or request is None:
        last = post.requests.exclude(answered_by=None).order_by("-answered_at").first()
        who = f" ({last.get_state_display()} from {_name(last.answered_by)} at {last.answered_at:%H:%M})" if last else ""
        raise Conflict(f"This post is {post.get_state_display().lower()}, not waiting for an answer{who}.")
    if user.id == post.author_id:
        raise Forbidden("You wrote this post, so you cannot answer its approval request: "
                        f"someone else holding {request.get_step_display().lower()}'s role must.")
    if not roles.has_role(user, {_step_role(request.step)}):  # a backup approver too: escalation routes, the role decides
        raise Forbidden(f"This request waits for {request.get_step_display().lower()}, and your role is not that.")
    return request


def _step_role(step: str) -> str:
    return roles.LEGAL if step == ApprovalRequest.Step.LEGAL else roles.LEAD


def _backup_for(request: ApprovalRequest):
    """The account's backup approver if they may answer this request, and why not otherwise."""
    backup = request.post.account.backup_approver
    if backup is None:
        return None, "no backup approver set"
    if backup.id == request.post.author_id:
        return None, f"the backup approver, {_name(backup)}, wrote it"
    if not roles.has_role(backup, {_step_role(request.step)}):
        return None, f"the backup approver, {_name(backup)}, does not hold {request.get_step_display().lower()}'s role"
    return backup, f"sent to {_name(backup)}"


@transaction.atomic
def account_create(*, user, name: str, network: str, handle: str, instance_url: str = "", secret: str = "",
                   time_zone: str = "UTC", sandbox: bool = False, client_id: str = "", client_secret: str = "",
                   community: str = "") -> Account:
    """A channel account the room publishes on. Its network's module says what it needs
    (an instance URL and token for Mastodon, a handle and app password for Bluesky, a
    script app's id and secret, a username, password and subreddit for Reddit); a
    server a person typed must be on the public internet (the SSRF guard)."""
    if not roles.has_role(user, {roles.LEAD, roles.ADMIN}):
        raise Forbidden("Only the lead or an admin adds channel accounts.")
    name = (name or "").replace("\x00", "").strip()[:120]
    if not name:
        raise InvalidInput("Name is empty: call the account something the room will recognise.")
    if network not in registry.MODULES:
        raise InvalidInput(f"Network must be one of: {', '.join(registry.LABELS.values())}.")
    time_zone = (time_zone or "UTC").strip()
    if time_zone not in available_timezones() and time_zone != "UTC":
        raise InvalidInput(f"Time zone {time_zone[:64]!r} is not one the room knows: use a name like Europe/Paris.")
    module = registry.module(network)
    try:
        channel = module.channel_clean(Channel(network=network, handle=(handle or "").strip(),
                                               instance_url=(instance_url or "").strip(), secret=(secret or "").strip(),
                                               sandbox=sandbox, client_id=(client_id or "").strip(),
                                               client_secret=(client_secret or "").strip(),
                                               community=(community or "").strip()))
        channel_guard(channel)
    except PermanentError as error:
        raise InvalidInput(str(error)) from error
    account = Account.objects.create(name=name, platform=network, handle=channel.handle[:100],
                                     instance_url=channel.instance_url[:300], secret=channel.secret[:500],
                                     client_id=channel.client_id[:64], client_secret=channel.client_secret[:200],
                                     community=channel.community[:40], time_zone=time_zone or "UTC", sandbox=sandbox)
    audit.record(actor=user, action="account.create", obj=account,
                 details={"network": network, "handle": account.handle, "instance_url": account.instance_url,
                          **({"community": account.community} if account.community else {})})
    live.publish("account.created", audience=ACCOUNTS_AUDIENCE, actor=_name(user), account_id=account.id,
                 summary=f"Channel account added: {account.name} on {account.network_label} (@{account.handle})")
    return account


# A success on an account that was already healthy and succeeded this recently is stored but
# not pushed again: a busy account would otherwise add a live event to every publish.
HEALTH_QUIET = timedelta(seconds=10)


def _account_health(post: Post, *, at: datetime, error: str = "", rate_limited_until: datetime | None = None) -> None:
    """What this publish says about its account's health, in one UPDATE, pushed to the
    accounts page: a success (no error), or the error and any rate-limit wait. Every
    failure is pushed; a success only when the health changes or the last one is older
    than HEALTH_QUIET (`post.account` is the row as this publish read it)."""
    before = post.account
    if error:
        fields = {"last_error": error[:500], "last_error_at": at}
        if rate_limited_until is not None:
            fields["rate_limited_until"] = rate_limited_until
    else:
        fields = {"last_success_at": at, "rate_limited_until": None}
    Account.objects.filter(id=post.account_id).update(**fields)
    healthy = (before.last_success_at is not None and before.rate_limited_until is None
               and (before.last_error_at is None or before.last_error_at <= before.last_success_at))
    if not error and healthy and at - before.last_success_at < HEALTH_QUIET:
        return
    live.publish("account.health", audience=ACCOUNTS_AUDIENCE, account_id=post.account_id, ok=not error,
                 summary=f"{post.account.name}: {error[:200]}" if error else f"{post.account.name}: published")


@transaction.atomic
def account_set_backup_approver(*, account_id: int, user, approver_id: int | None) -> Account:
    """Who a request goes to when nobody answered it by its time. They must be able to
    answer it: hold legal's role, or the lead's on an account that needs the lead's Yes."""
    if not roles.has_role(user, {roles.LEAD, roles.ADMIN}):
        raise Forbidden("Only the lead or an admin sets an account's backup approver.")
    account = Account.objects.select_for_update().get(id=account_id)
    approver = None
    if approver_id is not None:
        approver = get_user_model().objects.filter(id=approver_id, is_active=True).first()
        if approver is None:
            raise InvalidInput("Backup approver: choose an active user.")
        answerable = {roles.LEGAL, roles.LEAD} if account.lead_must_approve else {roles.LEGAL}
        if not roles.has_role(approver, answerable):
            needed = "legal's or the lead's role" if account.lead_must_approve else "legal's role"
            raise InvalidInput(f"{_name(approver)} cannot be the backup approver of {account.name}: "
                               f"a backup approver must hold {needed}, to answer what waits.")
    account.backup_approver = approver
    account.save(update_fields=["backup_approver"])
    audit.record(actor=user, action="account.backup_approver", obj=account,
                 details={"to": approver.get_username() if approver else ""})
    return account


@transaction.atomic
def post_approve(*, post_id: int, user, content_hash: str) -> Post:
    """Yes, for the exact content the approver saw."""
    post = Post.objects.select_for_update().select_related("account").get(id=post_id)
    request = _answerable(post, user)
    if content_hash != post.content_hash():
        raise Conflict("This post changed since you opened it: review the new version before answering.")
    now = timezone.now()
    request.state, request.answered_by, request.answered_at = ApprovalRequest.State.APPROVED, user, now
    request.save()
    audit.record(actor=user, action="post.approve", obj=post, details={"step": request.step, "hash": content_hash})
    if request.step == ApprovalRequest.Step.LEGAL and post.account.lead_must_approve:
        _request_open(post=post, step=ApprovalRequest.Step.LEAD, by=user)
        _publish_event("post.approved", post, f"Legal said yes; waiting for the lead: {post.text[:120]}", user)
        return post
    post.approved_hash, post.approved_at = content_hash, now
    if post.publish_on_approval and post.publish_at is None:
        post.publish_at = now
    post.state = Post.State.SCHEDULED if post.publish_at else Post.State.APPROVED
    post.save()
    _publish_event("post.approved", post, f"Approved: {post.text[:120]}", user)
    return post


@transaction.atomic
def post_reject(*, post_id: int, user, reason: str, content_hash: str) -> Post:
    """No, with the reason the author needs to fix it."""
    reason = (reason or "").replace("\x00", "").strip()
    if not reason:
        raise InvalidInput("Reason is empty: tell the author what to change.")
    post = Post.objects.select_for_update().get(id=post_id)
    request = _answerable(post, user)
    if content_hash != post.content_hash():
        raise Conflict("This post changed since you opened it: review the new version before answering.")
    request.state, request.answered_by, request.answered_at = ApprovalRequest.State.REJECTED, user, timezone.now()
    request.reason = reason[:1000]
    request.save()
    post.state, post.last_error = Post.State.REJECTED, f"Rejected by {_name(user)}: {reason[:400]}"
    post.save()
    audit.record(actor=user, action="post.reject", obj=post, details={"step": request.step, "reason": reason[:1000]})
    _publish_event("post.rejected", post, f"Rejected: {post.text[:100]} — {reason[:200]}", user, reason=reason[:500])
    post_outcome(post=post)
    return post


@transaction.atomic
def post_edit(*, post_id: int, user, text: str, media=None) -> Post:
    """Change the content. Any approval given or asked for is void: the post goes back to
    legal as a new request showing what changed."""
    post = Post.objects.select_for_update().select_related("account").get(id=post_id)
    if user.id != post.author_id and not roles.has_role(user, {roles.LEAD, roles.ADMIN}):
        raise Forbidden("Only the author or the lead can edit this post.")
    if post.state in (Post.State.PUBLISHING, Post.State.PUBLISHED, Post.State.CANCELLED, Post.State.NEEDS_CHECK):
        raise Conflict(f"This post is {post.get_state_display().lower()} and can no longer be edited.")
    if post.repost:
        raise InvalidInput("A repost has no text of its own to edit: remove the follow-up and write a reply instead.")
    before_text, before_hash = post.text, post.content_hash()
    post.text = _clean_text(text, post.account)
    post.media = _clean_media(post.media if media is None else media, post.account)
    if post.content_hash() == before_hash:
        return post
    was = post.state
    if was in (Post.State.PENDING, Post.State.APPROVED, Post.State.SCHEDULED):
        post.requests.filter(state=ApprovalRequest.State.OPEN).update(state=ApprovalRequest.State.VOID)
        post.approved_hash, post.approved_at, post.state = "", None, Post.State.PENDING
        post.save()
        _request_open(post=post, step=ApprovalRequest.Step.LEGAL, by=user, previous_text=before_text)
    else:
        post.state = Post.State.DRAFT
        post.save()
    audit.record(actor=user, action="post.edit", obj=post, details={"was": was, "approval_voided": was != post.state})
    return post


@transaction.atomic
def post_schedule(*, post_id: int, user, publish_at: datetime, firing: bool = False) -> Post:
    """Move the time: the approval stays, because the content did not change. A playbook
    variant gets a time only when a producer fires it (`firing`), never from a calendar."""
    post = Post.objects.select_for_update().get(id=post_id)
    if post.fire_only and not firing:
        raise Conflict("This is a playbook variant: it goes out when a producer fires it on the event's live page.")
    if user.id != post.author_id and not roles.has_role(user, {roles.LEAD, roles.PRODUCER, roles.ADMIN}):
        raise Forbidden("Only the author, a producer or the lead can move this post.")
    _not_past(publish_at)
    if post.state not in (Post.State.DRAFT, Post.State.PENDING, Post.State.APPROVED, Post.State.SCHEDULED):
        raise Conflict(f"This post is {post.get_state_display().lower()}; its time can no longer change.")
    post.publish_at, post.publish_on_approval, post.enqueued_at = publish_at, False, None
    if post.state == Post.State.APPROVED and post.approved_hash == post.content_hash():
        post.state = Post.State.SCHEDULED
    post.last_error = ""
    post.save()
    audit.record(actor=user, action="post.schedule", obj=post, details={"publish_at": publish_at.isoformat()})
    _publish_event("post.scheduled", post, f"Scheduled for {publish_at:%Y-%m-%d %H:%M} UTC: {post.text[:100]}", user)
    return post


@transaction.atomic
def holding_fire(*, post_id: int, user) -> Post:
    """Send a holding statement now, even while the queue is paused for everything else:
    only one legal cleared for this exact text (the Yes is checked again when it leaves)."""
    if not roles.has_role(user, {roles.LEAD, roles.PRODUCER, roles.ADMIN}):
        raise Forbidden("Only the lead, a producer or an admin can fire a holding statement.")
    post = Post.objects.select_for_update().filter(id=post_id, holding=True).first()
    if post is None:
        raise InvalidInput("No such holding statement.")
    if post.state in (Post.State.SCHEDULED, Post.State.PUBLISHING, Post.State.PUBLISHED):
        raise Conflict(f"Already fired: this holding statement is {post.get_state_display().lower()}.")
    if post.state != Post.State.APPROVED or post.approved_hash != post.content_hash():
        raise Conflict("Not fired: legal has not cleared this exact text "
                       f"(it is {post.get_state_display().lower()}).")
    post_schedule(post_id=post.id, user=user, publish_at=timezone.now(), firing=True)
    audit.record(actor=user, action="holding.fire", obj=post, details={"content_hash": post.approved_hash})
    from . import tasks  # tasks imports this module: at call time, not at import time
    tasks.post_publish.delay_on_commit(post.id)
    return Post.objects.get(id=post.id)


# --- Approve away from the desk ----------------------------------------------------------

LINK_SALT = "approvals.away-link"


class LinkRefused(WarroomError):
    """A link that may not answer (unknown, someone else's, used, expired, for an older
    version): the message says why and what to do instead; the refusal is audited."""

    def __init__(self, message: str, *, why: str, status: int):
        super().__init__(message)
        self.why, self.status = why, status


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def may_answer(*, request_id: int, user) -> bool:
    """Whether this user may answer this open request now (the same rules as the room)."""
    request = ApprovalRequest.objects.filter(id=request_id).select_related("post").first()
    if request is None:
        return False
    try:
        return _answerable(request.post, user).id == request.id
    except WarroomError:
        return False


@transaction.atomic
def approval_link_issue(*, request_id: int, user) -> tuple[ApprovalLink, str]:
    """A signed, single-use link for this approver to answer this request from a phone,
    bound to the post's exact content now and good for APPROVAL_LINK_MINUTES. Returns the
    link and its token: the token is only ever in the notice, the table keeps its hash."""
    request = ApprovalRequest.objects.select_related("post").filter(id=request_id).first()
    if request is None:
        raise InvalidInput("No such approval request.")
    post = Post.objects.select_for_update().get(id=request.post_id)
    if _answerable(post, user).id != request.id:  # the author, the wrong role, an answered request: refused here too
        raise Conflict("This request is no longer the one waiting for an answer.")
    token = signing.Signer(salt=LINK_SALT).sign(secrets.token_urlsafe(32))
    now = timezone.now()
    link = ApprovalLink.objects.create(token_hash=_token_hash(token), request=request, user=user,
                                       content_hash=post.content_hash(), created_at=now,
                                       expires_at=now + timedelta(minutes=settings.APPROVAL_LINK_MINUTES))
    audit.record(actor=user, action="approval_link.issue", obj=post,
                 details={"link": link.id, "request": request.id, "content_hash": link.content_hash,
                          "expires_at": link.expires_at.isoformat()})
    return link, token


def _link_find(token: str, *, lock: bool = False) -> ApprovalLink | None:
    try:
        signing.Signer(salt=LINK_SALT).unsign(token or "")
    except signing.BadSignature:
        return None
    links = ApprovalLink.objects.select_related("request__post__account", "request__post__author", "user")
    if lock:
        links = links.select_for_update(of=("self",))
    return links.filter(token_hash=_token_hash(token)).first()


def _link_refusal(link: ApprovalLink | None, user) -> LinkRefused | None:
    """Why this link may not answer for this user now, or None."""
    if link is None:
        return LinkRefused("This link is not one Warroom sent, or it was cut short: open the request in the room's "
                           "Approvals page.", why="unknown", status=404)
    if link.user_id != user.id:
        return LinkRefused(f"This link was sent to {_name(link.user)}, not to you: it answers only for them. "
                           "Answer in the room's Approvals page if the request waits for you.", why="wrong user",
                           status=403)
    if link.used_at is not None:
        return LinkRefused(f"This link was used already, at {link.used_at:%H:%M} UTC ({link.get_outcome_display()}): "
                           "each link answers once.", why="used", status=409)
    if link.expires_at <= timezone.now():
        return LinkRefused(f"This link expired at {link.expires_at:%H:%M} UTC: answer in the room's Approvals page.",
                           why="expired", status=410)
    request, post = link.request, link.request.post
    if request.state == ApprovalRequest.State.VOID or post.content_hash() != link.content_hash:
        return LinkRefused("The post was edited since this link was sent, so it no longer answers for it: the new "
                           "version waits in the room's Approvals page.", why="edited", status=409)
    try:
        if _answerable(post, user).id != request.id:
            raise Conflict("This request is no longer the one waiting for an answer.")
    except WarroomError as error:
        return LinkRefused(str(error), why="not answerable", status=error.status)
    return None


def _link_refuse(refusal: LinkRefused, *, link: ApprovalLink | None, user) -> LinkRefused:
    """Audit a refusal in its own transaction (it must survive the refusal) and return it to raise."""
    with transaction.atomic():
        audit.record(actor=user, action="approval_link.refuse", obj=link.request.post if link else None,
                     details={"why": refusal.why, "link": link.id if link else None,
                              "request": link.request_id if link else None,
                              "sent_to": link.user.get_username() if link else ""})
    return refusal


def approval_link_open(*, token: str, user) -> ApprovalLink:
    """The link as its page shows it; a link that may not answer is refused and audited."""
    link = _link_find(token)
    refusal = _link_refusal(link, user)
    if refusal is not None:
        raise _link_refuse(refusal, link=link, user=user)
    return link


def approval_link_answer(*, token: str, user, answer: str, reason: str = "") -> Post:
    """Yes or No (with a reason) from a link, once: for the exact content it was sent for,
    through the same services (and rules) as an answer given in the room."""
    if answer not in ("approve", "reject"):
        raise InvalidInput("Answer Yes or No.")
    link = None
    try:
        with transaction.atomic():
            link = _link_find(token, lock=True)
            refusal = _link_refusal(link, user)
            if refusal is None:
                if answer == "approve":
                    post = post_approve(post_id=link.request.post_id, user=user, content_hash=link.content_hash)
                else:
                    post = post_reject(post_id=link.request.post_id, user=user, reason=reason,
                                       content_hash=link.content_hash)
                link.used_at = timezone.now()
                link.outcome = ApprovalLink.Outcome.APPROVED if answer == "approve" else ApprovalLink.Outcome.REJECTED
                link.save(update_fields=["used_at", "outcome"])
                audit.record(actor=user, action="approval_link.use", obj=post,
                             details={"link": link.id, "request": link.request_id, "answer": link.outcome})
                return post
    except (Forbidden, Conflict) as error:  # answered in the room meanwhile, a role lost: the room's own refusal
        refusal = LinkRefused(str(error), why="not answerable", status=error.status)
    raise _link_refuse(refusal, link=link, user=user)


# --- Publishing --------------------------------------------------------------------------

ENQUEUED_FOR = timedelta(seconds=30)


def _due(now: datetime):
    posts = Post.objects.filter(state=Post.State.SCHEDULED, publish_at__lte=now)
    if _queue_row().paused:  # only a fired holding statement leaves a paused queue (a lost task is found again)
        posts = posts.filter(holding=True)
    return posts.exclude(retry_at__gt=now)


def posts_due(*, now: datetime | None = None, limit: int = 500) -> list[int]:
    now = now or timezone.now()
    return list(_due(now).order_by("publish_at", "id").values_list("id", flat=True)[:limit])


PUBLISH_BATCH = 25  # due posts one task claims and then publishes one after the other


def posts_due_unclaimed(*, now: datetime | None = None, limit: int = 500) -> int:
    """How many due posts no task has claimed in the last ENQUEUED_FOR (up to `limit`):
    beat sends one batch task per PUBLISH_BATCH of them."""
    now = now or timezone.now()
    return _due(now).exclude(enqueued_at__gt=now - ENQUEUED_FOR)[:limit].count()


@transaction.atomic
def posts_due_claim(*, now: datetime | None = None, limit: int = 500) -> list[int]:
    """Claim due posts for the task that asks (SELECT ... FOR UPDATE SKIP LOCKED LIMIT n):
    each is marked as taken, so no other task claims it for ENQUEUED_FOR (a task that dies
    leaves the posts it had not reached to be claimed again after that)."""
    now = now or timezone.now()
    due = _due(now).exclude(enqueued_at__gt=now - ENQUEUED_FOR)
    ids = list(due.select_for_update(skip_locked=True).order_by("publish_at", "id").values_list("id", flat=True)[:limit])
    Post.objects.filter(id__in=ids).update(enqueued_at=now)
    return ids


def account_channel(account: Account) -> Channel:
    """The account as its network's module needs it (networks/base.py)."""
    return Channel(network=account.platform, handle=account.handle, instance_url=account.instance_url,
                   secret=account.secret, sandbox=account.sandbox, client_id=account.client_id,
                   client_secret=account.client_secret, community=account.community)


def channel_guard(channel: Channel) -> None:
    """The SSRF guard (warroom/netguard.py) on the server a person typed for this account,
    when its network's module will connect there; PermanentError saying why it may not."""
    url = registry.module(channel.network).guarded_url(channel)
    if url:
        try:
            netguard.check_url(url)
        except netguard.NotPublic as error:
            raise PermanentError(f"The account's server {url[:100]} is refused: {error}") from error


def posts_publish_batch(*, limit: int = PUBLISH_BATCH, now: datetime | None = None) -> dict[str, int]:
    """One task's share of the due posts: claim up to `limit` at once, then publish them one
    at a time, each through `post_publish` (its own two transactions: the pause check and
    the call under the queue row lock, so a worker killed mid-batch leaves only the post in
    flight PUBLISHING, for the sweep to move to needs-check). A pause met mid-batch hands
    the rest back at once. `now` moves the claim's clock only (tests). Returns outcome counts."""
    ids = posts_due_claim(now=now, limit=limit)
    outcomes: dict[str, int] = {}
    for index, post_id in enumerate(ids):
        outcome = post_publish(post_id=post_id)
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
        if outcome == "held":  # paused: beat finds the rest again after the resume
            rest = ids[index + 1:]
            Post.objects.filter(id__in=rest, state=Post.State.SCHEDULED).update(enqueued_at=None)
            outcomes["handed back"] = len(rest)
            break
    return outcomes


def _publisher(post: Post) -> Callable[[], str]:
    """One publish of the post on its account's network (networks/registry.py), returning
    the network's id for it: its media (their bytes checked against the approved hashes
    first) go with it. A follow-up replies to our own post, whose id is known only once
    that went out."""
    parent = post.reply_to_post.platform_id if post.reply_to_post_id else ""

    def publish() -> str:
        channel = account_channel(post.account)
        network = registry.module(channel.network)
        channel_guard(channel)
        if post.reply_to_post_id and not parent:  # a thread's link before it is not out yet
            raise TransientError("The post this follows up is not published yet; trying again shortly.")
        if post.repost:
            if not hasattr(network, "repost"):
                raise PermanentError(f"{registry.LABELS.get(channel.network, channel.network)} takes no reposts: "
                                     "make this follow-up a reply instead.")
            return network.repost(channel, parent).id
        files = _media_files(post)
        return network.publish(channel, post.text, reply_to=post.in_reply_to or parent or None, media=files).id
    return publish


def post_publish(*, post_id: int) -> str:
    """Publish one due post, at most once. Safe to run twice and from many workers."""
    now = timezone.now()
    try:
        begun = _publish_begin(post_id, now)
    except OperationalError as error:
        if isinstance(error.__cause__, LockNotAvailable):  # another task holds the post, publishing it
            return "busy"
        raise
    return begun if isinstance(begun, str) else _publish_send(post_id, begun)


POST_LOCK_WAIT = "3s"  # a claim that read the post's row in passing holds it only until it commits


@transaction.atomic
def _publish_begin(post_id: int, now: datetime) -> str | PublishAttempt:
    """The first of post_publish's transactions: take the post if it is due and approved
    and mark it PUBLISHING. Waits briefly for its row (a concurrent claim that rechecked
    it keeps its lock until it commits): skipping a locked row here would leave a claimed
    post unsent until its claim expired."""
    with connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL lock_timeout = '{POST_LOCK_WAIT}'")
    post = Post.objects.select_for_update().filter(id=post_id).first()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL lock_timeout TO DEFAULT")
    if post is None:
        return "gone"
    if post.state != Post.State.SCHEDULED or post.publish_at is None or post.publish_at > now:
        return "not due"
    if post.retry_at and post.retry_at > now:
        return "not due"
    if post.approved_hash != post.content_hash():
        post.state, post.last_error = Post.State.PENDING, "The approval does not match this text."
        post.save()
        return "not approved"
    attempt = PublishAttempt.objects.create(post=post)
    post.state, post.attempts = Post.State.PUBLISHING, post.attempts + 1
    post.save(update_fields=["state", "attempts", "updated_at"])
    return attempt


def _publish_send(post_id: int, attempt: PublishAttempt) -> str:
    """The second: under the switch's shared lock, hold the post if the queue is paused, or
    send it and record what the network answered."""
    with transaction.atomic():
        queue = _queue_row(lock="share")
        post = Post.objects.select_for_update().get(id=post_id)
        if post.state != Post.State.PUBLISHING:
            return "swept"
        finished = timezone.now()  # `attempt` is as the first transaction left it: a sweep would have moved the post
        if queue.paused and not post.holding:  # a holding statement is what a paused room may say
            post.state, post.enqueued_at = Post.State.SCHEDULED, None
            post.save(update_fields=["state", "enqueued_at", "updated_at"])
            _finish(attempt, PublishAttempt.Outcome.HELD, finished)
            return "held"
        if post.publish_at < finished - LATE_GRACE:
            post.state, post.last_error = Post.State.APPROVED, f"Missed its slot at {post.publish_at:%H:%M} UTC: pick a new time."
            post.save()
            _finish(attempt, PublishAttempt.Outcome.HELD, finished, post.last_error)
            _publish_event("post.held", post, f"Missed its slot, not sent late: {post.text[:100]}")
            return "missed"
        try:
            platform_id = _publisher(post)()
        except PublishOutcomeUnknown as error:
            post.state, post.last_error = Post.State.NEEDS_CHECK, str(error)[:500]
            post.save()
            _finish(attempt, PublishAttempt.Outcome.UNKNOWN, timezone.now(), str(error))
            _account_health(post, at=attempt.finished_at, error=str(error))
            audit.record(actor=None, action="post.needs_check", obj=post, details={"error": str(error)[:500]})
            _publish_event("post.needs_check", post, f"May have been published; check the account: {post.text[:100]}")
            return "needs check"
        except RateLimited as error:  # X created nothing: wait for its reset, then try again
            post.state, post.last_error, post.enqueued_at = Post.State.SCHEDULED, str(error)[:500], None
            post.retry_at = max(error.reset_at, timezone.now() + timedelta(seconds=5))
            post.save()
            _finish(attempt, PublishAttempt.Outcome.RETRY, timezone.now(), str(error))
            _account_health(post, at=attempt.finished_at, error=str(error), rate_limited_until=error.reset_at)
            return "retry"
        except TransientError as error:
            delay = min(timedelta(seconds=5 * 2 ** min(post.attempts, 7)), MAX_BACKOFF)
            post.state, post.retry_at, post.last_error = Post.State.SCHEDULED, timezone.now() + delay, str(error)[:500]
            post.enqueued_at = None
            post.save()
            _finish(attempt, PublishAttempt.Outcome.RETRY, timezone.now(), str(error))
            _account_health(post, at=attempt.finished_at, error=str(error))
            return "retry"
        except PermanentError as error:
            post.state, post.last_error = Post.State.FAILED, str(error)[:500]
            post.save()
            _finish(attempt, PublishAttempt.Outcome.FAILED, timezone.now(), str(error))
            _account_health(post, at=attempt.finished_at, error=str(error))
            audit.record(actor=None, action="post.fail", obj=post, details={"error": str(error)[:500]})
            _publish_event("post.failed", post, f"Failed: {post.text[:100]} — {error}")
            post_outcome(post=post)
            return "failed"
        post.state, post.platform_id, post.published_at, post.last_error = Post.State.PUBLISHED, platform_id, timezone.now(), ""
        post.save(update_fields=["state", "platform_id", "published_at", "last_error", "updated_at"])
        _finish(attempt, PublishAttempt.Outcome.ACCEPTED, post.published_at, platform_id=platform_id)
        _account_health(post, at=post.published_at)
        audit.record(actor=None, action="post.publish", obj=post, details={"platform_id": platform_id})
        _publish_event("post.published", post, f"Published: {post.text[:120]}", platform_id=platform_id)
        post_outcome(post=post)
        return "published"


# A post's fate is final (post): rejected, failed or published, inside that transaction:
# room.flows.publishing.post_outcome (a reply's case learns it).
post_outcome = Hook("approvals.post_outcome")


def _finish(attempt: PublishAttempt, outcome: str, at: datetime, error: str = "", platform_id: str = "") -> None:
    attempt.outcome, attempt.finished_at, attempt.error, attempt.platform_id = outcome, at, error[:500], platform_id
    attempt.save(update_fields=["outcome", "finished_at", "error", "platform_id"])


def publishing_sweep(*, now: datetime | None = None) -> list[int]:
    """Posts a dead worker left PUBLISHING: the platform may have accepted them, so they
    go to NEEDS_CHECK for the lead, never back into the queue."""
    now = now or timezone.now()
    swept = []
    with transaction.atomic():
        stuck = Post.objects.select_for_update(skip_locked=True).filter(
            state=Post.State.PUBLISHING, updated_at__lt=now - STUCK_AFTER)
        for post in stuck:
            post.state = Post.State.NEEDS_CHECK
            post.last_error = "The worker publishing it stopped; X may have accepted it. Check the account."
            post.save()
            post.attempts_made.filter(outcome="").update(outcome=PublishAttempt.Outcome.UNKNOWN, finished_at=now)
            audit.record(actor=None, action="post.needs_check", obj=post, details={"why": "worker stopped"})
            _publish_event("post.needs_check", post, f"May have been published; check the account: {post.text[:100]}")
            swept.append(post.id)
    return swept


@transaction.atomic
def post_resolve_check(*, post_id: int, user, published: bool, platform_id: str = "") -> Post:
    """The lead looked at the account: it went out (with its id), or it did not (it waits for a new time)."""
    if not roles.has_role(user, {roles.LEAD}):
        raise Forbidden("Only the lead resolves posts that need a check.")
    post = Post.objects.select_for_update().get(id=post_id)
    if post.state != Post.State.NEEDS_CHECK:
        raise Conflict(f"This post is {post.get_state_display().lower()}, not waiting for a check.")
    if published:
        post.state, post.platform_id, post.published_at = Post.State.PUBLISHED, platform_id[:128], timezone.now()
    else:
        post.state, post.publish_at = Post.State.APPROVED, None
    post.last_error = ""
    post.save()
    audit.record(actor=user, action="post.resolve_check", obj=post, details={"published": published, "platform_id": platform_id})
    _publish_event("post.checked", post, f"Checked by the lead: {'published' if published else 'not published'}", user)
    if published:
        post_outcome(post=post)
    return post


def approval_deadlines_check(*, now: datetime | None = None) -> list[int]:
    """Requests still open when their post is due go to the account's backup approver,
    and the author is told; the post itself waits (it never goes out late by default)."""
    now = now or timezone.now()
    escalated = []
    with transaction.atomic():
        late = ApprovalRequest.objects.select_for_update(skip_locked=True).select_related("post__account").filter(
            state=ApprovalRequest.State.OPEN, due_at__lte=now, escalated_at__isnull=True)
        for request in late:
            backup, routed = _backup_for(request)
            request.escalated_at, request.escalated_to = now, backup
            request.save()
            audit.record(actor=None, action="approval.escalate", obj=request.post,
                         details={"request": request.id, "to": backup.get_username() if backup else "", "routed": routed})
            audience = [live.user_group(request.post.author_id), *APPROVERS_AUDIENCE]
            if backup:
                audience.append(live.user_group(backup.id))
            live.publish("approval.escalated", audience=audience,
                         summary=f"No answer by its time; {routed}: "
                                 f"{request.post.text[:100]}", post_id=request.post_id)
            escalated.append(request.id)
    return escalated
