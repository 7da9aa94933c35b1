"""Thin Celery tasks for listening: beat finds due sources, workers poll them."""

from celery import shared_task

from . import services


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def poll_due_sources() -> int:
    due = services.sources_due()
    for source_id in due:
        poll_source.delay(source_id)
    return len(due)


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def poll_source(source_id: int) -> str:
    return services.source_poll(source_id=source_id)


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def spikes_check() -> int:
    return len(services.spikes_check())
