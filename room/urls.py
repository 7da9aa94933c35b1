from django.urls import path

from . import views

urlpatterns = [
    path("playbooks/<int:event_id>/report/", views.playbook_report, name="playbook_report"),
    path("playbooks/<int:event_id>/results/", views.playbook_results, name="playbook_results"),
    path("playbooks/<int:event_id>/results.csv", views.playbook_results_csv, name="playbook_results_csv"),
    path("playbooks/<int:event_id>/results.pdf", views.playbook_results_pdf, name="playbook_results_pdf"),
    path("l/<str:code>", views.short_link, name="short_link"),
    path("crisis/", views.crisis, name="crisis"),
    path("crisis/banner/", views.crisis_banner, name="crisis_banner"),
    path("crisis/<int:crisis_id>/report.csv", views.crisis_report_csv, name="crisis_report_csv"),
    path("crisis/<int:crisis_id>/report.pdf", views.crisis_report_pdf, name="crisis_report_pdf"),
    path("crisis/executive/<str:token>/", views.crisis_executive, name="crisis_executive"),
]
