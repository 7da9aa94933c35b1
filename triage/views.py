from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from warroom.roles import PAGE_ROLES, role_required
from warroom.views import render_page


@require_GET
@role_required(*PAGE_ROLES["queue"])
def index(request: HttpRequest) -> HttpResponse:
    return render_page(request, "triage/index.html")
