"""The project's own tables: the append-only audit log, the stored live events that
reconnecting browsers replay, and room announcements."""

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.db import models
from django.utils import timezone


class AuditEntry(models.Model):
    """One decision: who, when, what, on which object. PostgreSQL refuses UPDATE, DELETE and
    TRUNCATE on this table, and the app's database role holds only INSERT and SELECT on it.
    Each entry is chained to the one before: on insert, PostgreSQL gives it the next id and
    sets `prev_hash` and `hash` (SHA-256 of its content and `prev_hash`) under the live
    layer's ordering lock (migration 0004); `manage.py audit_verify` walks the chain."""

    at = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT)
    actor_name = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=80, db_index=True)
    object_type = models.CharField(max_length=80, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    object_repr = models.CharField(max_length=300, blank=True)
    details = models.JSONField(default=dict, blank=True)
    # Set by the database on insert, whatever the INSERT says (see the class docstring).
    prev_hash = models.CharField(max_length=64, default="", editable=False)
    hash = models.CharField(max_length=64, default="", editable=False)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["object_type", "object_id"])]
        verbose_name_plural = "audit entries"

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.actor_name or 'system'} {self.action} {self.object_repr}"


class LiveEvent(models.Model):
    """A change pushed to browsers. Ids come from a sequence and are allocated under a
    transaction-level advisory lock, so they are handed out in commit order."""

    kind = models.CharField(max_length=60)
    audience = ArrayField(models.CharField(max_length=80))
    payload = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    # The LiveGroup this event was counted into: the rail and the notices show the group once.
    group_id = models.BigIntegerField(null=True, blank=True, db_index=True)

    class Meta:
        indexes = [GinIndex(fields=["audience"])]

    def __str__(self) -> str:
        return f"#{self.id} {self.kind}"


class LiveGroup(models.Model):
    """Repeated events of one kind to one audience within `LIVE_GROUP_SECONDS` of the
    first: the room sees one rail item and one notice with their count ("12 cases breached
    their first-response target in the last minute"), re-rendered in place as it grows."""

    key = models.CharField(max_length=120)  # the kind and what makes two events alike
    kind = models.CharField(max_length=60)
    audience = ArrayField(models.CharField(max_length=80))
    one = models.CharField(max_length=200)  # "case breached its first-response target"
    many = models.CharField(max_length=200)  # "cases breached their first-response target"
    link = models.CharField(max_length=300, blank=True)  # the filtered list
    opened_at = models.DateTimeField(default=timezone.now)
    closes_at = models.DateTimeField()
    count = models.PositiveIntegerField(default=0)
    first_event_id = models.BigIntegerField(null=True)
    last_event_id = models.BigIntegerField(null=True)

    class Meta:
        indexes = [models.Index(fields=["key", "closes_at"])]

    def summary(self) -> str:
        return f"{self.count} {self.one if self.count == 1 else self.many}"


class Announcement(models.Model):
    """A message the lead sends to everyone in the room ("Blackout in the stadium: hold all posts")."""

    class Level(models.TextChoices):
        INFO = "info", "Info"
        URGENT = "urgent", "Urgent"

    MAX_LENGTH = 500

    text = models.CharField(max_length=MAX_LENGTH)
    level = models.CharField(max_length=10, choices=Level.choices, default=Level.INFO)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.CheckConstraint(condition=~models.Q(text=""), name="announcement_text_not_empty")]

    def __str__(self) -> str:
        return self.text[:60]
