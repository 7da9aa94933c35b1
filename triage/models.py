"""Triage: cases opened from mentions (one incident case per spike or crisis alert), with
priority, team, assignee, SLA timers that stop while waiting on the customer, notes and a
full history."""

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils import timezone


class Priority(models.TextChoices):
    P1 = "P1", "P1"
    P2 = "P2", "P2"
    P3 = "P3", "P3"
    P4 = "P4", "P4"


class Team(models.TextChoices):
    SOCIAL = "social", "Social"
    SUPPORT = "support", "Support"
    PR = "pr", "PR"
    LEGAL = "legal", "Legal"


class SlaPolicy(models.Model):
    """First-response and resolution targets for one priority."""

    priority = models.CharField(max_length=2, choices=Priority.choices, unique=True)
    first_response_minutes = models.PositiveIntegerField()
    resolution_minutes = models.PositiveIntegerField()

    def __str__(self) -> str:
        return f"{self.priority}: respond in {self.first_response_minutes} min, resolve in {self.resolution_minutes} min"


class Case(models.Model):
    class Status(models.TextChoices):
        NEW = "new", "New"
        OPEN = "open", "Open"
        WAITING = "waiting", "Waiting on the customer"
        ESCALATED = "escalated", "Escalated"
        RESOLVED = "resolved", "Resolved"

    title = models.CharField(max_length=300)
    mention = models.ForeignKey("listening.Mention", null=True, blank=True, on_delete=models.PROTECT, related_name="cases")
    alert = models.OneToOneField("listening.Alert", null=True, blank=True, on_delete=models.PROTECT, related_name="case")
    mentions = models.ManyToManyField("listening.Mention", blank=True, related_name="incident_cases")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.NEW, db_index=True)
    priority = models.CharField(max_length=2, choices=Priority.choices, default=Priority.P3)
    team = models.CharField(max_length=10, choices=Team.choices, default=Team.SOCIAL)
    assignee = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="cases")
    tags = ArrayField(models.CharField(max_length=40), default=list, blank=True)
    opened_at = models.DateTimeField(default=timezone.now)
    first_response_due = models.DateTimeField(null=True, blank=True, db_index=True)
    resolution_due = models.DateTimeField(null=True, blank=True)
    first_responded_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    waiting_since = models.DateTimeField(null=True, blank=True)
    first_response_breached_at = models.DateTimeField(null=True, blank=True)
    resolution_breached_at = models.DateTimeField(null=True, blank=True)
    version = models.PositiveIntegerField(default=1, help_text="bumped on every change: a reply names the version it answers")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["mention"], condition=models.Q(mention__isnull=False), name="one_case_per_mention"),
        ]
        indexes = [models.Index(fields=["status", "first_response_due"], name="case_queue")]

    def __str__(self) -> str:
        return f"#{self.id} {self.title[:60]}"


class CaseEvent(models.Model):
    """The case's history, shown on the case: opened, assigned, escalated, noted, replied, closed."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField(default=timezone.now)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=30)
    text = models.TextField(blank=True)
    post = models.ForeignKey("approvals.Post", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["at", "id"]
