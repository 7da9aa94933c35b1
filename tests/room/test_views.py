"""The crisis page and banner over HTTP: the lead declares, every page shows the banner,
the holding statement fires from it, stand-down asks for a choice, the CSV report."""

import pytest
from django.test import Client

from room.models import Crisis
from tests.room.test_crisis import cleared
from warroom import roles
from warroom.errors import Forbidden

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


def test_the_executive_link_shows_the_crisis_without_sign_in_until_revoked_or_expired(make_user):
    from datetime import timedelta

    from django.utils import timezone

    from room import executive
    from room.flows import crisis as flow
    from room.models import ExecutiveLink

    lead = make_user(roles.LEAD, "lena")
    crisis, _ = flow.crisis_declare(user=lead, name="Stadium", reason="Reports <b>near</b> gate B")
    with pytest.raises(Forbidden):
        executive.link_create(user=make_user(roles.PRODUCER, "pat"), crisis_id=crisis.id)
    client = Client()
    client.force_login(lead)
    assert client.post("/crisis/", {"action": "executive_link", "crisis": crisis.id, "hours": "2"}).status_code == 302
    link = ExecutiveLink.objects.get()
    url = f"/crisis/executive/{executive.token_for(link)}/"
    assert url in client.get("/crisis/").content.decode()

    anonymous = Client()
    page = anonymous.get(url)
    html = page.content.decode()
    assert page.status_code == 200 and "Reports &lt;b&gt;near&lt;/b&gt; gate B" in html and "executive-timeline" in html
    assert "Crisis declared" in html and "followers" not in html
    partial = anonymous.get(url, HTTP_HX_REQUEST="true").content.decode()
    assert partial.lstrip().startswith('<div id="executive-live"')

    assert anonymous.get(url[:-3] + "xx/").status_code == 404  # a forged token
    assert client.post("/crisis/", {"action": "executive_revoke", "link": link.id}).status_code == 302
    refused_page = anonymous.get(url)
    assert refused_page.status_code == 404 and b"revoked" in refused_page.content
    assert client.post("/crisis/", {"action": "executive_revoke", "link": link.id}).status_code == 409

    late = executive.link_create(user=lead, crisis_id=crisis.id, hours=1)
    ExecutiveLink.objects.filter(id=late.id).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert b"expired" in anonymous.get(f"/crisis/executive/{executive.token_for(late)}/").content
