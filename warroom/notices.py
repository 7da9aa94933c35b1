"""Sending one notice that was claimed first (a unique row per event, channel and person:
the Wall's Notification, the crisis's CrisisNotice): the send runs once, and its outcome is
written on the row, sent_at or the error. One bad address or server never stops the others."""

import logging
from collections.abc import Callable

from django.utils import timezone

logger = logging.getLogger(__name__)
ERROR_LIMIT = 500


def deliver(notice, send: Callable[[], None], *, what: str = "notice") -> bool:
    """Run `send()` for a claimed `notice` (a model with key, sent_at and error) and record
    how it went. Returns whether it was sent."""
    sent = False
    try:
        send()
        notice.sent_at = timezone.now()
        sent = True
    except Exception as error:  # noqa: BLE001 - one bad address or channel must not stop the others
        logger.warning("%s %s not sent: %s", what, notice.key, error)
        notice.error = f"{type(error).__name__}: {error}"[:ERROR_LIMIT]
    notice.save(update_fields=["sent_at", "error"])
    return sent
