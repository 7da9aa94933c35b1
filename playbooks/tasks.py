"""Thin Celery tasks for playbooks: drill firings to the sandbox, and expiring suggestions."""

from celery import shared_task

from . import services


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def drill_publish(firing_id: int) -> str:
    return services.drill_publish(firing_id=firing_id)


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def suggestions_expire() -> int:
    return services.suggestions_expire()
