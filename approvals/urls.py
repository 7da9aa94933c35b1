from django.urls import path

from . import views

urlpatterns = [
    path("", views.index, name="approvals"),
    path("calendar/", views.calendar, name="calendar"),
    # Named queue_switch: "queue" is triage's page.
    path("queue/", views.queue_switch, name="queue_switch"),
    path("accounts/", views.accounts, name="accounts"),
    path("media/", views.media_library, name="media_library"),
    path("media/<str:sha256>/", views.media_file, name="media_file"),
    path("preview/", views.compose_preview, name="compose_preview"),
    path("away/<str:token>/", views.away, name="approval_away"),
]
