from django.apps import AppConfig


class WallConfig(AppConfig):
    name = "wall"
    verbose_name = "Wall: rollups, presence, notifications and story arcs"
