"""Listening: sources the room polls or receives, the mentions they bring, the rules
that watch them, and the alerts those rules raise."""

import secrets

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.db import models
from django.utils import timezone


def new_token() -> str:
    return secrets.token_urlsafe(24)


class Source(models.Model):
    """A channel the room listens to: an X, Mastodon or Bluesky query or account, an RSS
    feed, a webhook, a demo replay. Mastodon and Bluesky sources name their server
    (`instance_url`: the instance, the PDS) and, where the network needs one, a login
    (`login`: the Bluesky handle) and credential (`secret`: an access token, an app password).
    Reddit sources name a subreddit (`community`), the script app (`client_id`,
    `client_secret`) and optionally its user (`login`, `secret`: the password)."""

    class Kind(models.TextChoices):
        X_SEARCH = "x_search", "X search"
        X_MENTIONS = "x_mentions", "X mentions of an account"
        MASTODON_TAG = "mastodon_tag", "Mastodon hashtag"
        MASTODON_MENTIONS = "mastodon_mentions", "Mastodon mentions of an account"
        MASTODON_SEARCH = "mastodon_search", "Mastodon search"
        BLUESKY_SEARCH = "bluesky_search", "Bluesky search"
        BLUESKY_MENTIONS = "bluesky_mentions", "Bluesky mentions of an account"
        REDDIT_SEARCH = "reddit_search", "Reddit subreddit search"
        REDDIT_COMMENTS = "reddit_comments", "Reddit new comments mentioning a term"
        RSS = "rss", "RSS / news feed"
        WEBHOOK = "webhook", "Signed webhook"
        DEMO = "demo", "Demo replay"

    POLLED = (Kind.X_SEARCH, Kind.X_MENTIONS, Kind.MASTODON_TAG, Kind.MASTODON_MENTIONS, Kind.MASTODON_SEARCH,
              Kind.BLUESKY_SEARCH, Kind.BLUESKY_MENTIONS, Kind.REDDIT_SEARCH, Kind.REDDIT_COMMENTS, Kind.RSS, Kind.DEMO)
    NETWORKS = ("x", "mastodon", "bluesky", "reddit")  # kinds named <network>_<what>: their mentions' platform

    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    query = models.CharField(max_length=512, blank=True, help_text="X query, account handle, or feed URL")
    poll_interval = models.PositiveIntegerField(default=60, help_text="seconds between polls")
    enabled = models.BooleanField(default=True)
    cursor = models.JSONField(default=dict, blank=True)

    next_poll_at = models.DateTimeField(default=timezone.now, db_index=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    last_polled_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    rate_limited_until = models.DateTimeField(null=True, blank=True)

    webhook_token = models.CharField(max_length=64, unique=True, default=new_token)
    webhook_secret = models.CharField(max_length=64, default=new_token)
    webhook_legacy = models.BooleanField(
        default=False, help_text="also accept the old signature of the body alone (no timestamp, so replayable)"
    )
    lease_token = models.CharField(max_length=32, blank=True)
    instance_url = models.CharField(max_length=300, blank=True, help_text="Mastodon instance or Bluesky PDS")
    login = models.CharField(max_length=253, blank=True, help_text="the Bluesky handle that logs in")
    secret = models.CharField(max_length=500, blank=True,
                              help_text="access token, app password or password; never shown")
    client_id = models.CharField(max_length=64, blank=True, help_text="Reddit: the script app's client id")
    client_secret = models.CharField(max_length=200, blank=True, help_text="Reddit: the script app's secret; never shown")
    community = models.CharField(max_length=40, blank=True, help_text="Reddit: the subreddit listened to")

    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.CheckConstraint(condition=models.Q(poll_interval__gte=5), name="source_poll_interval_min")]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_kind_display()})"

    @property
    def platform(self) -> str:
        network = self.kind.split("_", 1)[0]
        return network if network in self.NETWORKS else self.kind


class Mention(models.Model):
    """One post heard by the room. Deduplicated by (platform, external_id)."""

    MAX_TEXT = 10_000

    class Sentiment(models.TextChoices):
        NEGATIVE = "negative", "Negative"
        NEUTRAL = "neutral", "Neutral"
        POSITIVE = "positive", "Positive"

    source = models.ForeignKey(Source, on_delete=models.PROTECT, related_name="mentions")
    platform = models.CharField(max_length=20)
    external_id = models.CharField(max_length=128)
    url = models.CharField(max_length=1000, blank=True)
    author_handle = models.CharField(max_length=100, blank=True)
    author_name = models.CharField(max_length=200, blank=True)
    author_followers = models.BigIntegerField(default=0)
    text = models.TextField()
    truncated = models.BooleanField(default=False)
    lang = models.CharField(max_length=12, blank=True)
    sentiment = models.FloatField(default=0.0)
    sentiment_label = models.CharField(max_length=10, choices=Sentiment.choices, default=Sentiment.NEUTRAL)
    rule_ids = ArrayField(models.BigIntegerField(), default=list, blank=True)
    in_reply_to = models.CharField(max_length=128, blank=True)
    conversation_id = models.CharField(max_length=128, blank=True)
    posted_at = models.DateTimeField(db_index=True)
    received_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["platform", "external_id"], name="mention_platform_external_id")]
        indexes = [
            GinIndex(fields=["rule_ids"], name="mention_rule_ids"),
            models.Index(fields=["source", "-received_at"], name="mention_source_recent"),
            # Threads: a reply finds the open case of its conversation (triage).
            models.Index(fields=["conversation_id"], condition=~models.Q(conversation_id=""), name="mention_conversation"),
        ]

    def __str__(self) -> str:
        return f"@{self.author_handle}: {self.text[:60]}"


class AlertRule(models.Model):
    """A condition the lead sets on incoming mentions, and what to do when it matches."""

    class Kind(models.TextChoices):
        KEYWORD = "keyword", "Keyword query"
        SENTIMENT = "sentiment", "Negative sentiment"
        INFLUENCE = "influence", "Influential author"
        SPIKE = "spike", "Volume spike"
        CRISIS = "crisis", "Crisis terms"

    class Priority(models.TextChoices):
        P1 = "P1", "P1 — now"
        P2 = "P2", "P2 — within the hour"
        P3 = "P3", "P3 — today"
        P4 = "P4", "P4 — when possible"

    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.KEYWORD)
    query = models.CharField(max_length=1000, blank=True, help_text="boolean query: AND, OR, NOT, \"phrases\", ( )")
    sentiment_at_most = models.FloatField(null=True, blank=True, help_text="-1 (hostile) to 1 (glowing)")
    min_followers = models.BigIntegerField(null=True, blank=True)
    spike_window_minutes = models.PositiveIntegerField(default=5)
    spike_baseline_minutes = models.PositiveIntegerField(default=60)
    spike_factor = models.FloatField(default=3.0)
    spike_min_count = models.PositiveIntegerField(default=20)
    priority = models.CharField(max_length=2, choices=Priority.choices, default=Priority.P3)
    alert_room = models.BooleanField(default=True)
    open_case = models.BooleanField(default=False)
    pause_queue = models.BooleanField(default=False)
    declare_crisis = models.BooleanField(default=False, help_text="declare a crisis (room/flows/crisis.py) named after the rule")
    regroup_minutes = models.PositiveIntegerField(default=15, help_text="matches within this time join the open alert")
    enabled = models.BooleanField(default=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.name} ({self.get_kind_display()})"


class Alert(models.Model):
    """Raised by a rule; groups the mentions that matched while it was open."""

    class State(models.TextChoices):
        OPEN = "open", "Open"
        ACKNOWLEDGED = "acknowledged", "Acknowledged"

    rule = models.ForeignKey(AlertRule, on_delete=models.PROTECT, related_name="alerts")
    kind = models.CharField(max_length=20, choices=AlertRule.Kind.choices)
    priority = models.CharField(max_length=2, choices=AlertRule.Priority.choices)
    title = models.CharField(max_length=300)
    state = models.CharField(max_length=20, choices=State.choices, default=State.OPEN)
    opened_at = models.DateTimeField(default=timezone.now, db_index=True)
    last_match_at = models.DateTimeField(default=timezone.now)
    ended_at = models.DateTimeField(null=True, blank=True, help_text="a spike's end")
    mention_count = models.PositiveIntegerField(default=0)
    peak = models.PositiveIntegerField(default=0, help_text="a spike's highest count per window")
    baseline = models.FloatField(default=0.0)
    explanation = models.JSONField(
        default=dict, blank=True, help_text="a spike's terms, hashtags, authors, links and samples (listening/explain.py)"
    )
    mentions = models.ManyToManyField(Mention, related_name="alerts", blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["rule", "-opened_at"], name="alert_rule_recent")]

    def __str__(self) -> str:
        return f"{self.priority} {self.title}"


class ReadUsage(models.Model):
    """Posts read from a metered API (X) per source per day, and the engagement reads of
    what the room published (no source): the budget meter's ledger."""

    class Purpose(models.TextChoices):
        LISTENING = "listening", "Listening"
        ENGAGEMENT = "engagement", "Engagement of our posts"

    source = models.ForeignKey(Source, null=True, blank=True, on_delete=models.CASCADE, related_name="usage")
    purpose = models.CharField(max_length=12, choices=Purpose.choices, default=Purpose.LISTENING)
    day = models.DateField()
    reads = models.PositiveIntegerField(default=0)
    polls = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["source", "day"], name="read_usage_source_day"),
            models.UniqueConstraint(fields=["day"], condition=models.Q(source__isnull=True, purpose="engagement"),
                                    name="read_usage_engagement_day"),
            models.CheckConstraint(condition=models.Q(source__isnull=False) | models.Q(purpose="engagement"),
                                   name="read_usage_listening_has_source"),
        ]
