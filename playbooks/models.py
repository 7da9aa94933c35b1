"""Playbooks: events prepared ahead of time (accounts, the team on deck, guardrails),
their scenarios and triggers, the content variants legal clears before the night, the
run-of-show, and what happened live: suggestions, firings and drills."""

from django.conf import settings
from django.db import models
from django.utils import timezone


class Event(models.Model):
    """An anticipated event: the Super Bowl, the Emmys."""

    name = models.CharField(max_length=200, unique=True)
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    time_zone = models.CharField(max_length=64, default="UTC")
    hashtags = models.JSONField(default=list, blank=True)
    accounts = models.ManyToManyField("approvals.Account", blank=True, related_name="events")
    # {"do": [...], "dont": [...], "sensitive_topics": [...], "checklist": [...]}
    guardrails = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["starts_at", "id"]
        constraints = [models.CheckConstraint(condition=models.Q(ends_at__gt=models.F("starts_at")),
                                              name="event_ends_after_start")]

    def __str__(self) -> str:
        return self.name


class Contact(models.Model):
    """Someone on deck for the event, in speed-dial order."""

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="contacts")
    name = models.CharField(max_length=120)
    role = models.CharField(max_length=120, blank=True)
    phone = models.CharField(max_length=40, blank=True)
    email = models.CharField(max_length=254, blank=True)
    order = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["order", "id"]

    def __str__(self) -> str:
        return self.name


class Scenario(models.Model):
    """A moment the team prepared for, and what tells the room it is happening."""

    class Trigger(models.TextChoices):
        MANUAL = "manual", "Manual"
        RULE = "rule", "A listening rule matches"
        KEYWORDS = "keywords", "Keywords in a mention"
        SPIKE = "spike", "A volume spike"

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="scenarios")
    name = models.CharField(max_length=200)
    trigger = models.CharField(max_length=10, choices=Trigger.choices, default=Trigger.MANUAL)
    rule = models.ForeignKey("listening.AlertRule", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    keywords = models.JSONField(default=list, blank=True)
    expires_minutes = models.PositiveIntegerField(default=15, help_text="a suggestion not acted on expires")
    order = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["order", "id"]
        constraints = [models.UniqueConstraint(fields=["event", "name"], name="scenario_name_per_event")]

    def __str__(self) -> str:
        return self.name


class Variant(models.Model):
    """One prepared post of a scenario, for one account. Its text, media and approval live
    on the approvals Post: legal's Yes is bound to exactly that content."""

    scenario = models.ForeignKey(Scenario, on_delete=models.CASCADE, related_name="variants")
    post = models.OneToOneField("approvals.Post", on_delete=models.PROTECT, related_name="variant")
    label = models.CharField(max_length=120, blank=True)
    order = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["order", "id"]


class Moment(models.Model):
    """An expected moment of the run-of-show (kick-off, half-time, an award category)."""

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="moments")
    at = models.DateTimeField()
    title = models.CharField(max_length=200)
    scenarios = models.ManyToManyField(Scenario, blank=True, related_name="moments")

    class Meta:
        ordering = ["at", "id"]


class Drill(models.Model):
    """A rehearsal of an event against a replay: firing goes to a sandbox account only."""

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="drills")
    sandbox_account = models.ForeignKey("approvals.Account", on_delete=models.PROTECT, related_name="+")
    replay_source = models.ForeignKey("listening.Source", null=True, blank=True, on_delete=models.SET_NULL,
                                      related_name="+", help_text="the demo replay this drill started, stopped with it")
    started_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    started_at = models.DateTimeField(default=timezone.now)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at"]
        constraints = [models.UniqueConstraint(fields=["event"], condition=models.Q(ended_at__isnull=True),
                                               name="one_running_drill_per_event")]


class Suggestion(models.Model):
    """A scenario whose trigger matched: the room decides to fire it, skip it, or it expires."""

    class State(models.TextChoices):
        SUGGESTED = "suggested", "Suggested"
        FIRED = "fired", "Fired"
        SKIPPED = "skipped", "Skipped"
        EXPIRED = "expired", "Expired"

    scenario = models.ForeignKey(Scenario, on_delete=models.CASCADE, related_name="suggestions")
    drill = models.ForeignKey(Drill, null=True, blank=True, on_delete=models.CASCADE, related_name="suggestions")
    state = models.CharField(max_length=10, choices=State.choices, default=State.SUGGESTED, db_index=True)
    reason = models.CharField(max_length=500)
    mention = models.ForeignKey("listening.Mention", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    alert = models.ForeignKey("listening.Alert", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    triggered_at = models.DateTimeField(help_text="when the triggering mention was received")
    suggested_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    matches = models.PositiveIntegerField(default=1)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)
    note = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-suggested_at", "-id"]


class Firing(models.Model):
    """A variant fired: for real through approvals' publishing (post), or in a drill to the
    sandbox account (platform_id and published_at recorded here)."""

    variant = models.ForeignKey(Variant, on_delete=models.PROTECT, related_name="firings")
    suggestion = models.ForeignKey(Suggestion, null=True, blank=True, on_delete=models.SET_NULL, related_name="firings")
    drill = models.ForeignKey(Drill, null=True, blank=True, on_delete=models.CASCADE, related_name="firings")
    fired_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    fired_at = models.DateTimeField(default=timezone.now)
    sandbox_account = models.ForeignKey("approvals.Account", null=True, blank=True, on_delete=models.PROTECT,
                                        related_name="+")
    sent_at = models.DateTimeField(null=True, blank=True, help_text="a drill firing handed to the sandbox")
    platform_id = models.CharField(max_length=128, blank=True)
    published_at = models.DateTimeField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["fired_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["variant"], condition=models.Q(drill__isnull=True), name="variant_fires_once"),
            models.UniqueConstraint(fields=["variant", "drill"], name="variant_fires_once_per_drill"),
        ]
