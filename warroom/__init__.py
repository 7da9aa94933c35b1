"""The Warroom project: settings, the live layer, roles, audit, and the room shell."""

from .celery import app as celery_app

__all__ = ["celery_app"]
