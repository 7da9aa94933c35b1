from django.urls import path

from . import views

urlpatterns = [
    path("", views.index, name="playbooks"),
    path("<int:event_id>/", views.event_page, name="playbook_event"),
    path("<int:event_id>/live/", views.live_page, name="playbook_live"),
    path("<int:event_id>/export/", views.export, name="playbook_export"),
    path("drills/<int:drill_id>/", views.drill_report, name="playbook_drill"),
]
