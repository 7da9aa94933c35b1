"""Writes the room itself owns: announcements to everyone in the room."""

from django.db import transaction

from . import audit, live
from .errors import InvalidInput
from .models import Announcement


def clean_text(value: str, *, limit: int, field: str) -> str:
    """Untrusted or typed text: NUL stripped, surrounding space trimmed, empty refused, bounded."""
    text = (value or "").replace("\x00", "").strip()
    if not text:
        raise InvalidInput(f"{field} is empty: write what the room should know.")
    if len(text) > limit:
        raise InvalidInput(f"{field} is {len(text)} characters; the limit is {limit}.")
    return text


@transaction.atomic
def announcement_post(*, author, text: str, level: str = Announcement.Level.INFO) -> Announcement:
    """The lead tells everyone in the room something, now, on every screen."""
    if level not in Announcement.Level.values:
        raise InvalidInput(f"Level must be one of {', '.join(Announcement.Level.values)}.")
    announcement = Announcement.objects.create(
        text=clean_text(text, limit=Announcement.MAX_LENGTH, field="The announcement"), level=level, author=author
    )
    audit.record(actor=author, action="room.announce", obj=announcement, details={"level": level})
    live.publish(
        "room.announced",
        summary=announcement.text,
        actor=author.get_full_name() or author.get_username(),
        level=level,
    )
    return announcement
