"""Django's admin app with the room's admin site (warroom.admin.AdminSite). A module of its
own: INSTALLED_APPS imports it before any model can be, and an AppConfig imported into
warroom/apps.py would be taken for the warroom app's own."""

from django.contrib.admin.apps import AdminConfig as DjangoAdminConfig


class AdminConfig(DjangoAdminConfig):
    default_site = "warroom.admin.AdminSite"
