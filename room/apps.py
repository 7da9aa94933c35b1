from django.apps import AppConfig


class RoomConfig(AppConfig):
    name = "room"
    verbose_name = "Room: the decisions that cross apps"

    def ready(self):
        # Imported here, not at the top: Django imports apps.py before any model is ready,
        # and every one of these modules imports models.
        from approvals import engagement as approvals_engagement
        from approvals import services as approvals
        from listening import selectors as listening_selectors
        from listening import services as listening

        from warroom import live

        from .flows import crisis, engagement, ingest, publishing

        listening.batch_stored.connect(ingest.batch_stored)
        listening.alert_matched.connect(ingest.alert_actions)
        approvals.post_outcome.connect(publishing.post_outcome)
        approvals_engagement.engagement_recorded.connect(engagement.engagement_recorded)
        approvals.text_touches.connect(listening_selectors.crisis_terms_in)
        for kind in crisis.TIMELINE_KINDS:  # the open crisis's timeline records these after they commit
            live.on_commit(kind, crisis.timeline_record)
