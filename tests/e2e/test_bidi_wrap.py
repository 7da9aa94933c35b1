"""Outside text in the browser: a 200-character name with no space wraps inside its Feed
card and the rail instead of running over them, every name, handle and source name is
isolated for bidi, and the bidi controls are gone, also from text stored before ingest
stripped them."""

from concurrent.futures import ThreadPoolExecutor

from django.db import connection
from playwright.sync_api import expect

from listening import services
from listening.models import Mention, Source
from tests.e2e.support import signed_in_page  # noqa: F401  (a fixture)
from tests.listening import factories as f
from warroom import roles

LONG_NAME = "Crunch" + "W" * 194  # 200 characters, nothing to break at
LONG_HANDLE = "h" * 100
LONG_SOURCE = "Partner" + "S" * 113  # the 120 a source name may have
LONG_USER = "Leo" + "P" * 147  # a person's first name, 150 characters, shown in the rail


def off_main_thread(work):
    """Playwright's event loop holds the main thread; the live layer sends with async_to_sync."""

    def run():
        try:
            return work()
        finally:
            connection.close()

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(run).result()


def overflow(page, selector: str) -> list[dict]:
    """Every element matching `selector` whose content is wider than its box."""
    return page.evaluate(
        """(selector) => [...document.querySelectorAll(selector)]
            .map((el) => ({id: el.id || el.className, scroll: el.scrollWidth, client: el.clientWidth}))
            .filter((box) => box.scroll > box.client)""",
        selector,
    )


def test_a_200_character_name_wraps_in_the_feed_card_and_the_rail(transactional_db, room_server, signed_in_page, make_user):
    lead = make_user(roles.LEAD, "leo")
    lead.first_name = LONG_USER
    lead.save(update_fields=["first_name"])
    source = f.source(Source.Kind.WEBHOOK, name=LONG_SOURCE)
    stored = f.fetched("Before the page opened", external_id="before", author_name=LONG_NAME, author_handle=LONG_HANDLE)
    off_main_thread(lambda: services.mention_ingest_batch(source_id=source.id, fetched=[stored]))

    page = signed_in_page(room_server, lead, "/feed/")
    expect(page.locator("#feed-rows li.mention")).to_have_count(1)
    expect(page.locator("#room-presence")).to_contain_text(LONG_USER, timeout=10000)
    live = f.fetched("Pushed while the page is open", external_id="live", author_name=LONG_NAME[::-1], author_handle=LONG_HANDLE)
    off_main_thread(lambda: services.mention_ingest_batch(source_id=source.id, fetched=[live]))
    expect(page.locator("#feed-rows li.mention")).to_have_count(2, timeout=15000)
    expect(page.locator("#room-events")).to_contain_text(LONG_SOURCE, timeout=15000)

    cards = page.locator("#feed-rows li.mention")
    for n in range(2):
        box = cards.nth(n).evaluate("(el) => ({scroll: el.scrollWidth, client: el.clientWidth, width: el.getBoundingClientRect().width})")
        assert box["scroll"] <= box["client"], f"Feed card {n} overflows: {box}"
        assert box["width"] < 1400
    assert overflow(page, "#feed-rows li.mention, #feed-rows .mention-head, #main, .layout") == []
    rail = page.locator("aside.rail").evaluate("(el) => ({scroll: el.scrollWidth, client: el.clientWidth})")
    assert rail["scroll"] <= rail["client"], f"the rail overflows: {rail}"
    assert overflow(page, "aside.rail, aside.rail li, #room-presence") == []
    assert page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")
    # The top bar keeps its one line: the long name of the signed-in person is cut, not the navigation.
    assert page.locator("header.topbar").evaluate("(el) => el.getBoundingClientRect().height") < 80
    assert page.locator("header.topbar nav a").first.evaluate("(el) => el.getClientRects().length") == 1
    page.screenshot(path="test-artifacts/bidi-wrap-feed.png", full_page=True)


def test_names_handles_and_sources_are_isolated_and_bidi_controls_are_never_shown(
    transactional_db, room_server, signed_in_page, make_user
):
    lead = make_user(roles.LEAD, "leo")
    source = f.source(Source.Kind.WEBHOOK, name="\u202eFeed of the enemy")
    arrived = f.fetched("\u202egnp.exe safe text\u202c ok", external_id="new", author_name="\u2067אבי\u2069 Cohen",
                        author_handle="\u202dhandle")
    off_main_thread(lambda: services.mention_ingest_batch(source_id=source.id, fetched=[arrived]))
    assert "\u202e" not in Mention.objects.get(external_id="new").text  # stripped on ingest
    # A mention stored before ingest stripped them: only the display can clean it.
    old = f.fetched("old text", external_id="old")
    off_main_thread(lambda: services.mention_ingest_batch(source_id=source.id, fetched=[old]))
    Mention.objects.filter(external_id="old").update(
        text="\u202eevil.exe\u202c stored before", author_name="Old \u202e\u2066name", author_handle="\u202bold")

    page = signed_in_page(room_server, lead, "/feed/")
    expect(page.locator("#feed-rows li.mention")).to_have_count(2)
    text = page.locator("#feed-rows").inner_text()
    for control in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069":
        assert control not in text
        assert control not in page.content()
    assert "evil.exe stored before" in text and "Old name" in text
    isolated = page.evaluate(
        """() => [...document.querySelectorAll('#feed-rows .author strong, #feed-rows .author .muted, #feed-rows .source')]
            .map((el) => !!el.querySelector(':scope > bdi') || el.closest('bdi, [dir]') !== null)"""
    )
    assert isolated and all(isolated)
    assert page.locator("#feed-rows .author bdi").count() == 4  # each name and each handle in its own isolate
