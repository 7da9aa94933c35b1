"""The Django admin's site: Django's own, with sign-in at /admin/login/ audited as the room's
sign-in is (django-axes throttles both: it sits on the authentication backend)."""

from django.contrib import admin
from django.db import transaction

from .views import sign_in_record


class AdminSite(admin.AdminSite):
    def login(self, request, extra_context=None):
        with transaction.atomic():
            response = super().login(request, extra_context)
            # A POST answered with a redirect is a sign-in that succeeded (a bad password
            # re-renders the form; a locked-out one gets axes' 429).
            if request.method == "POST" and response.status_code == 302 and request.user.is_authenticated:
                sign_in_record(request, request.user, via="admin")
        return response


# Two-factor devices change only through the audited reset below: django-otp's own device
# pages (which would add or delete them unaudited) are taken off the admin.
def register_user_admin() -> None:
    """Called from WarroomConfig.ready(), after every app's admin module registered its models."""
    from django.contrib import messages
    from django.contrib.auth import get_user_model
    from django.contrib.auth.admin import UserAdmin
    from django_otp.plugins.otp_static.models import StaticDevice
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from . import twofactor

    @admin.action(description="Reset two-factor sign-in (they enrol again)")
    def reset_two_factor(modeladmin, request, queryset):
        removed = sum(twofactor.devices_reset(user=request.user, target=target) for target in queryset)
        modeladmin.message_user(request, f"Two-factor reset for {queryset.count()} user(s); {removed} device(s) removed.",
                                messages.SUCCESS)

    class RoomUserAdmin(UserAdmin):
        actions = [*(UserAdmin.actions or []), reset_two_factor]

    User = get_user_model()
    for model in (TOTPDevice, StaticDevice):
        if admin.site.is_registered(model):
            admin.site.unregister(model)
    if admin.site.is_registered(User):
        admin.site.unregister(User)
    admin.site.register(User, RoomUserAdmin)
