"""Housekeeping tasks for the live layer."""

from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from .models import LiveEvent


@shared_task(acks_late=True, reject_on_worker_lost=True)
def live_prune() -> int:
    """Drop live events older than the retention window; a page that old reloads anyway."""
    cutoff = timezone.now() - timedelta(days=settings.LIVE_RETENTION_DAYS)
    deleted, _ = LiveEvent.objects.filter(created_at__lt=cutoff).delete()
    return deleted
