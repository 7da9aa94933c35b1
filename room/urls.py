from django.urls import path

from . import views

urlpatterns = [
    path("playbooks/<int:event_id>/report/", views.playbook_report, name="playbook_report"),
    path("crisis/", views.crisis, name="crisis"),
    path("crisis/banner/", views.crisis_banner, name="crisis_banner"),
    path("crisis/<int:crisis_id>/report.csv", views.crisis_report_csv, name="crisis_report_csv"),
    path("crisis/<int:crisis_id>/report.pdf", views.crisis_report_pdf, name="crisis_report_pdf"),
    path("crisis/executive/<str:token>/", views.crisis_executive, name="crisis_executive"),
]
