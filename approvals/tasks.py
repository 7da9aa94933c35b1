"""Thin Celery tasks for approvals: beat finds due posts, workers publish them."""

from celery import shared_task

from . import services


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def publish_due_posts() -> int:
    due = services.posts_due_claim()
    for post_id in due:
        post_publish.delay(post_id)
    return len(due)


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def post_publish(post_id: int) -> str:
    return services.post_publish(post_id=post_id)


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def housekeeping() -> None:
    services.publishing_sweep()
    services.approval_deadlines_check()
    services.queue_auto_resume()
