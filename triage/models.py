"""Triage: cases opened from mentions (one incident case per spike or crisis alert), with
priority, team, assignee, SLA timers that stop while waiting on the customer, notes and a
full history."""

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from warroom import roles


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
    CRISIS = "crisis", "Crisis team"


# The role whose people work each team's cases (round-robin picks among them).
TEAM_ROLE = {Team.SOCIAL: roles.COMMUNITY_MANAGER, Team.SUPPORT: roles.COMMUNITY_MANAGER,
             Team.PR: roles.PRODUCER, Team.LEGAL: roles.LEGAL, Team.CRISIS: roles.LEAD}
# Minutes to a first response and to resolution where the lead set no SlaPolicy.
DEFAULT_SLA = {"P1": (15, 240), "P2": (60, 480), "P3": (240, 1440), "P4": (1440, 4320)}


class SlaPolicy(models.Model):
    """First-response and resolution targets for one priority."""

    priority = models.CharField(max_length=2, choices=Priority.choices, unique=True)
    first_response_minutes = models.PositiveIntegerField()
    resolution_minutes = models.PositiveIntegerField()

    def __str__(self) -> str:
        return f"{self.priority}: respond in {self.first_response_minutes} min, resolve in {self.resolution_minutes} min"


class TriageRule(models.Model):
    """The lead's routing: when a new mention meets every condition set here, it gets a
    case with this priority, team and tags, an owner (round-robin among the team's people
    in the room) and, if asked, an escalation. Rules are tried in `position` order; the
    first that matches decides."""

    class Assign(models.TextChoices):
        NOBODY = "nobody", "Nobody (the queue)"
        ROUND_ROBIN = "round_robin", "Round-robin among the team in the room"

    name = models.CharField(max_length=120)
    position = models.PositiveIntegerField(default=0, db_index=True)
    enabled = models.BooleanField(default=True)
    # Conditions: every one that is set must hold.
    alert_rule = models.ForeignKey("listening.AlertRule", null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="triage_rules", help_text="the mention matched this listening rule")
    query = models.CharField(max_length=1000, blank=True, help_text="keywords: AND, OR, NOT, \"phrases\", ( )")
    sentiment_at_most = models.FloatField(null=True, blank=True)
    min_followers = models.BigIntegerField(null=True, blank=True)
    languages = ArrayField(models.CharField(max_length=12), default=list, blank=True)
    # What happens.
    priority = models.CharField(max_length=2, choices=Priority.choices, default=Priority.P3)
    team = models.CharField(max_length=10, choices=Team.choices, default=Team.SOCIAL)
    tags = ArrayField(models.CharField(max_length=40), default=list, blank=True)
    assign = models.CharField(max_length=12, choices=Assign.choices, default=Assign.NOBODY)
    escalate_note = models.CharField(max_length=1000, blank=True, help_text="not empty: escalate to the team with this note")
    replies_need_legal = models.BooleanField(default=False)
    last_assignee = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                      related_name="+", help_text="where round-robin goes on from")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.name


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
    # An incident is one per alert rule while open: later alerts (spikes) of the rule join it
    # and are listed in `spikes` ({"alert", "at", "mentions", "title"}, oldest first).
    incident_rule = models.ForeignKey("listening.AlertRule", null=True, blank=True, on_delete=models.SET_NULL,
                                      related_name="incidents")
    spikes = models.JSONField(default=list, blank=True)
    reopened_count = models.PositiveIntegerField(default=0)
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
    rule = models.ForeignKey("TriageRule", null=True, blank=True, on_delete=models.SET_NULL, related_name="cases",
                             help_text="the triage rule that routed it")
    replies_need_legal = models.BooleanField(default=False, help_text="every reply waits for legal's Yes")
    # What the Queue sorts by: the first-response target until someone answered, then the
    # resolution target. Stored, so the open cases' index serves the sort at any size.
    due_at = models.GeneratedField(
        expression=models.Case(models.When(first_responded_at__isnull=True, then=F("first_response_due")),
                               default=F("resolution_due")),
        output_field=models.DateTimeField(), db_persist=True,
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["mention"], condition=models.Q(mention__isnull=False), name="one_case_per_mention"),
            models.UniqueConstraint(fields=["incident_rule"], condition=models.Q(incident_rule__isnull=False) & ~Q(status="resolved"),
                                    name="one_open_incident_per_rule"),
        ]
        indexes = [
            models.Index(fields=["status", "first_response_due"], name="case_queue"),
            models.Index(F("due_at").asc(nulls_last=True), "id", condition=~Q(status="resolved"), name="case_open_due"),
            # Covers what the KPIs read, so a week of cases is an index-only scan.
            models.Index(fields=["opened_at"], name="case_opened_at",
                         include=["priority", "status", "first_responded_at", "first_response_due",
                                  "first_response_breached_at"]),
            models.Index(fields=["team"], condition=~Q(status="resolved"), name="case_open_team"),
            # The Queue's tag filter (selectors.queue_tags) reads the tags of open tagged cases
            # from this index alone: at 10 M cases, not 100 k heap pages.
            models.Index(fields=["team", "tags"], condition=~Q(status="resolved") & Q(tags__len__gt=0),
                         name="case_open_tagged"),
        ]

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
