from django.apps import AppConfig


class WarroomConfig(AppConfig):
    name = "warroom"

    def ready(self) -> None:
        from . import sessions

        sessions.connect_signals()
