"""Thin tasks: ids in, one flow call, safe to run twice."""

from celery import shared_task

from .flows import crisis, engagement


@shared_task(acks_late=True, reject_on_worker_lost=True)
def crisis_notify(crisis_id: int) -> int:
    return crisis.crisis_notify(crisis_id=crisis_id)


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def engagement_refresh() -> int:
    return engagement.engagement_refresh()
