"""The crisis page and banner over HTTP: the lead declares, every page shows the banner,
the holding statement fires from it, stand-down asks for a choice, the CSV report."""

import pytest
from django.test import Client

from room.models import Crisis
from tests.room.test_crisis import cleared
from warroom import roles

pytestmark = pytest.mark.django_db(transaction=True)


def test_declare_banner_fire_and_stand_down_over_http(make_user):
    lead, legal = make_user(roles.LEAD, "lena"), make_user(roles.LEGAL, "lou")
    holding = cleared(lead, legal, "We are aware <b>of</b> reports and are pausing our posts.", holding=True)
    client = Client()
    client.force_login(lead)
    assert client.post("/crisis/", {"action": "declare", "name": "Stadium", "reason": "  "}).status_code == 400
    assert client.post("/crisis/", {"action": "declare", "name": "Stadium <i>", "reason": "Reports"}).status_code == 302
    page = client.get("/approvals/").content.decode()
    assert 'id="crisis-banner"' in page and "CRISIS: <bdi>Stadium &lt;i&gt;</bdi>" in page
    assert "We are aware &lt;b&gt;of&lt;/b&gt;" in page and f'data-holding="{holding.id}"' in page
    legal_client = Client()
    legal_client.force_login(legal)
    legal_page = legal_client.get("/crisis/banner/").content.decode()
    assert "CRISIS" in legal_page and "data-holding" not in legal_page  # legal cannot fire
    assert legal_client.post("/crisis/", {"action": "fire", "post": holding.id}).status_code == 403
    assert client.post("/crisis/", {"action": "fire", "post": holding.id}).status_code == 302
    crisis = Crisis.objects.get()
    assert client.post("/crisis/", {"action": "stand_down", "crisis": crisis.id}).status_code == 400
    assert Crisis.objects.get().open
    assert client.post("/crisis/", {"action": "stand_down", "crisis": crisis.id, "release": "none"}).status_code == 302
    assert 'id="crisis-banner" class="crisis-banner" role="alert" hidden' in client.get("/approvals/").content.decode()
    csv = client.get(f"/crisis/{crisis.id}/report.csv")
    assert csv.status_code == 200 and b"crisis.declared" in csv.content and b"holding.fired" in csv.content
    pdf = client.get(f"/crisis/{crisis.id}/report.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF") and pdf["Content-Type"] == "application/pdf"
    assert b"/Type /Page" in pdf.content
