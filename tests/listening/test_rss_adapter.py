"""The RSS / Atom adapter against a loopback feed server. No database: sources stay unsaved."""

import gzip
import socket
from types import SimpleNamespace
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import pytest

from listening.adapters import FetchResult, PermanentError, RateLimited, TransientError
from listening.adapters import rss
from listening.models import Source
from tests.fakes.rss import rss_feed  # noqa: F401  (fixture)


ESTABLISHED = {"seen": []}  # a source that has read its feed before: it reads every item, whatever its date


def source(url: str, cursor: dict | None = None) -> Source:
    return Source(name="Feed", kind=Source.Kind.RSS, query=url, cursor=cursor if cursor is not None else dict(ESTABLISHED))


def poll(url: str, cursor: dict | None = None) -> FetchResult:
    return rss.fetch(source(url, cursor))


FEEDS = pytest.mark.parametrize("which", ["rss_url", "atom_url"])


# --- parsing ------------------------------------------------------------------------------------


def test_rss_items_become_mentions(rss_feed):
    first = rss_feed.add_item("Price cut announced", "<p>All plans <b>20%</b> off</p>", guid="urn:wire:1",
                              link="https://news.example/story/1", published=datetime(2025, 3, 1, 9, 30, tzinfo=timezone.utc),
                              author="Ada Reporter")
    rss_feed.add_item("Outage report", "Checkout is down", guid="https://news.example/story/2",
                      link="https://news.example/story/2", published=datetime(2025, 3, 1, 10, 0, tzinfo=timezone.utc))

    result = poll(rss_feed.rss_url)

    assert [m.external_id for m in result.mentions] == ["urn:wire:1", "https://news.example/story/2"]  # oldest first
    one, two = result.mentions
    assert one.text == "Price cut announced — All plans 20% off"
    assert one.author_name == "Ada Reporter"
    assert one.author_handle == "127.0.0.1"
    assert one.url == first.link
    assert one.posted_at == datetime(2025, 3, 1, 9, 30, tzinfo=timezone.utc)
    assert one.lang == "en-us"
    assert two.text == "Outage report — Checkout is down"
    assert two.author_name == "Fake Wire"  # no author: the feed's title
    assert result.notes == []
    assert result.reads == 0


def test_atom_entries_become_mentions(rss_feed):
    rss_feed.add_item("Launch day", "<p>We are <em>live</em> &amp; ready</p>", guid="tag:news.example,2025:1",
                      link="https://news.example/launch", published=datetime(2025, 4, 2, 8, 0, tzinfo=timezone.utc),
                      author="Grace Editor")

    result = poll(rss_feed.atom_url)

    [mention] = result.mentions
    assert mention.external_id == "tag:news.example,2025:1"
    assert mention.text == "Launch day — We are live & ready"
    assert mention.author_name == "Grace Editor"
    assert mention.author_handle == "127.0.0.1"
    assert mention.url == "https://news.example/launch"
    assert mention.posted_at == datetime(2025, 4, 2, 8, 0, tzinfo=timezone.utc)
    assert mention.lang == "en"


@FEEDS
def test_html_in_summaries_becomes_plain_text(rss_feed, which):
    rss_feed.add_item(
        "Statement",
        '<div><p>We hear you.</p><script>alert("owned")</script><style>p{color:red}</style>'
        '<img src="x" onerror="alert(1)"><a href="javascript:alert(2)">Read more</a>'
        '<iframe src="https://evil.example/"></iframe> &lt;3 &amp; thanks</div>',
    )

    [mention] = poll(getattr(rss_feed, which)).mentions

    assert "<script" not in mention.text.lower()
    assert "alert" not in mention.text
    assert "<" not in mention.text.replace("<3", "")  # no markup at all, only the literal "<3"
    assert mention.text == "Statement — We hear you. Read more <3 & thanks"


def test_an_html_title_in_rss_loses_its_tags(rss_feed):
    rss_feed.add_item("<b>Big</b> news", "")
    [mention] = poll(rss_feed.rss_url).mentions
    assert mention.text == "Big news"


def test_entry_ids_fall_back_to_link_then_a_stable_hash(rss_feed):
    rss_feed.conditional = False
    rss_feed.add_item("Linked only", "s", no_guid=True, link="https://news.example/a")
    rss_feed.add_item("Nothing but words", "s", no_guid=True, link=None)
    rss_feed.add_item("Bare number id", "s", guid="42")

    result = poll(rss_feed.rss_url)
    ids = {m.text.split(" — ")[0]: m.external_id for m in result.mentions}

    assert ids["Linked only"] == "https://news.example/a"
    assert ids["Nothing but words"].startswith("sha256:") and len(ids["Nothing but words"]) == 71
    # a bare "42" would collide with another feed's "42": it is qualified with the feed's URL
    assert ids["Bare number id"].startswith(rss_feed.rss_url) and ids["Bare number id"].endswith("42")
    assert all(len(i) <= 128 for i in ids.values())
    # the hash is stable: the next poll recognises every item
    assert poll(rss_feed.rss_url, result.cursor).mentions == []


def test_only_web_links_are_kept_and_relative_links_resolve(rss_feed):
    rss_feed.add_item("Sneaky", "s", link="javascript:alert(1)")
    rss_feed.add_item("Relative", "s", link="/story/7")

    by_title = {m.text.split(" — ")[0]: m for m in poll(rss_feed.rss_url).mentions}

    assert by_title["Sneaky"].url == ""
    assert by_title["Relative"].url == rss_feed.base_url + "/story/7"


def test_undated_and_future_items_are_dated_now(rss_feed):
    rss_feed.add_item("Undated", "s", no_date=True)
    rss_feed.add_item("From the future", "s", published=datetime(2999, 1, 1, tzinfo=timezone.utc))
    before = datetime.now(timezone.utc)

    result = poll(rss_feed.rss_url)

    after = datetime.now(timezone.utc)
    assert len(result.mentions) == 2
    for mention in result.mentions:
        assert mention.posted_at.tzinfo is not None
        assert before <= mention.posted_at <= after


def test_requests_identify_the_room(rss_feed):
    poll(rss_feed.rss_url)
    assert rss_feed.requests[-1].headers["user-agent"] == "Warroom/0.1 (+rss)"


# --- conditional GET and the seen list -------------------------------------------------------


@FEEDS
def test_conditional_get_answers_304_then_brings_a_new_item_once(rss_feed, which):
    url = getattr(rss_feed, which)
    rss_feed.add_item("First", "one")

    first = poll(url)
    assert [m.text for m in first.mentions] == ["First — one"]
    assert first.cursor["etag"] and first.cursor["modified"]
    assert "if-none-match" not in rss_feed.requests[-1].headers

    second = poll(url, first.cursor)
    sent = rss_feed.requests[-1].headers
    assert sent["if-none-match"] == first.cursor["etag"]
    assert sent["if-modified-since"] == first.cursor["modified"]
    assert second.mentions == []
    assert second.cursor == first.cursor

    rss_feed.add_item("Second", "two")
    third = poll(url, second.cursor)
    assert [m.text for m in third.mentions] == ["Second — two"]
    assert third.cursor["etag"] != first.cursor["etag"]

    fourth = poll(url, third.cursor)
    assert fourth.mentions == [] and fourth.cursor == third.cursor


def test_if_modified_since_alone_is_enough(rss_feed):
    rss_feed.add_item("First", "one")
    cursor = poll(rss_feed.rss_url).cursor
    del cursor["etag"]

    result = poll(rss_feed.rss_url, cursor)

    assert "if-none-match" not in rss_feed.requests[-1].headers
    assert rss_feed.requests[-1].headers["if-modified-since"] == cursor["modified"]
    assert result.mentions == [] and result.cursor == cursor


def test_a_feed_without_conditional_get_still_returns_each_item_once(rss_feed):
    rss_feed.conditional = False
    rss_feed.add_item("One", "a")
    rss_feed.add_item("Two", "b")

    first = poll(rss_feed.rss_url)
    assert [m.text for m in first.mentions] == ["One — a", "Two — b"]
    assert "etag" not in first.cursor and "modified" not in first.cursor

    second = poll(rss_feed.rss_url, first.cursor)
    assert second.mentions == []
    assert "if-none-match" not in rss_feed.requests[-1].headers

    rss_feed.add_item("Three", "c")
    third = poll(rss_feed.rss_url, second.cursor)
    assert [m.text for m in third.mentions] == ["Three — c"]
    assert poll(rss_feed.rss_url, third.cursor).mentions == []


def test_the_etag_is_never_dropped(rss_feed):
    rss_feed.add_item("One", "a")
    cursor = poll(rss_feed.rss_url).cursor
    rss_feed.conditional = False  # the server stops sending validators
    rss_feed.add_item("Two", "b")

    result = poll(rss_feed.rss_url, cursor)

    assert [m.text for m in result.mentions] == ["Two — b"]
    assert result.cursor["etag"] == cursor["etag"]
    assert result.cursor["modified"] == cursor["modified"]


def test_the_seen_list_is_bounded_but_covers_the_whole_feed(rss_feed, monkeypatch):
    monkeypatch.setattr(rss, "SEEN_LIMIT", 3)
    rss_feed.conditional = False
    for n in range(5):
        rss_feed.add_item(f"Item {n}", "s", guid=f"urn:i:{n}")

    cursor = poll(rss_feed.rss_url, {"seen": [f"urn:old:{n}" for n in range(10)]}).cursor
    assert len(cursor["seen"]) == 5  # every id still in the feed, even past the limit
    assert set(cursor["seen"]) == {f"urn:i:{n}" for n in range(5)}

    stale = {"seen": ["urn:i:4", "urn:old:1", "urn:old:2", "urn:old:3"]}
    monkeypatch.setattr(rss, "SEEN_LIMIT", 6)
    seen = poll(rss_feed.rss_url, stale).cursor["seen"]
    assert seen[:5] == [f"urn:i:{n}" for n in (4, 3, 2, 1, 0)] and seen[5:] == ["urn:old:1"]


def test_a_garbled_cursor_is_treated_as_empty(rss_feed):
    rss_feed.add_item("One", "a")
    result = poll(rss_feed.rss_url, {"etag": 7, "modified": None, "seen": "nope"})
    assert [m.text for m in result.mentions] == ["One — a"]
    assert "if-none-match" not in rss_feed.requests[-1].headers


# --- malformed bodies -----------------------------------------------------------------------


def test_truncated_xml_returns_the_items_it_has_with_a_note(rss_feed):
    rss_feed.serve_raw(
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>Cut</title>'
        b"<item><title>one</title><guid>urn:1</guid></item><item><title>two</title><guid>urn:2</guid></item>"
        b"<item><title>thr",
        "application/rss+xml",
    )
    result = poll(rss_feed.rss_url)
    assert [m.external_id for m in result.mentions][:2] == ["urn:1", "urn:2"]
    assert result.notes and "not well-formed" in result.notes[0]


@pytest.mark.parametrize("body, content_type", [
    (b"\x00\x01\x02 <<< definitely not xml", "application/rss+xml"),
    (b"<html><body><h1>Welcome</h1></body></html>", "text/html"),
    (b"<html><body><h1>Welcome</h1></body></html>", "text/xml"),
])
def test_a_body_with_no_feed_in_it_is_a_transient_error_in_words(rss_feed, body, content_type):
    rss_feed.serve_raw(body, content_type)
    with pytest.raises(TransientError) as caught:
        poll(rss_feed.rss_url)
    assert "RSS or Atom" in str(caught.value)


def test_feedparser_never_opens_what_the_body_names(rss_feed, tmp_path):
    # Given bytes rather than a stream, feedparser treats them as a file name first.
    local = tmp_path / "local.xml"
    local.write_bytes(b'<rss version="2.0"><channel><item><title>LOCAL FILE</title></item></channel></rss>')
    rss_feed.serve_raw(str(local).encode(), "text/plain")
    with pytest.raises(TransientError):
        poll(rss_feed.rss_url)


@pytest.mark.parametrize("body, content_type, expected", [
    (b'<?xml version="1.0" encoding="windows-1252"?><rss version="2.0"><channel><title>t</title>'
     b"<item><title>caf\xe9 \x93quoted\x94</title></item></channel></rss>", "application/xml", "café “quoted”"),
    ('<?xml version="1.0" encoding="utf-16"?><rss version="2.0"><channel><title>t</title>'
     "<item><title>مرحبا 🎉</title></item></channel></rss>".encode("utf-16"), "application/xml", "مرحبا 🎉"),
    (b'<?xml version="1.0" encoding="iso-8859-1"?><rss version="2.0"><channel><title>t</title>'
     b"<item><title>na\xefve</title></item></channel></rss>", "text/xml; charset=iso-8859-1", "naïve"),
])
def test_odd_encodings_decode(rss_feed, body, content_type, expected):
    rss_feed.serve_raw(body, content_type)
    [mention] = poll(rss_feed.rss_url).mentions
    assert mention.text == expected


def test_unicode_passes_through_without_crashing(rss_feed):
    rss_feed.add_item("Launch 🚀🔥 שלום עולם", "مرحبا بالعالم \u202eevil\u202c 👩🏽‍💻 zero\x00byte")

    result = poll(rss_feed.rss_url)  # the NUL makes the XML malformed: read anyway, with a note

    [mention] = result.mentions
    assert "🚀🔥" in mention.text and "שלום עולם" in mention.text
    assert "مرحبا بالعالم" in mention.text and "👩🏽‍💻" in mention.text
    assert "\x00" not in mention.text and "zerobyte" in mention.text


# --- HTTP failures ----------------------------------------------------------------------------


def test_404_is_a_permanent_error_in_words(rss_feed):
    with pytest.raises(PermanentError) as caught:
        poll(rss_feed.base_url + "/no-such-feed.xml")
    assert str(caught.value) == "The feed answered 404 Not Found: check the URL."


@pytest.mark.parametrize("status, words", [(410, "410 Gone"), (401, "401 Unauthorized"), (403, "403 Forbidden")])
def test_gone_and_refused_are_permanent(rss_feed, status, words):
    rss_feed.fail_next(status=status)
    with pytest.raises(PermanentError) as caught:
        poll(rss_feed.rss_url)
    assert words in str(caught.value)


def test_503_with_retry_after_seconds_is_rate_limited(rss_feed):
    rss_feed.fail_next(status=503, retry_after=120)
    before = datetime.now(timezone.utc)
    with pytest.raises(RateLimited) as caught:
        poll(rss_feed.rss_url)
    after = datetime.now(timezone.utc)
    assert before + timedelta(seconds=120) <= caught.value.reset_at <= after + timedelta(seconds=120)
    assert "503 Service Unavailable" in str(caught.value)


def test_429_with_retry_after_date_is_rate_limited_until_then(rss_feed):
    when = (datetime.now(timezone.utc) + timedelta(hours=1)).replace(microsecond=0)
    rss_feed.fail_next(status=429, retry_after=format_datetime(when, usegmt=True))
    with pytest.raises(RateLimited) as caught:
        poll(rss_feed.rss_url)
    assert caught.value.reset_at == when


def test_429_without_retry_after_still_backs_off(rss_feed):
    rss_feed.fail_next(status=429)
    with pytest.raises(RateLimited) as caught:
        poll(rss_feed.rss_url)
    assert caught.value.reset_at > datetime.now(timezone.utc)


@pytest.mark.parametrize("status, retry_after", [(500, None), (502, None), (503, None), (503, "soon-ish")])
def test_other_server_errors_are_transient(rss_feed, status, retry_after):
    rss_feed.fail_next(status=status, retry_after=retry_after)
    with pytest.raises(TransientError) as caught:
        poll(rss_feed.rss_url)
    assert f"answered {status}" in str(caught.value) and "try again" in str(caught.value)


def test_a_slow_server_times_out_as_transient(rss_feed, monkeypatch):
    monkeypatch.setattr(rss, "READ_TIMEOUT", 0.2)
    rss_feed.add_item("Late", "news")
    rss_feed.delay_next(30)  # cut short at teardown
    with pytest.raises(TransientError) as caught:
        poll(rss_feed.rss_url)
    assert "did not answer within 0.2 seconds" in str(caught.value)


def test_a_trickling_server_hits_the_overall_deadline(rss_feed, monkeypatch):
    monkeypatch.setattr(rss, "TOTAL_TIMEOUT", 0.2)
    rss_feed.add_item("Slow", "x" * 2000)
    rss_feed.trickle_next(interval=0.01)  # each byte well inside the read timeout
    with pytest.raises(TransientError) as caught:
        poll(rss_feed.rss_url)
    assert "took longer than 0.2 seconds" in str(caught.value)


def test_nothing_listening_is_transient(rss_feed):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(TransientError) as caught:
        poll(f"http://127.0.0.1:{port}/feed.rss")
    assert "Could not reach the feed at 127.0.0.1" in str(caught.value)


@pytest.mark.parametrize("url", ["", "not a url", "ftp://127.0.0.1/feed", "file:///etc/passwd", "http://"])
def test_a_url_that_is_not_a_web_address_is_permanent(url):
    with pytest.raises(PermanentError) as caught:
        poll(url)
    assert "http://" in str(caught.value)


# --- size cap ---------------------------------------------------------------------------------

SIX_MB = b'<?xml version="1.0"?><rss version="2.0"><channel><title>big</title><item><title>' + b"x" * (6 * 1024 * 1024) + b"</title></item></channel></rss>"


@pytest.mark.parametrize("content_length", [True, False])
def test_a_body_over_the_cap_is_an_error_in_words(rss_feed, content_length):
    rss_feed.serve_raw(SIX_MB, "application/rss+xml", content_length=content_length)
    with pytest.raises((PermanentError, TransientError)) as caught:
        poll(rss_feed.rss_url)
    assert "larger than 5 MB" in str(caught.value)


def test_a_compressed_body_is_capped_once_decompressed(rss_feed):
    bomb = gzip.compress(SIX_MB)
    assert len(bomb) < 100_000
    rss_feed.serve_raw(bomb, "application/rss+xml", headers={"Content-Encoding": "gzip"})
    with pytest.raises((PermanentError, TransientError)) as caught:
        poll(rss_feed.rss_url)
    assert "larger than 5 MB" in str(caught.value)


def test_a_compressed_feed_under_the_cap_is_read(rss_feed):
    rss_feed.add_item("Zipped", "fine")
    plain = rss_feed.render_rss()
    rss_feed.serve_raw(gzip.compress(plain), "application/rss+xml", headers={"Content-Encoding": "gzip"})
    assert [m.text for m in poll(rss_feed.rss_url).mentions] == ["Zipped — fine"]


@pytest.mark.parametrize("url", ["http://127.0.0.1:{port}/feed.xml", "http://169.254.169.254/latest/meta-data/",
                                 "http://[::1]:{port}/feed.xml", "http://10.1.2.3:6379/", "http://localhost:{port}/feed.xml"])
def test_feeds_on_private_or_reserved_addresses_are_refused(rss_feed, settings, url):
    """A feed URL must not make the worker read internal services (SSRF): the address the
    host resolves to is checked before connecting, and the connected peer after."""
    settings.RSS_ALLOW_INTERNAL_FEEDS = False
    source = SimpleNamespace(query=url.format(port=rss_feed.port), cursor={})
    with pytest.raises(PermanentError, match="private or reserved address.*public internet"):
        rss.fetch(source)
    assert rss_feed.requests == []  # refused before a byte was sent


def test_a_redirect_to_a_private_address_is_refused_too(settings):
    from listening.adapters.rss import NotPublic, _GuardedConnection

    settings.RSS_ALLOW_INTERNAL_FEEDS = False
    with pytest.raises(NotPublic, match="127.0.0.1"):
        _GuardedConnection("127.0.0.1", 9)._new_conn()  # the check runs on every connection a redirect opens


def test_a_new_source_starts_from_the_last_day_not_the_feeds_archive(rss_feed):
    now = datetime.now(timezone.utc)
    rss_feed.add_item("Old news", "from last year", guid="tag:x,1:old", published=now - timedelta(days=400))
    rss_feed.add_item("Yesterday's", "two days ago", guid="tag:x,1:older", published=now - timedelta(hours=50))
    rss_feed.add_item("This morning", "fresh", guid="tag:x,1:fresh", published=now - timedelta(hours=3))
    first = poll(rss_feed.rss_url, cursor={})
    assert [m.external_id for m in first.mentions] == ["tag:x,1:fresh"]
    assert "2 items older than 24 hours were skipped" in first.notes[0]
    rss_feed.add_item("Breaking", "now", guid="tag:x,1:breaking", published=now)
    second = poll(rss_feed.rss_url, cursor=first.cursor)  # the skipped ones are remembered as seen
    assert [m.external_id for m in second.mentions] == ["tag:x,1:breaking"]


@pytest.mark.parametrize("url", ["http://[::ffff:127.0.0.1]:{port}/feed.xml", "http://[::127.0.0.1]:{port}/feed.xml",
                                 "http://[64:ff9b::7f00:1]/feed.xml", "http://[64:ff9b:1::a00:5]/feed.xml",
                                 "http://[2002:7f00:1::1]/feed.xml", "http://[2001:0:4136:e378:8000:63bf:80ff:fffe]/feed.xml"])
def test_loopback_hidden_in_an_ipv6_wrapper_is_refused(rss_feed, settings, url):
    """NAT64, 6to4, Teredo, IPv4-compatible and IPv4-mapped addresses reach the IPv4 address
    inside them: a feed there is refused like the IPv4 address itself."""
    settings.RSS_ALLOW_INTERNAL_FEEDS = False
    with pytest.raises(PermanentError, match="private or reserved address.*public internet"):
        rss.fetch(SimpleNamespace(query=url.format(port=rss_feed.port), cursor={}))
    assert rss_feed.requests == []


@pytest.mark.parametrize("url", ["http://93.184.216.34:8080/feed.xml", "https://93.184.216.34:6379/", "http://[2606:4700::1]:22/"])
def test_a_feed_on_a_port_other_than_80_or_443_is_refused_before_connecting(settings, url):
    settings.RSS_ALLOW_INTERNAL_FEEDS = False
    with pytest.raises(PermanentError, match="the room only connects to ports 80 and 443"):
        rss.fetch(SimpleNamespace(query=url, cursor={}))


def test_a_redirect_to_another_port_is_refused_too(settings):
    from listening.adapters.rss import NotPublic, _GuardedConnection

    settings.RSS_ALLOW_INTERNAL_FEEDS = False
    with pytest.raises(NotPublic, match="port 8080"):
        _GuardedConnection("93.184.216.34", 8080)._new_conn()


def test_with_internal_feeds_allowed_any_port_is_read(rss_feed):
    rss_feed.add_item("On a high port", "fine")  # the fake listens on a random port: RSS_ALLOW_INTERNAL_FEEDS is on
    assert rss_feed.port not in (80, 443)
    assert [m.text for m in poll(rss_feed.rss_url).mentions] == ["On a high port — fine"]


def test_an_item_whose_id_has_a_nul_is_skipped_with_a_note_not_merged(rss_feed):
    body = (b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
            b'<item><title>plain</title><guid>tag:x,1:ab</guid></item>'
            b'<item><title>nul</title><guid>tag:x,1:a&#0;b</guid></item></channel></rss>')
    rss_feed.serve_raw(body)
    result = poll(rss_feed.rss_url)
    assert [(m.external_id, m.text) for m in result.mentions] == [("tag:x,1:ab", "plain")]
    assert any("NUL character" in note for note in result.notes)
