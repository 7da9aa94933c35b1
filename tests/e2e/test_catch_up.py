"""Catch-up: the socket is cut, events are published meanwhile, the page reconnects and
shows all of them, in order, once, without reloading.

The cut is real: the daphne process the page is connected to is killed (SIGKILL), the
announcements are published by `manage.py announce` in separate processes while nothing
is listening, and a new daphne is started on the same port for the page to reconnect to.
"""

import re

from playwright.sync_api import Page, expect

from tests.conftest import manage
from tests.e2e.support import announce_here, signed_in_page, wait_until  # noqa: F401  (a fixture)
from warroom import roles
from warroom.models import LiveEvent

LIVE = re.compile(r"\bdot-live\b")
RECONNECT_TIMEOUT = 20000  # ms: the page backs off up to 5 s between attempts


def announce(lead, text: str) -> int:
    """Publish an announcement from another process; return the id of its live event."""
    manage("announce", text, "--as", lead.username)
    return LiveEvent.objects.filter(kind="room.announced", payload__summary=text).get().id


def rail_ids(page: Page) -> list[int]:
    """The live ids of the rows in the activity rail, top to bottom."""
    return page.eval_on_selector_all("#room-events li.event", "rows => rows.map(row => Number(row.dataset.liveId))")


def mark_page(page: Page) -> None:
    """Leave a marker on `window`: it survives anything but a reload."""
    page.evaluate("window.__warroomSamePage = true")


def assert_not_reloaded(page: Page) -> None:
    assert page.evaluate("window.__warroomSamePage === true"), "the page was reloaded"
    assert page.evaluate("performance.getEntriesByType('navigation').length") == 1


def cut(page: Page, server) -> None:
    """Kill the server under the page and wait until the page shows it has lost the room."""
    server.kill()
    expect(page.locator("#connection")).not_to_have_class(LIVE, timeout=10000)
    expect(page.locator("#connection .dot-label")).not_to_have_text("live")


def reconnect(page: Page, start_server, server):
    """Start a new server on the port the page keeps trying; wait until the page is live again."""
    restarted = start_server(port=server.port)
    expect(page.locator("#connection")).to_have_class(LIVE, timeout=RECONNECT_TIMEOUT)
    return restarted


def wait_verified(page: Page, event_id: int) -> None:
    """Wait until the server has told the page that every event up to `event_id` was sent
    (the periodic sync does this after it has looked at the table again)."""
    wait_until(page, "n => Number(document.body.dataset.liveVerified || 0) >= n", arg=event_id, timeout=RECONNECT_TIMEOUT)


def assert_rail(page: Page, texts_newest_first: list[str], ids_newest_first: list[int]) -> None:
    """The rail shows exactly these events, each once, newest first."""
    rows = page.locator("#room-events li.event")
    expect(rows).to_have_count(len(ids_newest_first), timeout=RECONNECT_TIMEOUT)
    expect(rows.locator(".summary")).to_have_text(texts_newest_first)
    shown = rail_ids(page)
    assert shown == ids_newest_first, f"rail shows ids {shown}, expected {ids_newest_first}"
    for event_id in ids_newest_first:
        expect(page.locator(f"#event-{event_id}")).to_have_count(1)


def test_a_page_cut_off_shows_everything_it_missed_once_in_order(
    transactional_db, start_server, signed_in_page, make_user
):
    lead = make_user(roles.LEAD, "lead")
    server = start_server()
    page = signed_in_page(server, make_user(roles.COMMUNITY_MANAGER, "maya"))
    expect(page.locator("#room-events li.event")).to_have_count(0)
    mark_page(page)

    cut(page, server)
    published = [f"Missed while offline #{n}" for n in range(1, 6)]
    ids = [announce(lead, text) for text in published][::-1]
    texts = published[::-1]
    assert ids == sorted(ids, reverse=True)

    reconnect(page, start_server, server)

    assert_rail(page, texts, ids)
    # Later sync rounds look at the table again; they must not add anything twice.
    wait_verified(page, ids[0])
    later = announce_here(lead, "Back online")
    wait_verified(page, later)
    assert_rail(page, ["Back online", *texts], [later, *ids])
    assert_not_reloaded(page)


def test_events_before_during_and_after_a_cut_interleave_once(
    transactional_db, start_server, signed_in_page, make_user
):
    lead = make_user(roles.LEAD, "lead")
    before_page = announce_here(lead, "Before the page opened")
    server = start_server()
    page = signed_in_page(server, make_user(roles.LEGAL, "lena"))
    assert_rail(page, ["Before the page opened"], [before_page])
    mark_page(page)

    connected = announce_here(lead, "While connected")
    assert_rail(page, ["While connected", "Before the page opened"], [connected, before_page])

    cut(page, server)
    during = [announce(lead, "During the cut A"), announce(lead, "During the cut B")]
    reconnect(page, start_server, server)
    after = announce_here(lead, "After the reconnect")

    expected_texts = [
        "After the reconnect", "During the cut B", "During the cut A", "While connected", "Before the page opened"
    ]
    expected_ids = [after, during[1], during[0], connected, before_page]
    assert expected_ids == sorted(expected_ids, reverse=True)
    assert_rail(page, expected_texts, expected_ids)
    wait_verified(page, after)
    assert_rail(page, expected_texts, expected_ids)
    assert_not_reloaded(page)


def test_a_page_that_lost_the_room_says_reconnecting_until_it_is_back(
    transactional_db, start_server, signed_in_page, make_user
):
    """An empty room (nothing published yet) is the case where the page has no event id to
    tell it that it was connected before."""
    server = start_server()
    page = signed_in_page(server, make_user(roles.PRODUCER, "pia"))
    page.evaluate(
        """() => {
          const dot = document.getElementById("connection");
          window.__dotStates = [];
          new MutationObserver(() => window.__dotStates.push(dot.querySelector(".dot-label").textContent))
            .observe(dot, {attributes: true, childList: true, subtree: true, characterData: true});
        }"""
    )
    cut(page, server)
    expect(page.locator("#connection")).to_have_class(re.compile(r"\bdot-reconnecting\b"))
    # Let the page retry a few times against the dead port before the server comes back.
    wait_until(page, "window.__dotStates.length >= 4", timeout=RECONNECT_TIMEOUT)
    reconnect(page, start_server, server)
    states = page.evaluate("window.__dotStates")
    assert states[-1] == "live"
    shown_while_down = set(states[:-1])
    assert shown_while_down == {"reconnecting"}, f"while the room was unreachable the dot showed {states}"
