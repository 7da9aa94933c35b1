"""The crisis contact tree is kept in the Django admin; crises are read there, never edited."""

from django.contrib import admin

from .models import Crisis, CrisisContact


@admin.register(CrisisContact)
class CrisisContactAdmin(admin.ModelAdmin):
    list_display = ("name", "email", "slack", "order", "enabled")
    list_editable = ("order", "enabled")


@admin.register(Crisis)
class CrisisAdmin(admin.ModelAdmin):
    list_display = ("name", "opened_at", "closed_at", "open")
    readonly_fields = [field.name for field in Crisis._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
