from django.urls import path

from . import views

urlpatterns = [
    path("", views.index, name="approvals"),
    path("calendar/", views.calendar, name="calendar"),
    # Named queue_switch: "queue" is triage's page.
    path("queue/", views.queue_switch, name="queue_switch"),
    path("away/<str:token>/", views.away, name="approval_away"),
]
