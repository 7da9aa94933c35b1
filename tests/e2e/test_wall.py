"""The Wall in real browsers: the kiosk follows mentions, cases, approvals and the pause
as they change in other browsers (or services called off the main thread) without a
reload; who is in the room appears and disappears with a second browser; and the README
screenshot of the Wall."""

import json
import re
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from approvals import services as approvals
from approvals.models import Account
from listening import services as listening
from listening.adapters import FetchedMention
from listening.models import Mention
from tests.e2e.support import off_main_thread, signed_in_page, wait_until  # noqa: F401  (a fixture)
from warroom.services import announcement_post
from tests.e2e.test_shell import screenshot_dir
from tests.listening import factories as f
from triage import services as triage
from warroom import roles

LIVE = 10000  # ms a live change may take to arrive
POLLED = 20000  # changes whose events the kiosk's roles do not receive arrive with its 15 s refresh
TICKED = {question: True for question in approvals.CHECKLIST}
DEMO = Path(__file__).resolve().parents[2] / "listening" / "demo" / "superbowl.jsonl"

pytestmark = pytest.mark.usefixtures("nobody_present")


def ingest(texts: list[str], *, minutes_ago: float = 0, source=None) -> None:
    now = timezone.now()

    def work():
        src = source or f.source()
        listening.mention_ingest_batch(source_id=src.id, fetched=[
            f.fetched(text, posted_at=now - timedelta(minutes=minutes_ago, seconds=n)) for n, text in enumerate(texts)
        ])

    off_main_thread(work)


CHARTS_AGAINST_JSON = """async () => {
  const charts = window.__wallCharts || {};
  const get = (url) => fetch(url, {credentials: "same-origin"}).then((r) => r.json());
  const wall = document.getElementById("wall").dataset;
  const [volume, sentiment, responses] = await Promise.all([get(wall.volumeUrl), get(wall.sentimentUrl), get(wall.responsesUrl)]);
  const canvas = (id) => document.querySelectorAll("#" + id + " canvas").length;
  const v = charts.volume, s = charts.sentiment, r = charts.responses;
  return {
    canvases: [canvas("volume-chart"), canvas("sentiment-chart"), canvas("responses-chart")],
    allCanvases: document.querySelectorAll("#wall canvas").length,
    // per minute: the calm and the spiking series together are the JSON's totals
    volume: v && JSON.stringify(v.data[1].map((calm, i) => calm ?? v.data[2][i])) === JSON.stringify(volume.total),
    volumeSpiking: v ? v.data[2].filter((x) => x !== null).length : -1,
    volumeWidth: v ? v.width : 0,
    sentiment: s && s.data[0].length === sentiment.total.length && s.data.length === 4
      && s.data[3].every((pos, i) => sentiment.total[i] ? Math.abs(pos - 100 * sentiment.positive[i] / sentiment.total[i]) < 1e-9 : pos === null),
    responses: r && JSON.stringify(r.data[1]) === JSON.stringify(responses.median_minutes),
    responsesAnswered: r ? r.data[1].filter((x) => x !== null).length : -1,
  };
}"""


def charts_agree_with_json(page, timeout: float = LIVE / 1000) -> dict:
    """The three uPlot charts (one canvas each) show exactly what the JSON endpoints say now
    (retried: a minute may turn, or a refresh land, between the two reads)."""
    deadline = time.monotonic() + timeout
    while True:
        seen = page.evaluate(CHARTS_AGAINST_JSON)
        if (seen["canvases"] == [1, 1, 1] and seen["allCanvases"] == 3 and seen["volume"] and seen["sentiment"]
                and seen["responses"]) or time.monotonic() > deadline:
            break
        page.wait_for_timeout(300)
    assert seen["canvases"] == [1, 1, 1] and seen["allCanvases"] == 3, seen
    assert seen["volume"] and seen["sentiment"] and seen["responses"], seen
    return seen


def test_the_wall_follows_the_room_live_and_shows_who_is_in_it(
    transactional_db, room_server, signed_in_page, make_user, artifacts
):
    lead = make_user(roles.LEAD, "leo", last_name="Lead")
    maya = make_user(roles.COMMUNITY_MANAGER, "maya")
    lena = make_user(roles.LEGAL, "lena")
    account = Account.objects.create(name="Brand US", handle="brand_us")

    wall = signed_in_page(room_server, lead, "/wall/")
    wall.evaluate("window.notReloaded = true")
    expect(wall.locator("#wall-pause")).to_contain_text("Queue running")
    expect(wall.locator("#room-presence")).to_contain_text("Leo Lead")

    # Maya opens the Queue in another browser: the Wall shows her there.
    queue = signed_in_page(room_server, maya, "/queue/")
    expect(wall.locator("#room-presence")).to_contain_text(re.compile(r"Maya\s+community manager\s+on Queue"), timeout=LIVE)
    expect(queue.locator("#room-presence")).to_contain_text("Leo Lead")

    # Mentions arrive: the per-minute chart counts them.
    ingest(["The lights went out!", "Blackout at the Super Bowl", "Best ad of the night"])
    expect(wall.locator("#volume-now")).to_contain_text("3 in the hour", timeout=LIVE)
    expect(wall.locator("#sentiment-shares")).to_contain_text("% positive", timeout=LIVE)
    charts_agree_with_json(wall)

    # A P1 case opens: the SLA tile names it as the oldest waiting.
    def open_case():
        mention = Mention.objects.filter(text="The lights went out!").get()
        return triage.case_open_from_mention(mention_id=mention.id, priority="P1")

    case = off_main_thread(open_case)
    expect(wall.locator("#wall-sla")).to_contain_text(f"Oldest waiting: P1 #{case.id}", timeout=LIVE)

    # Maya takes it in her browser, and answers publicly via legal: legal's count goes up.
    def submit():
        post = approvals.post_create(author=maya, account_id=account.id, text="We see you, stadium. Lights back soon.",
                                     publish_at=timezone.now() + timedelta(hours=1))
        return approvals.post_submit(post_id=post.id, user=maya, checklist=TICKED)

    off_main_thread(submit)
    expect(wall.locator("#wall-legal .big")).to_have_text("1", timeout=POLLED)
    expect(wall.locator("#wall-legal")).to_contain_text("We see you, stadium.")

    # Legal says Yes in a third browser: nothing waits for legal any more.
    legal = signed_in_page(room_server, lena, "/approvals/")
    expect(legal.locator("#requests .approval-item")).to_have_count(1)
    legal.keyboard.press("y")
    expect(wall.locator("#wall-legal .big")).to_have_text("0", timeout=LIVE)

    # The lead pauses the queue from anywhere: the Wall turns red.
    off_main_thread(lambda: approvals.queue_pause(user=lead, reason="Blackout in the stadium: hold everything"))
    pause = wall.locator("#wall-pause")
    expect(pause).to_have_class(re.compile(r"\bpaused\b"), timeout=LIVE)
    expect(pause).to_contain_text("PAUSED")
    expect(pause).to_contain_text("Blackout in the stadium: hold everything")
    background = wall.evaluate("getComputedStyle(document.getElementById('wall-pause')).backgroundColor")
    assert background.startswith("rgb(") and background != "rgb(24, 32, 41)"

    # Maya closes her tab: she is gone from the Wall within seconds.
    queue.context.close()
    expect(wall.locator("#room-presence")).not_to_contain_text("Maya", timeout=5000)
    assert wall.evaluate("window.notReloaded") is True
    assert wall.evaluate("document.body.dataset.wallErrors") == "0"


def test_readme_screenshot_of_the_wall_on_demo_night(transactional_db, room_server, signed_in_page, make_user, artifacts):
    lead = make_user(roles.LEAD, "rosa", last_name="Lead")
    maya = make_user(roles.COMMUNITY_MANAGER, "maya", last_name="Ortiz")
    lines = [json.loads(line) for line in DEMO.read_text().splitlines()[:1200]]
    now = timezone.now()

    def night():
        listening.rule_create(user=lead, name="Blackout", kind="keyword", query='blackout OR "lights out"', priority="P1",
                              open_case=True)
        listening.rule_create(user=lead, name="Volume", kind="spike", query="", spike_window_minutes=5, spike_factor=3,
                              spike_min_count=40, priority="P2")
        source = listening.source_create(user=lead, name="Super Bowl night", kind="demo", query_text="speed=10",
                                         poll_interval=5)
        # A quiet hour, then the blackout: most mentions in the last five minutes.
        fetched = []
        for n, line in enumerate(lines):
            minutes_ago = 60 - n * 55 / 900 if n < 900 else (1199 - n) / 60
            fetched.append(FetchedMention(external_id=line["id"], text=line["text"],
                                          posted_at=now - timedelta(minutes=minutes_ago),
                                          author_handle=line["handle"], author_name=line["name"],
                                          author_followers=line["followers"], lang=line.get("lang", "")))
        for start in range(0, len(fetched), 200):
            listening.mention_ingest_batch(source_id=source.id, fetched=fetched[start:start + 200])
        listening.spikes_check(now=now)
        account = Account.objects.create(name="Brand US", handle="brand_us")
        post = approvals.post_create(author=maya, account_id=account.id, text="Lights out? Our chips still glow.")
        approvals.post_submit(post_id=post.id, user=maya, checklist=TICKED)
        approvals.queue_pause(user=lead, reason="Blackout in the stadium: hold every scheduled post")
        from triage.models import Case

        for n, case in enumerate(Case.objects.order_by("id")[:12]):  # answered in the last hour
            Case.objects.filter(id=case.id).update(opened_at=now - timedelta(minutes=40 + n),
                                                   first_responded_at=now - timedelta(minutes=30 - n * 2))

    off_main_thread(night)
    signed_in_page(room_server, maya, "/queue/")
    wall = signed_in_page(room_server, lead, "/wall/")
    expect(wall.locator("#wall-pause")).to_have_class(re.compile(r"\bpaused\b"))
    expect(wall.locator("#volume-spikes")).to_contain_text("Spike now", timeout=LIVE)
    expect(wall.locator("#room-presence")).to_contain_text("Maya Ortiz", timeout=LIVE)
    seen = charts_agree_with_json(wall)
    assert seen["volumeSpiking"] > 0  # the minutes of the open spike are drawn in the spike colour
    assert seen["responsesAnswered"] > 0
    expect(wall.locator("#responses-chart canvas")).to_be_visible()
    wall.evaluate("window.volumeChart = window.__wallCharts.volume")
    wall.set_viewport_size({"width": 1600, "height": 1000})
    # A bigger screen resizes the same chart to its box.
    wait_until(wall, "() => { const u = window.__wallCharts.volume, box = document.getElementById('volume-chart');"
                     " return u === window.volumeChart && Math.abs(u.width - box.clientWidth) <= 1; }", timeout=LIVE)
    wall.emulate_media(color_scheme="light")
    wall.wait_for_timeout(300)
    wall.screenshot(path=str(artifacts / "wall-light.png"))
    wall.emulate_media(color_scheme="dark")
    wall.wait_for_timeout(300)
    target = screenshot_dir(artifacts)
    wall.screenshot(path=str(target / "wall.png"))
    assert (target / "wall.png").stat().st_size > 0
    # t switches the theme by hand, and the choice outlives a reload.
    wall.keyboard.press("t")
    expect(wall.locator("body")).to_have_attribute("data-theme", "light")
    wall.reload()
    expect(wall.locator("body")).to_have_attribute("data-theme", "light")


def test_presence_appears_and_disappears_with_a_second_browser(transactional_db, room_server, signed_in_page, make_user):
    first = signed_in_page(room_server, make_user(roles.LEAD, "leo", last_name="Lead"), "/")
    first.evaluate("window.notReloaded = true")
    people = first.locator("#room-presence .person")
    expect(people).to_have_count(1)
    expect(people.first).to_contain_text("Leo Lead")

    second = signed_in_page(room_server, make_user(roles.LEGAL, "lena", last_name="Legal"), "/approvals/")
    expect(people).to_have_count(2, timeout=LIVE)
    expect(first.locator("#room-presence")).to_contain_text(re.compile(r"Lena Legal\s+legal\s+on Approvals"))
    expect(first.locator("#room-presence .count")).to_have_text("2")

    # She moves to the Wall: her page changes in the list.
    second.goto(room_server.url + "/wall/")
    expect(first.locator("#room-presence")).to_contain_text(re.compile(r"Lena Legal\s+legal\s+on Wall"), timeout=LIVE)

    second.context.close()
    expect(people).to_have_count(1, timeout=5000)
    expect(first.locator("#room-presence")).not_to_contain_text("Lena")
    assert first.evaluate("window.notReloaded") is True


def test_a_night_of_events_and_reconnects_does_not_grow_the_wall(transactional_db, room_server, signed_in_page, make_user):
    lead = make_user(roles.LEAD, "leo")
    wall = signed_in_page(room_server, lead, "/wall/")
    wall.evaluate("window.notReloaded = true; window.opens = 0;"
                  "document.body.addEventListener('htmx:wsOpen', () => window.opens++)")
    ingest(["warming up"])
    expect(wall.locator("#volume-now")).to_contain_text("1 in the hour", timeout=LIVE)
    count_nodes = "document.getElementById('wall').getElementsByTagName('*').length"
    before = wall.evaluate(count_nodes)
    charts_agree_with_json(wall)
    wall.evaluate("window.firstCharts = Object.assign({}, window.__wallCharts)")
    for round_ in range(5):
        for n in range(4):
            off_main_thread(lambda: announcement_post(author=lead, text=f"round {round_} note {n}"))
        # Cut the socket (as a flaky venue network or a server restart does): the page reconnects by itself.
        wall.evaluate("document.body['htmx-internal-data'].webSocket.socket.close()")
        wait_until(wall, "n => window.opens >= n", arg=round_ + 1, timeout=LIVE)
        expect(wall.locator("#connection")).to_have_class(re.compile(r"\bdot-live\b"), timeout=LIVE)
    ingest(["the last one"])
    expect(wall.locator("#volume-now")).to_contain_text("2 in the hour", timeout=LIVE)
    # What the Wall shows after the night is what a fresh Wall shows (both redraw on the
    # same events; a minute turning between the two reads only delays agreement).
    fresh = signed_in_page(room_server, lead, "/wall/")
    expect(fresh.locator("#volume-now")).to_contain_text("2 in the hour", timeout=LIVE)
    deadline = time.monotonic() + 20
    while wall.evaluate(count_nodes) != fresh.evaluate(count_nodes) and time.monotonic() < deadline:
        fresh.wait_for_timeout(500)
    assert wall.evaluate(count_nodes) == fresh.evaluate(count_nodes)
    assert abs(wall.evaluate(count_nodes) - before) < 20  # bounded: the same panels and charts, redrawn
    # The charts are the ones made at first sight, given new data (not new charts on every redraw),
    # and they show what a fresh Wall shows.
    assert wall.evaluate("['volume', 'sentiment', 'responses'].every(k => window.__wallCharts[k] === window.firstCharts[k])")
    charts_agree_with_json(wall)
    charts_agree_with_json(fresh)
    assert wall.locator("#room-events li.event").count() <= 200
    assert wall.evaluate("window.opens") == 5  # it did reconnect each time
    assert wall.evaluate("window.notReloaded") is True
