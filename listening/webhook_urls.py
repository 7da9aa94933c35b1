"""Included at hooks/ by warroom/urls.py: the webhook receiver, POST /hooks/<token>/ (the
feed's pages are listening/urls.py, at feed/)."""

from django.urls import path

from . import webhooks

urlpatterns = [
    path("<str:token>/", webhooks.receive, name="webhook"),
]
