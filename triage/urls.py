from django.urls import path

from . import views

urlpatterns = [
    path("", views.index, name="queue"),
    path("routing/", views.routing, name="triage_routing"),
    path("kpis/", views.kpis, name="kpis"),
]
