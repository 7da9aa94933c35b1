"""Template context for every page: the crisis banner (read lazily: one query when shown)."""

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from warroom import roles

from .flows import crisis

FIRERS = frozenset({roles.LEAD, roles.PRODUCER, roles.ADMIN})


def banner(user) -> dict:
    open_crisis = crisis.crisis_open()
    can_fire = roles.has_role(user, FIRERS)
    return {"crisis": open_crisis, "can_fire": can_fire,
            "holding": crisis.holding_statements() if open_crisis and can_fire else []}


def crisis_banner(request: HttpRequest) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"crisis_banner": SimpleLazyObject(lambda: banner(user))}
