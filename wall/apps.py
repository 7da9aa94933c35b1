from django.apps import AppConfig


class WallConfig(AppConfig):
    name = "wall"
    verbose_name = "Wall: rollups, presence, notifications and story arcs"

    def ready(self):
        # Imported here, not at the top: Django imports apps.py before any model is ready,
        # and both modules import models.
        from warroom import live

        from .tasks import approval_notify_enqueue, event_notify_enqueue

        # The kinds that reach people on deck who are not in the room (services.NOTIFY).
        live.on_commit("case.escalated", event_notify_enqueue)
        live.on_commit("case.breached", event_notify_enqueue)
        live.on_commit("queue.paused", event_notify_enqueue)
        live.on_commit("scenario.fired", event_notify_enqueue)
        # Approvers on deck get a signed link to answer from their phone (services.approval_notify).
        live.on_commit("approval.requested", approval_notify_enqueue)
