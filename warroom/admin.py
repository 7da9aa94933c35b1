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
