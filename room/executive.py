"""The executives' read-only crisis page: the lead makes an expiring signed link (and can
revoke it); the page shows the crisis, its timeline, mention volume and sentiment, and no
author data beyond what the public posts carry. Tokens are Django-signed link ids (salted),
so they cannot be guessed; expiry and revocation are checked in the database each time."""

from datetime import timedelta

from django.core import signing
from django.db import transaction
from django.utils import timezone

from warroom import audit, roles
from warroom.errors import Conflict, Forbidden, InvalidInput

from .models import Crisis, ExecutiveLink

SALT = "room.executive-link"
DEFAULT_HOURS = 12
MAX_HOURS = 72


class LinkRefused(InvalidInput):
    status = 404


def token_for(link: ExecutiveLink) -> str:
    return signing.dumps(link.id, salt=SALT)


@transaction.atomic
def link_create(*, user, crisis_id: int, hours: int = DEFAULT_HOURS) -> ExecutiveLink:
    if not roles.has_role(user, {roles.LEAD}):
        raise Forbidden("Only the lead can share the crisis with executives.")
    if not 1 <= hours <= MAX_HOURS:
        raise InvalidInput(f"The link lasts between 1 and {MAX_HOURS} hours.")
    crisis = Crisis.objects.filter(id=crisis_id, open=True).first()
    if crisis is None:
        raise Conflict("No open crisis to share.")
    link = ExecutiveLink.objects.create(crisis=crisis, created_by=user, expires_at=timezone.now() + timedelta(hours=hours))
    audit.record(actor=user, action="crisis.executive_link", obj=link, details={"crisis": crisis.id, "hours": hours})
    return link


@transaction.atomic
def link_revoke(*, user, link_id: int) -> ExecutiveLink:
    if not roles.has_role(user, {roles.LEAD}):
        raise Forbidden("Only the lead can revoke an executive link.")
    link = ExecutiveLink.objects.select_for_update().filter(id=link_id).first()
    if link is None or link.revoked_at is not None:
        raise Conflict("This link is revoked already.")
    link.revoked_by, link.revoked_at = user, timezone.now()
    link.save()
    audit.record(actor=user, action="crisis.executive_revoke", obj=link, details={"crisis": link.crisis_id})
    return link


def link_open(token: str) -> ExecutiveLink:
    """The link a token names, while it may be used; else LinkRefused saying why."""
    try:
        link_id = signing.loads(token, salt=SALT)
    except signing.BadSignature as error:
        raise LinkRefused("This link is not valid.") from error
    link = ExecutiveLink.objects.select_related("crisis").filter(id=link_id).first()
    if link is None or link.revoked_at is not None:
        raise LinkRefused("This link was revoked: ask the crisis lead for a new one.")
    if link.expires_at <= timezone.now():
        raise LinkRefused("This link has expired: ask the crisis lead for a new one.")
    return link
