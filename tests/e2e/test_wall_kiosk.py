"""The Wall as a kiosk: no room rail, who is in the room as a tile, every tile's type
scaled to fit (nothing runs out of its tile, "PAUSED" above all) at the screens a room
hangs on the wall, and the charts filling the space the rail left."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from approvals import services as approvals
from approvals.models import Account
from listening import services as listening
from tests.e2e.support import off_main_thread, signed_in_page, wait_until  # noqa: F401  (a fixture)
from tests.listening import factories as f
from warroom import roles

SCREENS = [(1280, 720), (1440, 900), (1920, 1080), (3840, 2160)]
TICKED = {question: True for question in approvals.CHECKLIST}

# Each tile (and each element in it) against its own box: what does not fit would scroll.
OVERFLOWS = """() => {
  const tiles = Array.from(document.querySelectorAll("#wall .tile, #room-presence"));
  const out = [];
  for (const tile of tiles) {
    if (tile.scrollWidth > tile.clientWidth) out.push(tile.id || tile.className);
    for (const el of tile.querySelectorAll(".big, h2")) {
      if (el.scrollWidth > el.clientWidth + 1) out.push((tile.id || tile.className) + " " + el.className + ": " + el.textContent.trim().slice(0, 30));
    }
  }
  return {tiles: tiles.length, out: out, page: document.documentElement.scrollWidth - window.innerWidth};
}"""

pytestmark = pytest.mark.usefixtures("nobody_present")


def test_the_wall_is_a_kiosk_whose_tiles_fit_every_screen(transactional_db, room_server, signed_in_page, make_user,
                                                          artifacts):
    lead = make_user(roles.LEAD, "leo", last_name="Lead")
    maya = make_user(roles.COMMUNITY_MANAGER, "maya", last_name="Ortiz")

    def night():
        listening.rule_create(user=lead, name="Blackout in the stadium and on every feed tonight", kind="keyword",
                              query="blackout", priority="P1", open_case=True)
        listening.mention_ingest_batch(source_id=f.source().id, fetched=[
            f.fetched(f"Blackout at the Super Bowl, section {n}") for n in range(12)])
        account = Account.objects.create(name="Brand US", handle="brand_us")
        post = approvals.post_create(author=maya, account_id=account.id, text="Lights out? Our chips still glow. " * 3,
                                     publish_at=timezone.now() + timedelta(hours=1))
        approvals.post_submit(post_id=post.id, user=maya, checklist=TICKED)
        approvals.queue_pause(user=lead, reason="Blackout in the stadium: hold every scheduled post until the lights return")

    off_main_thread(night)
    signed_in_page(room_server, maya, "/queue/")
    wall = signed_in_page(room_server, lead, "/wall/")
    pause = wall.locator("#wall-pause")
    expect(pause).to_have_class(re.compile(r"\bpaused\b"))
    expect(pause.locator(".big")).to_have_text("PAUSED")
    # No rail on the kiosk; presence is a tile of the Wall.
    assert wall.locator("aside.rail, #room-events").count() == 0
    expect(wall.locator("#wall #room-presence")).to_contain_text("Maya Ortiz", timeout=10000)
    expect(wall.locator("#wall-alerts")).to_contain_text("Blackout in the stadium")

    for width, height in SCREENS:
        wall.set_viewport_size({"width": width, "height": height})
        # The charts follow their (bigger) boxes.
        wait_until(wall, "() => { const u = window.__wallCharts && window.__wallCharts.volume, box = document.getElementById('volume-chart');"
                         " return u && Math.abs(u.width - box.clientWidth) <= 1 && Math.abs(u.height - box.clientHeight) <= 1; }",
                   timeout=10000)
        wall.screenshot(path=str(artifacts / f"wall-{width}x{height}.png"))
        measured = wall.evaluate(OVERFLOWS)
        assert measured["tiles"] >= 7, measured
        assert measured["out"] == [], f"{width}x{height}: {measured['out']}"
        assert measured["page"] <= 0, f"{width}x{height}: the page scrolls sideways by {measured['page']} px"
        # "PAUSED" inside its tile, both measured in one read (a live redraw may swap the tile
        # between two separate reads).
        wait_until(wall, "() => { const t = document.querySelector('#wall-pause'), b = t && t.querySelector('.big');"
                         " if (!b) return false; const r = t.getBoundingClientRect(), s = b.getBoundingClientRect();"
                         " return s.width > 0 && s.left >= r.left && s.right <= r.right + 1; }", timeout=5000)
        # The type grows with the screen: "PAUSED" is read across the room.
        font = wall.evaluate("parseFloat(getComputedStyle(document.querySelector('#wall-pause .big')).fontSize)")
        assert font >= 0.012 * width, f"{width}x{height}: PAUSED at {font}px"
        # The charts take the width the rail used to: the volume chart spans the screen.
        chart = wall.locator("#volume-chart").bounding_box()
        assert chart["width"] >= 0.85 * width, f"{width}x{height}: volume chart {chart['width']} px wide"
        assert chart["height"] >= 0.2 * height, f"{width}x{height}: volume chart {chart['height']} px high"
