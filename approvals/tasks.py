"""Thin Celery tasks for approvals: beat finds due posts, workers publish them."""

from celery import shared_task

from . import services


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def publish_due_posts() -> int:
    """Beat: one batch task per PUBLISH_BATCH due posts not claimed yet; each task claims
    its own posts when it runs. Returns how many were due."""
    due = services.posts_due_unclaimed()
    for _ in range(-(-due // services.PUBLISH_BATCH)):
        posts_publish_batch.delay()
    return due


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def posts_publish_batch() -> int:
    """Claim a batch of due posts and publish them in turn; returns how many it handled."""
    return sum(services.posts_publish_batch().values())


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def post_publish(post_id: int) -> str:
    return services.post_publish(post_id=post_id)


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def housekeeping() -> None:
    services.publishing_sweep()
    services.approval_deadlines_check()
    services.queue_auto_resume()
