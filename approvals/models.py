"""Approvals: the brand's accounts, posts and their state machine, legal's Yes/No bound
to the exact content, publish attempts, and the one switch that pauses everything."""

import hashlib
import json

from django.conf import settings
from django.db import models
from django.utils import timezone


class Account(models.Model):
    """A brand account posts go out on, on one network (networks/registry.py: X, Mastodon,
    Bluesky, Reddit). `instance_url` is the server it lives on (a Mastodon instance, a
    Bluesky PDS) and `secret` its credential (a Mastodon access token, a Bluesky app
    password, a Reddit password); X's credentials come from the environment. A Reddit
    account also names its script app (`client_id`, `client_secret`) and the subreddit it
    posts to (`community`; empty: its profile)."""

    name = models.CharField(max_length=120)
    platform = models.CharField(max_length=20, default="x", help_text="the network: x, mastodon, bluesky, reddit")
    handle = models.CharField(max_length=100)
    instance_url = models.CharField(max_length=300, blank=True, help_text="Mastodon instance or Bluesky PDS")
    secret = models.CharField(max_length=500, blank=True,
                              help_text="access token, app password or password; never shown")
    client_id = models.CharField(max_length=64, blank=True, help_text="Reddit: the script app's client id")
    client_secret = models.CharField(max_length=200, blank=True, help_text="Reddit: the script app's secret; never shown")
    community = models.CharField(max_length=40, blank=True, help_text="Reddit: the subreddit posts go to")
    time_zone = models.CharField(max_length=64, default="UTC")
    lead_must_approve = models.BooleanField(default=False, help_text="legal, then the brand lead")
    backup_approver = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    sandbox = models.BooleanField(default=False, help_text="drills publish here, never to a real account")
    require_alt_text = models.BooleanField(default=True, help_text="every image or video posted here needs alt text")
    # Health, as publishing last found it (approvals.services.post_publish), like a source's.
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    rate_limited_until = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.name} (@{self.handle})"

    @property
    def network_label(self) -> str:
        from networks import registry

        return registry.LABELS.get(self.platform, self.platform)

    def post_url(self, platform_id: str) -> str:
        """Where a person sees one of this account's posts, as its network's module says."""
        from networks import registry
        from networks.base import Channel

        if not platform_id or self.platform not in registry.MODULES:
            return ""
        channel = Channel(network=self.platform, handle=self.handle, instance_url=self.instance_url,
                          community=self.community)
        return registry.module(self.platform).post_url(channel, platform_id)


class MediaAsset(models.Model):
    """A file stored once under its SHA-256 (approvals/media.py), and the content library's
    entry for it: what event and use it is for, and who cleared it."""

    sha256 = models.CharField(max_length=64, unique=True)
    file = models.FileField(max_length=200)
    content_type = models.CharField(max_length=40)
    size = models.BigIntegerField()
    width = models.PositiveIntegerField(default=0)
    height = models.PositiveIntegerField(default=0)
    duration = models.FloatField(default=0.0, help_text="seconds, for a video")
    frames = models.PositiveIntegerField(default=1)
    title = models.CharField(max_length=200, blank=True)
    event_tag = models.CharField(max_length=100, blank=True, db_index=True, help_text="the event it was made for")
    use_tag = models.CharField(max_length=100, blank=True, help_text="what it is for: blackout, win, apology…")
    default_alt_text = models.CharField(max_length=2000, blank=True)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    cleared_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    cleared_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.title or f"{self.content_type} {self.sha256[:12]}"

    @property
    def kind(self) -> str:
        return self.content_type.split("/", 1)[1].upper()

    @property
    def is_video(self) -> bool:
        return self.content_type.startswith("video/")


class QueueState(models.Model):
    """The single row every publish locks: a pause that commits wins over any publish."""

    paused = models.BooleanField(default=False)
    reason = models.CharField(max_length=500, blank=True)
    paused_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    paused_at = models.DateTimeField(null=True, blank=True)
    auto_resume_at = models.DateTimeField(null=True, blank=True)
    resumed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.CheckConstraint(condition=models.Q(id=1), name="queue_state_single_row")]


class Post(models.Model):
    class State(models.TextChoices):
        DRAFT = "draft", "Draft"
        PENDING = "pending", "Waiting for approval"
        APPROVED = "approved", "Approved, needs a time"
        SCHEDULED = "scheduled", "Scheduled"
        PUBLISHING = "publishing", "Publishing"
        PUBLISHED = "published", "Published"
        REJECTED = "rejected", "Rejected"
        CANCELLED = "cancelled", "Cancelled"
        FAILED = "failed", "Failed"
        NEEDS_CHECK = "needs_check", "Needs a check"

    MAX_TEXT = 280

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="posts")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="posts")
    text = models.TextField()
    media = models.JSONField(default=list, blank=True)
    in_reply_to = models.CharField(max_length=128, blank=True, help_text="the platform id of the post replied to")
    reply_to_post = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                                      help_text="a reply to one of our own posts, whose id is known once it is out")
    repost = models.BooleanField(default=False, help_text="a repost of reply_to_post: no text of its own")
    state = models.CharField(max_length=20, choices=State.choices, default=State.DRAFT, db_index=True)
    publish_at = models.DateTimeField(null=True, blank=True, db_index=True)
    publish_on_approval = models.BooleanField(default=False, help_text="publish now: the moment the last Yes lands")
    holding = models.BooleanField(default=False, help_text="a holding statement: it may go out while the queue is paused, fired in a crisis")
    fire_only = models.BooleanField(default=False, help_text="a playbook variant: it goes out when a producer fires it, never on a schedule")
    checklist = models.JSONField(default=dict, blank=True)
    lint_override = models.CharField(max_length=500, blank=True)
    approved_hash = models.CharField(max_length=64, blank=True)
    approved_at = models.DateTimeField(null=True, blank=True)
    retry_at = models.DateTimeField(null=True, blank=True)
    enqueued_at = models.DateTimeField(null=True, blank=True, help_text="handed to a worker; not enqueued again for a while")
    attempts = models.PositiveIntegerField(default=0)
    platform_id = models.CharField(max_length=128, blank=True)
    published_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["state", "publish_at"], name="post_due")]

    def __str__(self) -> str:
        return f"#{self.id} {self.text[:60]}"

    @property
    def platform_url(self) -> str:
        return self.account.post_url(self.platform_id)

    def media_links(self) -> list[str]:
        """Plain URLs given as media before uploads existed: shown to legal as links, never sent."""
        return [m for m in self.media if isinstance(m, str)]

    def media_items(self) -> list[dict]:
        """The attached files, in order: {"sha256", "alt"} each (older posts may also hold
        plain URLs from before uploads; those are links, not files, and are not sent)."""
        return [m for m in self.media if isinstance(m, dict) and isinstance(m.get("sha256"), str)]

    def content_hash(self) -> str:
        """What an approval is bound to: the account, the text, the reply target and the
        media, each file by the SHA-256 of its bytes with its alt text."""
        parts = [self.account_id, self.text, self.in_reply_to, self.media]
        if self.reply_to_post_id:  # a follow-up: legal cleared it as a reply to that post
            parts.append(self.reply_to_post_id)
        if self.repost:  # legal cleared a repost of that post (it has no text to bind)
            parts.append("repost")
        content = json.dumps(parts, ensure_ascii=False, sort_keys=True)
        return hashlib.sha256(content.encode()).hexdigest()


class ApprovalRequest(models.Model):
    """One step of a post's approval (legal, then the lead where the account asks for it)."""

    class Step(models.TextChoices):
        LEGAL = "legal", "Legal"
        LEAD = "lead", "Brand lead"

    class State(models.TextChoices):
        OPEN = "open", "Waiting"
        APPROVED = "approved", "Yes"
        REJECTED = "rejected", "No"
        VOID = "void", "Voided by an edit"

    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="requests")
    step = models.CharField(max_length=10, choices=Step.choices, default=Step.LEGAL)
    state = models.CharField(max_length=10, choices=State.choices, default=State.OPEN, db_index=True)
    content_hash = models.CharField(max_length=64)
    previous_text = models.TextField(blank=True, help_text="the text legal saw before an edit, for the diff")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    due_at = models.DateTimeField(null=True, blank=True)
    escalated_to = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    escalated_at = models.DateTimeField(null=True, blank=True)
    answered_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    answered_at = models.DateTimeField(null=True, blank=True)
    reason = models.CharField(max_length=1000, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["post"], condition=models.Q(state="open"), name="one_open_request_per_post")
        ]


class PublishAttempt(models.Model):
    class Outcome(models.TextChoices):
        ACCEPTED = "accepted", "Accepted by the platform"
        HELD = "held", "Held by the pause"
        RETRY = "retry", "Not sent; will retry"
        FAILED = "failed", "Refused"
        UNKNOWN = "unknown", "Unknown: may have been accepted"

    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="attempts_made")
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=10, choices=Outcome.choices, blank=True)
    platform_id = models.CharField(max_length=128, blank=True)
    error = models.CharField(max_length=500, blank=True)


class ApprovalLink(models.Model):
    """A signed, single-use link an approver on deck answers one request from, away from
    the desk. Only a SHA-256 of the token is stored; the link is bound to the request, to
    the person it was sent to and to the exact content hash of the post they were shown."""

    class Outcome(models.TextChoices):
        APPROVED = "approved", "Yes"
        REJECTED = "rejected", "No"

    token_hash = models.CharField(max_length=64, unique=True)
    request = models.ForeignKey(ApprovalRequest, on_delete=models.CASCADE, related_name="links")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    content_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=10, choices=Outcome.choices, blank=True)

    def __str__(self) -> str:
        return f"link #{self.id} for request #{self.request_id} to user #{self.user_id}"


class Tracked(models.Model):
    """A post that went out (a published post, or a drill's post on the sandbox account)
    whose engagement the room follows on a schedule that decays with its age. The latest
    counts are rolled up here for the pages; the series is EngagementSample."""

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="+")
    post = models.ForeignKey(Post, null=True, blank=True, on_delete=models.CASCADE, related_name="tracked")
    platform = models.CharField(max_length=20, default="x")
    platform_id = models.CharField(max_length=128)
    sandbox = models.BooleanField(default=False)
    published_at = models.DateTimeField()
    next_read_at = models.DateTimeField(null=True, blank=True, db_index=True, help_text="empty: no more reads")
    last_read_at = models.DateTimeField(null=True, blank=True)
    reads = models.PositiveIntegerField(default=0)
    likes = models.PositiveIntegerField(default=0)
    reposts = models.PositiveIntegerField(default=0)
    replies = models.PositiveIntegerField(default=0)
    quotes = models.PositiveIntegerField(default=0)
    impressions = models.PositiveIntegerField(null=True, blank=True)
    clicks = models.PositiveIntegerField(default=0, help_text="clicks on the room's own short links")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["platform", "platform_id"], name="tracked_once_per_platform_id")]

    def __str__(self) -> str:
        return f"{self.platform}:{self.platform_id}"


class EngagementSample(models.Model):
    """One reading of a tracked post's counts: appended, never overwritten."""

    tracked = models.ForeignKey(Tracked, on_delete=models.CASCADE, related_name="samples")
    at = models.DateTimeField()
    likes = models.PositiveIntegerField(default=0)
    reposts = models.PositiveIntegerField(default=0)
    replies = models.PositiveIntegerField(default=0)
    quotes = models.PositiveIntegerField(default=0)
    impressions = models.PositiveIntegerField(null=True, blank=True)
    clicks = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["tracked", "at"], name="sample_series")]


class ShortLink(models.Model):
    """The room's own redirect (`/l/<code>`) for a URL in a post, with UTM tags set per
    account and event; clicks by people (not bots, not HEAD) are counted."""

    code = models.CharField(max_length=16, unique=True)
    target = models.URLField(max_length=2000, help_text="the URL with its UTM tags")
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="+")
    post = models.ForeignKey(Post, null=True, blank=True, on_delete=models.SET_NULL, related_name="short_links")
    campaign = models.CharField(max_length=120, blank=True, help_text="utm_campaign: the event")
    clicks = models.PositiveIntegerField(default=0)
    bot_hits = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)


class FollowUp(models.Model):
    """Ride the wave: `post` is a pre-approved follow-up to one of our own posts (`parent`,
    the post whose engagement it watches), cleared by legal for its exact content like any
    post, that fires once when the parent passes `likes` likes within `within_minutes` of
    going out, and only while the queue is not paused. Its kind says what it is: a reply
    to the parent, a thread (a reply to the follow-up before it in the parent's chain:
    `post.reply_to_post`), or a repost of the parent (no text; legal's Yes binds the
    target post)."""

    class Kind(models.TextChoices):
        REPLY = "reply", "Reply to it"
        THREAD = "thread", "Continue the thread"
        REPOST = "repost", "Repost it"

    post = models.OneToOneField(Post, on_delete=models.PROTECT, related_name="follow_up")
    parent = models.ForeignKey(Post, null=True, on_delete=models.PROTECT, related_name="follow_ups_watching",
                               help_text="the post whose engagement fires it (empty on rows from before kinds: "
                                         "post.reply_to_post)")
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.REPLY)
    likes = models.PositiveIntegerField()
    within_minutes = models.PositiveIntegerField(default=60)
    fired_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
