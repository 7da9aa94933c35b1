"""Template context for every page: the pause banner, and whether this user holds the switch.

The banner is read lazily, so a partial that does not show it costs nothing, and a page
that does costs one query."""

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from warroom import roles

from . import selectors


def queue_switch(request: HttpRequest) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {
        "queue_banner": SimpleLazyObject(selectors.queue_banner),
        "can_pause": roles.has_role(user, roles.PAGE_ROLES["queue_switch"]),
    }
