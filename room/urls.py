from django.urls import path

from . import views

urlpatterns = [
    path("playbooks/<int:event_id>/report/", views.playbook_report, name="playbook_report"),
]
