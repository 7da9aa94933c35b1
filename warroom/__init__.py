"""The Warroom project: settings, the live layer, roles, audit, presence, hooks and the
room shell. The core, at the bottom beside `networks`: it imports no app (it includes
their URLconfs by name, and apps subscribe to it in their `AppConfig.ready()`)."""

from .celery import app as celery_app

__all__ = ["celery_app"]
