from django.urls import path

from . import views

urlpatterns = [
    path("", views.feed, name="feed"),
    path("alerts/", views.alerts, name="alerts"),
    path("sources/", views.sources, name="sources"),
    path("rules/", views.rules, name="rules"),
]
