"""The Wall's own tables: per-minute mention rollups (kept in the ingest transaction),
per-person notification preferences and the ledger that sends each notice once, and the
story arcs the lead tracks (a query and its daily volume and sentiment)."""

from django.conf import settings
from django.db import models
from django.utils import timezone


class MentionMinute(models.Model):
    """Mentions posted in one minute from one source, by sentiment label. Charts read
    this, never the mention table: at millions of mentions the rollup stays small."""

    minute = models.DateTimeField()
    source_id = models.BigIntegerField()
    total = models.PositiveIntegerField(default=0)
    positive = models.PositiveIntegerField(default=0)
    neutral = models.PositiveIntegerField(default=0)
    negative = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["minute", "source_id"], name="mention_minute_key")]


class NotificationPreference(models.Model):
    """How one person wants to hear about the room when they are not in it."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_preference")
    on_deck = models.BooleanField(default=False, help_text="on call: notify me when I am not in the room")
    email = models.BooleanField(default=True)
    escalations = models.BooleanField(default=True, help_text="P1 cases escalated")
    breaches = models.BooleanField(default=True, help_text="SLA breaches")
    pauses = models.BooleanField(default=True, help_text="the outgoing queue paused")
    scenarios = models.BooleanField(default=True, help_text="a scenario fired")
    updated_at = models.DateTimeField(default=timezone.now)


class Notification(models.Model):
    """One notice about one live event to one person (or the Slack channel), claimed
    before it is sent: a retried task finds the claim and sends nothing twice."""

    class Channel(models.TextChoices):
        EMAIL = "email", "E-mail"
        SLACK = "slack", "Slack"

    key = models.CharField(max_length=100, unique=True)  # "<event id>:<channel>:<user id or room>"
    event_id = models.BigIntegerField(db_index=True)
    kind = models.CharField(max_length=60)
    channel = models.CharField(max_length=10, choices=Channel.choices)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    claimed_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)


class Topic(models.Model):
    """A story the lead follows over days: a query in listening's query language."""

    name = models.CharField(max_length=120)
    query = models.CharField(max_length=1000)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    since = models.DateField(help_text="the arc starts on this day")
    scanned_to_id = models.BigIntegerField(default=0, help_text="mentions up to this id are counted")
    enabled = models.BooleanField(default=True)

    def __str__(self) -> str:
        return self.name


class TopicDay(models.Model):
    topic = models.ForeignKey(Topic, on_delete=models.CASCADE, related_name="days")
    day = models.DateField()
    total = models.PositiveIntegerField(default=0)
    positive = models.PositiveIntegerField(default=0)
    neutral = models.PositiveIntegerField(default=0)
    negative = models.PositiveIntegerField(default=0)
    sentiment_sum = models.FloatField(default=0.0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["topic", "day"], name="topic_day_key")]
