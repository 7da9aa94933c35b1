"""The room's own records: a declared crisis (what it paused, what it held, its timeline
and its report) and the people to reach when one is declared (the contact tree)."""

from django.conf import settings
from django.db import models
from django.utils import timezone


class Crisis(models.Model):
    """One declared crisis, open until the lead stands it down. At most one is open."""

    name = models.CharField(max_length=120)
    reason = models.CharField(max_length=500)
    terms = models.CharField(max_length=1000, blank=True, help_text="boolean query: new cases matching it go to the crisis team at P1")
    open = models.BooleanField(default=True)
    opened_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    opened_at = models.DateTimeField(default=timezone.now)
    alert_id = models.BigIntegerField(null=True, blank=True, help_text="the alert that declared it, when a rule did")
    paused_queue = models.BooleanField(default=False, help_text="this crisis paused the queue (else it was paused already)")
    pause_reason = models.CharField(max_length=500, blank=True)
    held = models.JSONField(default=list, blank=True, help_text="post ids held when declared: scheduled posts and fire-ready variants")
    closed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    closed_at = models.DateTimeField(null=True, blank=True)
    released = models.JSONField(default=list, blank=True, help_text="post ids the lead released at stand-down")
    report = models.JSONField(default=dict, blank=True, help_text="saved at stand-down")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["open"], condition=models.Q(open=True), name="one_open_crisis")]
        verbose_name_plural = "crises"

    def __str__(self) -> str:
        return self.name


class CrisisEntry(models.Model):
    """One line of a crisis's timeline: a decision, an alert, a spike, a post."""

    crisis = models.ForeignKey(Crisis, on_delete=models.CASCADE, related_name="entries")
    at = models.DateTimeField(default=timezone.now)
    kind = models.CharField(max_length=60)
    summary = models.CharField(max_length=500)
    actor = models.CharField(max_length=150, blank=True)
    event_id = models.BigIntegerField(null=True, blank=True, unique=True, help_text="the live event it records, once")

    class Meta:
        ordering = ["at", "id"]


class CrisisContact(models.Model):
    """Someone to reach when a crisis is declared, in order; the channels they are reached on."""

    name = models.CharField(max_length=120)
    email = models.EmailField(blank=True)
    slack = models.BooleanField(default=False, help_text="also post to the crisis Slack channel naming them")
    order = models.PositiveIntegerField(default=0)
    enabled = models.BooleanField(default=True)

    class Meta:
        ordering = ["order", "id"]

    def __str__(self) -> str:
        return self.name


class CrisisNotice(models.Model):
    """A notice of one crisis on one channel to one contact, claimed before it is sent."""

    key = models.CharField(max_length=120, unique=True)
    crisis = models.ForeignKey(Crisis, on_delete=models.CASCADE, related_name="notices")
    channel = models.CharField(max_length=20)
    contact = models.ForeignKey(CrisisContact, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    claimed_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)


class ExecutiveLink(models.Model):
    """A read-only view of one crisis for executives, without sign-in: the link carries a
    signed id, works until it expires or the lead revokes it."""

    crisis = models.ForeignKey(Crisis, on_delete=models.CASCADE, related_name="executive_links")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    revoked_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    revoked_at = models.DateTimeField(null=True, blank=True)
