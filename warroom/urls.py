from django.contrib import admin
from django.urls import include, path

from . import views

# The apps' pages are included by name: the core imports no app.
urlpatterns = [
    path("", views.room, name="room"),
    path("announce/", views.announce, name="announce"),
    path("wall/", include("wall.urls")),
    path("audit/", views.audit_log, name="audit"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.logout, name="logout"),
    path("login/verify/", views.two_factor_verify, name="two_factor_verify"),
    path("account/two-factor/", views.two_factor, name="two_factor"),
    path("account/two-factor/qr.svg", views.two_factor_qr, name="two_factor_qr"),
    path("healthz", views.healthz, name="healthz"),
    path("feed/", include("listening.urls")),
    path("queue/", include("triage.urls")),
    path("approvals/", include("approvals.urls")),
    path("playbooks/", include("playbooks.urls")),
    path("", include("room.urls")),
    path("hooks/", include("listening.webhook_urls")),
    path("admin/", admin.site.urls),
]
