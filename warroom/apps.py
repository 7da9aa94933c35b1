from django.apps import AppConfig


class WarroomConfig(AppConfig):
    name = "warroom"

    def ready(self) -> None:
        from . import admin, sessions

        sessions.connect_signals()
        admin.register_user_admin()
