"""Thin tasks: ids in, one service call, safe to run twice."""

import logging
from datetime import datetime

from celery import shared_task
from django.utils import timezone

from . import services
from .models import Topic

logger = logging.getLogger(__name__)


@shared_task(acks_late=True, reject_on_worker_lost=True)
def event_notify(event_id: int) -> int:
    return services.event_notify(event_id=event_id)


def event_notify_enqueue(event) -> None:
    """People on deck hear about this event (services.event_notify decides who): the live
    layer calls this after the event commits, for the kinds wall/apps.py subscribes.
    An event of a group (a burst of SLA breaches) is noticed once for the whole group,
    when its window closes, with the group's final count."""
    group = event.payload.get("group")
    try:
        if group is None:
            event_notify.delay(event.id)
        elif group.get("first"):
            closes = datetime.fromisoformat(group["until"])
            event_notify.apply_async(args=[event.id], countdown=max(0.0, (closes - timezone.now()).total_seconds()))
    except Exception:  # noqa: BLE001 - the decision is committed; a broker outage must not undo the caller
        logger.exception("could not enqueue notices for live event %s", event.id)


@shared_task(acks_late=True, reject_on_worker_lost=True)
def approval_notify(event_id: int) -> int:
    return services.approval_notify(event_id=event_id)


def approval_notify_enqueue(event) -> None:
    """Approvers on deck get a link to answer a new request (services.approval_notify)."""
    try:
        approval_notify.delay(event.id)
    except Exception:  # noqa: BLE001 - the request is committed; a broker outage must not undo the caller
        logger.exception("could not enqueue approval notices for live event %s", event.id)


@shared_task(acks_late=True, reject_on_worker_lost=True)
def topic_refresh(topic_id: int) -> int:
    return services.topic_refresh(topic_id=topic_id)


@shared_task(acks_late=True, reject_on_worker_lost=True)
def topics_refresh() -> int:
    return sum(services.topic_refresh(topic_id=topic_id)
               for topic_id in Topic.objects.filter(enabled=True).values_list("id", flat=True))
