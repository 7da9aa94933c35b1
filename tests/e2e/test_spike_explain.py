"""A spike's explanation in real browsers: it reaches the Wall's open alerts tile with the
alert, live, and the Alerts page shows it in full, under the room's CSP."""

from datetime import timedelta

from django.utils import timezone
from playwright.sync_api import expect

from listening import services
from listening.models import Alert
from tests.e2e.support import off_main_thread, signed_in_page  # noqa: F401  (a fixture)
from tests.listening import factories as f
from tests.listening.test_spike_explain import seed
from warroom import roles

LIVE = 10000  # ms a live change may take to arrive


def test_the_wall_and_the_alerts_page_show_what_is_new_in_a_spike(
    transactional_db, room_server, signed_in_page, make_user, artifacts  # noqa: F811
):
    lead = make_user(roles.LEAD, "leo")
    services.rule_create(user=lead, name="Volume", kind="spike", query="", spike_window_minutes=5,
                         spike_baseline_minutes=60, spike_factor=3, spike_min_count=20)
    wall = signed_in_page(room_server, lead, "/wall/")
    expect(wall.locator("#wall-alerts")).to_be_visible()

    def spike():
        now = timezone.now()
        seed(f.source(), now - timedelta(seconds=5))
        return services.spikes_check(now=now)[0].id

    alert_id = off_main_thread(spike)
    line = wall.locator(f"#wall-alerts #spike-why-{alert_id}")
    expect(line).to_contain_text("lights", timeout=LIVE)
    expect(line).to_contain_text("#blackout")
    expect(line).to_contain_text("widest reach ESPN")
    wall.screenshot(path=str(artifacts / "wall-spike-explanation.png"))

    alerts = signed_in_page(room_server, lead, "/feed/alerts/")
    why = alerts.locator(f"#spike-why-{alert_id}")
    expect(why.locator(".spike-terms li").first).to_contain_text("lights")
    expect(why.locator(".spike-samples li")).to_have_count(5)
    expect(why.locator(".spike-links li")).to_contain_text("https://t.co/abc")
    assert Alert.objects.get(id=alert_id).explanation["terms"][0]["term"] == "lights"
    alerts.screenshot(path=str(artifacts / "alerts-spike-explanation.png"), full_page=True)
