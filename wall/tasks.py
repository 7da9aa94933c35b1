"""Thin tasks: ids in, one service call, safe to run twice."""

from celery import shared_task

from . import services


@shared_task(acks_late=True, reject_on_worker_lost=True)
def event_notify(event_id: int) -> int:
    return services.event_notify(event_id=event_id)


@shared_task(acks_late=True, reject_on_worker_lost=True)
def topic_refresh(topic_id: int) -> int:
    return services.topic_refresh(topic_id=topic_id)


@shared_task(acks_late=True, reject_on_worker_lost=True)
def topics_refresh() -> int:
    from .models import Topic

    return sum(services.topic_refresh(topic_id=topic_id)
               for topic_id in Topic.objects.filter(enabled=True).values_list("id", flat=True))
