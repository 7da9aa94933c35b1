from django.urls import path

from . import views

urlpatterns = [
    path("", views.wall, name="wall"),
    path("panels/", views.wall_panels, name="wall_panels"),
    path("volume.json", views.wall_volume, name="wall_volume"),
    path("sentiment.json", views.wall_sentiment, name="wall_sentiment"),
    path("responses.json", views.wall_responses, name="wall_responses"),
    path("arcs/", views.topics, name="topics"),
    path("arcs/data.json", views.topic_arc, name="topic_arc"),
    path("notifications/", views.notification_settings, name="notification_settings"),
]
