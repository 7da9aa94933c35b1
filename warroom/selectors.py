"""Reads shaped for the room's pages."""

from datetime import datetime

from django.db.models import Q, QuerySet

from .models import AuditEntry


def audit_list(
    *, actor: str = "", action: str = "", obj: str = "", since: datetime | None = None, until: datetime | None = None
) -> QuerySet[AuditEntry]:
    entries = AuditEntry.objects.all()
    if actor:
        entries = entries.filter(actor_name__iexact=actor)
    if action:
        entries = entries.filter(action__istartswith=action)
    if obj:
        entries = entries.filter(Q(object_repr__icontains=obj) | Q(object_id=obj))
    if since:
        entries = entries.filter(at__gte=since)
    if until:
        entries = entries.filter(at__lt=until)
    return entries.order_by("-at", "-id")


def audit_actions() -> list[str]:
    return list(AuditEntry.objects.order_by("action").values_list("action", flat=True).distinct())
