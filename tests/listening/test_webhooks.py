"""The signed webhook, POST /hooks/<token>/, through Django's test Client against real
PostgreSQL: good payloads are stored once; every refused request gets a status and a
message naming what was wrong, and leaves what is already stored exactly as it was."""

from warroom.text import without_bidi_controls
import hashlib
import json
import time

import pytest
from django.test import Client

from listening import webhooks
from listening.models import Mention, Source
from tests.fakes import webhook
from tests.listening import factories as f

pytestmark = pytest.mark.django_db

GOOD = {
    "id": "good-1",
    "text": "Loving the Crunchwave ad",
    "author": {"handle": "fan", "name": "A Fan", "followers": 1200},
    "url": "https://example.org/posts/good-1",
    "posted_at": "2026-02-08T23:14:00Z",
    "lang": "en",
}


def sign(source: Source, body: bytes, timestamp: int) -> str:
    return webhook.signed_headers(source.webhook_secret, body, timestamp=timestamp)["X-Warroom-Signature"]


def meta(headers: dict[str, str]) -> dict[str, str]:
    """HTTP headers as Django's test Client takes them."""
    return {"HTTP_" + name.upper().replace("-", "_"): value for name, value in headers.items()}


def encode(payload, *, ascii_only: bool = False) -> bytes:
    return json.dumps(payload, ensure_ascii=ascii_only).encode("utf-8")


def url(token: str) -> str:
    return f"/hooks/{token}/"


def post(source: Source, body: bytes, *, signature: str | None = None, client: Client | None = None,
         timestamp: int | None = None, legacy: bool = False, **extra):
    """POST `body` to the source's hook as the fake sender signs it (timestamped unless
    legacy=True), with `signature` instead of the right one if given."""
    headers = webhook.signed_headers(source.webhook_secret, body, timestamp=timestamp, legacy=legacy)
    if signature is not None:
        headers["X-Warroom-Signature"] = signature
    return (client or Client()).post(url(source.webhook_token), data=body, content_type="application/json",
                                     **meta(headers), **extra)


def error_of(response) -> str:
    return response.json()["error"]


@pytest.fixture
def source() -> Source:
    return f.source(Source.Kind.WEBHOOK, name="Partner hook")


@pytest.fixture
def stored(source):
    """One good mention stored through the hook; `stored()` asserts it and the source are untouched."""
    response = post(source, encode(GOOD))
    assert response.status_code == 200, response.content
    mentions = list(Mention.objects.order_by("id").values())
    source_row = Source.objects.filter(id=source.id).values().get()
    assert len(mentions) == 1

    def untouched():
        assert Mention.objects.count() == 1
        assert list(Mention.objects.order_by("id").values()) == mentions
        assert Source.objects.filter(id=source.id).values().get() == source_row

    return untouched


# --- Good payloads ----------------------------------------------------------------------


def test_a_single_mention_is_stored(source):
    response = post(source, encode(GOOD))
    assert response.status_code == 200
    assert response.json() == {"received": 1, "stored": 1, "duplicates": 0}
    mention = Mention.objects.get()
    assert mention.source == source and mention.platform == "webhook"
    assert mention.external_id == "good-1" and mention.text == GOOD["text"]
    assert (mention.author_handle, mention.author_name, mention.author_followers) == ("fan", "A Fan", 1200)
    assert mention.url == GOOD["url"] and mention.lang == "en"
    assert mention.posted_at.isoformat() == "2026-02-08T23:14:00+00:00"


def test_a_list_under_mentions_is_stored():
    source = f.source(Source.Kind.WEBHOOK)
    payload = {"mentions": [{**GOOD, "id": f"list-{i}", "text": f"post number {i}"} for i in range(3)]}
    response = post(source, encode(payload))
    assert response.status_code == 200
    assert response.json() == {"received": 3, "stored": 3, "duplicates": 0}
    assert sorted(Mention.objects.values_list("external_id", flat=True)) == ["list-0", "list-1", "list-2"]


def test_a_resend_of_the_same_id_is_stored_once(source, stored):
    response = post(source, encode({**GOOD, "text": "edited on resend"}))
    assert response.status_code == 200
    assert response.json() == {"received": 1, "stored": 0, "duplicates": 1}
    assert Mention.objects.get().text == GOOD["text"]


def test_the_same_id_twice_in_one_list_is_stored_once(source):
    payload = {"mentions": [{**GOOD, "text": "first"}, {**GOOD, "text": "second"}]}
    response = post(source, encode(payload))
    assert response.status_code == 200
    assert response.json() == {"received": 2, "stored": 1, "duplicates": 1}
    assert Mention.objects.get().text == "first"


# --- Who may post ------------------------------------------------------------------------


def test_a_wrong_signature_is_refused(source, stored):
    body = encode({**GOOD, "id": "forged"})
    response = post(source, body, signature="sha256=" + "0" * 64)
    assert response.status_code == 403
    assert "X-Warroom-Signature" in error_of(response)
    stored()


def test_a_missing_signature_header_is_refused(source, stored):
    body = encode({**GOOD, "id": "unsigned"})
    response = Client().post(url(source.webhook_token), data=body, content_type="application/json")
    assert response.status_code == 403
    assert "X-Warroom-Timestamp is missing" in error_of(response) and "X-Warroom-Signature" in error_of(response)
    response = post(source, body, signature="")
    assert response.status_code == 403
    assert "X-Warroom-Signature is missing or does not match" in error_of(response)
    stored()


# --- Timestamps against replay, and the legacy scheme ----------------------------------------


@pytest.mark.parametrize("skew", [-301, 301, -86_400, 10**9])
def test_a_timestamp_more_than_five_minutes_off_is_refused_as_a_replay(source, stored, skew):
    response = post(source, encode({**GOOD, "id": "replayed"}), timestamp=int(time.time()) + skew)
    assert response.status_code == 403
    message = error_of(response)
    assert "X-Warroom-Timestamp is" in message and "possible replay" in message
    assert ("ahead of" if skew > 0 else "behind") in message
    stored()


@pytest.mark.parametrize("skew", [-290, 290])
def test_a_timestamp_within_five_minutes_is_accepted(source, skew):
    response = post(source, encode({**GOOD, "id": f"skew{skew}"}), timestamp=int(time.time()) + skew)
    assert response.status_code == 200
    assert response.json()["stored"] == 1


def test_a_captured_request_sent_again_later_is_refused(source, stored, settings):
    """What an eavesdropper replays: the exact bytes and headers of a request that was accepted."""
    body = encode({**GOOD, "id": "captured", "text": "sent once"})
    then = int(time.time()) - 6 * 60
    headers = webhook.signed_headers(source.webhook_secret, body, timestamp=then)
    response = Client().post(url(source.webhook_token), data=body, content_type="application/json", **meta(headers))
    assert response.status_code == 403 and "replay" in error_of(response)
    stored()


def test_the_timestamp_is_part_of_what_is_signed(source, stored):
    body = encode({**GOOD, "id": "moved"})
    now = int(time.time())
    response = post(source, body, signature=sign(source, body, now - 1000), timestamp=now)  # a fresh stamp on an old signature
    assert response.status_code == 403
    stored()


@pytest.mark.parametrize("stamp", ["yesterday", "1770592440.5", "-5", "", "١٧٧٠٥٩٢٤٤٠", "9" * 40])
def test_a_timestamp_that_is_not_unix_seconds_is_refused_in_words(source, stored, stamp):
    body = encode({**GOOD, "id": "bad-stamp"})
    response = Client().post(url(source.webhook_token), data=body, content_type="application/json",
                             HTTP_X_WARROOM_TIMESTAMP=stamp, HTTP_X_WARROOM_SIGNATURE=sign(source, body, 0))
    assert response.status_code == 400
    assert "X-Warroom-Timestamp must be the Unix time in whole seconds" in error_of(response)
    stored()


def test_a_new_source_refuses_the_old_body_only_signature(source, stored):
    assert not source.webhook_legacy
    response = post(source, encode({**GOOD, "id": "old-style"}), legacy=True)
    assert response.status_code == 403
    assert "X-Warroom-Timestamp is missing" in error_of(response)
    stored()


def test_a_legacy_source_still_accepts_the_body_only_signature_and_the_new_one():
    legacy = f.source(Source.Kind.WEBHOOK, webhook_legacy=True)
    assert post(legacy, encode({**GOOD, "id": "old-style"}), legacy=True).json()["stored"] == 1
    assert post(legacy, encode({**GOOD, "id": "new-style"})).json()["stored"] == 1
    stale = post(legacy, encode({**GOOD, "id": "stale"}), timestamp=int(time.time()) - 3600)
    assert stale.status_code == 403  # a timestamp, once sent, is held to the window even on a legacy source
    wrong = post(legacy, encode({**GOOD, "id": "forged"}), legacy=True, signature="sha256=" + "0" * 64)
    assert wrong.status_code == 403 and "does not match the body" in error_of(wrong)
    assert sorted(Mention.objects.values_list("external_id", flat=True)) == ["new-style", "old-style"]


def test_a_real_sender_over_http_is_stored_once(live_server):
    """The fake partner system posting over a real socket, timestamped, then resending."""
    hook = f.source(Source.Kind.WEBHOOK, name="Partner over HTTP")
    address = f"{live_server.url}/hooks/{hook.webhook_token}/"
    first = webhook.send(address, hook.webhook_secret, {"mentions": [GOOD]})
    again = webhook.send(address, hook.webhook_secret, {"mentions": [GOOD]})
    assert first.status_code == 200 and first.json() == {"received": 1, "stored": 1, "duplicates": 0}
    assert again.json() == {"received": 1, "stored": 0, "duplicates": 1}
    old = webhook.send(address, hook.webhook_secret, {"mentions": [GOOD]}, legacy=True)
    assert old.status_code == 403 and "X-Warroom-Timestamp is missing" in old.json()["error"]


def test_a_signature_for_a_different_body_is_refused(source, stored):
    now = int(time.time())
    signed = encode({**GOOD, "id": "harmless"})
    sent = encode({**GOOD, "id": "harmless", "text": "swapped after signing"})
    response = post(source, sent, signature=sign(source, signed, now), timestamp=now)
    assert response.status_code == 403
    assert 'does not match "<timestamp>.<body>"' in error_of(response)
    stored()


def test_a_signature_made_with_another_sources_secret_is_refused(source, stored):
    now = int(time.time())
    other = f.source(Source.Kind.WEBHOOK)
    body = encode({**GOOD, "id": "cross"})
    response = post(source, body, signature=sign(other, body, now), timestamp=now)
    assert response.status_code == 403
    stored()


def test_a_non_ascii_signature_header_is_refused_not_a_crash(source, stored):
    response = post(source, encode({**GOOD, "id": "x"}), signature="sha256=é")
    assert response.status_code == 403
    stored()


def test_an_unknown_token_is_not_found(source, stored):
    body = encode({**GOOD, "id": "lost"})
    response = Client().post(url("no-such-token"), data=body, content_type="application/json",
                             **meta(webhook.signed_headers(source.webhook_secret, body)))
    assert response.status_code == 404
    assert "No webhook source has this address" in error_of(response)
    stored()


def test_the_token_of_a_source_that_is_not_a_webhook_is_not_found(stored):
    rss = f.source(Source.Kind.RSS, query="https://example.org/feed")
    response = post(rss, encode({**GOOD, "id": "via-rss"}))
    assert response.status_code == 404
    stored()


def test_a_disabled_source_is_refused(source, stored):
    Source.objects.filter(id=source.id).update(enabled=False)
    response = post(source, encode({**GOOD, "id": "while-disabled"}))
    assert response.status_code == 409
    assert "disabled" in error_of(response)
    assert Mention.objects.count() == 1


def test_get_is_not_allowed(source, stored):
    response = Client().get(url(source.webhook_token))
    assert response.status_code == 405
    stored()


def test_no_csrf_token_is_needed_because_the_body_is_signed(source):
    client = Client(enforce_csrf_checks=True)
    response = post(source, encode(GOOD), client=client)
    assert response.status_code == 200
    assert Mention.objects.count() == 1


def test_a_forged_request_without_csrf_token_or_signature_is_still_refused(source, stored):
    client = Client(enforce_csrf_checks=True)
    response = client.post(url(source.webhook_token), data=encode({**GOOD, "id": "forged"}), content_type="application/json")
    assert response.status_code == 403
    assert "X-Warroom-Signature" in error_of(response)  # the hook's own refusal, not Django's CSRF page
    stored()


# --- Bodies that are not what they claim ---------------------------------------------------


def test_invalid_utf8_is_refused_naming_utf8(source, stored):
    body = b'{"id": "bad-bytes", "text": "caf\xe9 \xff"}'
    response = post(source, body)
    assert response.status_code == 400
    assert "UTF-8" in error_of(response)
    stored()


def test_malformed_json_is_refused_with_line_and_column(source, stored):
    body = b'{"id": "broken",\n "text": }'
    response = post(source, body)
    assert response.status_code == 400
    message = error_of(response)
    assert "not valid JSON" in message and "line 2, column 10" in message
    stored()


@pytest.mark.parametrize("depth", [50, 10_000])
def test_deeply_nested_json_is_refused(source, stored, depth):
    body = b"[" * depth + b"]" * depth
    response = post(source, body)
    assert response.status_code == 400
    assert "nested" in error_of(response)
    stored()


def test_deep_nesting_inside_a_mention_is_refused(source, stored):
    deep = {"deeper": None}
    for _ in range(20):
        deep = {"deeper": deep}
    response = post(source, encode({**GOOD, "id": "deep", "extra": deep}))
    assert response.status_code == 400
    assert "nested" in error_of(response)
    stored()


def test_a_10_mb_body_is_refused_as_too_large(source, stored):
    body = encode({**GOOD, "id": "huge", "text": "x" * (10 * 1024 * 1024)})
    response = post(source, body)
    assert response.status_code == 413
    assert f"larger than {webhooks.MAX_BODY} bytes" in error_of(response)
    stored()


def test_a_content_length_header_over_the_limit_is_refused_before_reading(source, stored):
    body = encode({**GOOD, "id": "liar"})
    response = post(source, body, CONTENT_LENGTH=str(webhooks.MAX_BODY + 1))
    assert response.status_code == 413
    stored()


def _body_of_size(size: int, external_id: str) -> bytes:
    head = ('{"id": "%s", "text": "' % external_id).encode()
    tail = b'"}'
    body = head + b"a" * (size - len(head) - len(tail)) + tail
    assert len(body) == size
    return body


def test_a_body_of_exactly_1_mb_is_accepted_and_its_text_truncated(source, stored):
    response = post(source, _body_of_size(webhooks.MAX_BODY, "exactly-1mb"))
    assert response.status_code == 200
    assert response.json() == {"received": 1, "stored": 1, "duplicates": 0}
    mention = Mention.objects.get(external_id="exactly-1mb")
    assert len(mention.text) == Mention.MAX_TEXT and mention.truncated


def test_one_byte_over_1_mb_is_refused(source, stored):
    response = post(source, _body_of_size(webhooks.MAX_BODY + 1, "over-1mb"))
    assert response.status_code == 413
    stored()


# --- Wrong shapes and types --------------------------------------------------------------------


def _list(*items) -> dict:
    return {"mentions": [{**GOOD, "id": f"item-{i}", **item} for i, item in enumerate(items)]}


BAD_PAYLOADS = [
    ("text is a number", {**GOOD, "id": "t", "text": 42}, "text must be a string"),
    ("text is missing", {"id": "t"}, "text is missing"),
    ("text in a list item", _list({}, {}, {"text": ["not", "a", "string"]}), "mentions[2].text must be a string"),
    ("followers is a string", {**GOOD, "id": "f", "author": {"followers": "1200"}}, "author.followers must be a whole number"),
    ("followers is a bool", {**GOOD, "id": "f", "author": {"followers": True}}, "author.followers must be a whole number"),
    ("followers is a float", {**GOOD, "id": "f", "author": {"followers": 12.5}}, "author.followers must be a whole number"),
    ("followers is negative", {**GOOD, "id": "f", "author": {"followers": -1}}, "author.followers must not be negative"),
    ("followers in a list item", _list({}, {"author": {"followers": "many"}}), "mentions[1].author.followers"),
    ("author is a string", {**GOOD, "id": "a", "author": "fan"}, "author must be an object"),
    ("id is missing", {"text": "no id"}, "id is missing"),
    ("id is null", {"id": None, "text": "null id"}, "id is missing"),
    ("id is blank", {"id": "   ", "text": "blank id"}, "id is empty"),
    ("id is a number", {"id": 7, "text": "numeric id"}, "id must be a string"),
    ("id missing in a list item", {"mentions": [GOOD, {"text": "no id"}]}, "mentions[1].id is missing"),
    ("posted_at is not a date", {**GOOD, "id": "p", "posted_at": "yesterday"}, "posted_at must be an ISO 8601 date-time"),
    ("posted_at is an impossible date", {**GOOD, "id": "p", "posted_at": "2026-02-30T10:00:00Z"}, "posted_at must be an ISO 8601"),
    ("posted_at is a number", {**GOOD, "id": "p", "posted_at": 1770000000}, "posted_at must be a string"),
    ("mentions is not a list", {"mentions": {"id": "x", "text": "y"}}, "mentions must be a list"),
    ("mentions is empty", {"mentions": []}, "mentions is empty"),
    ("a list item is not an object", {"mentions": [GOOD, "just text"]}, "mentions[1] must be a mention object"),
    ("too many mentions", {"mentions": [{"id": f"n{i}", "text": "t"} for i in range(1001)]}, "mentions has 1001 items; send at most 1000"),
    ("a JSON array at top level", [GOOD], "The body must be a JSON object"),
    ("a JSON string at top level", "hello", "The body must be a JSON object"),
]


@pytest.mark.parametrize(("payload", "message"), [(p, m) for _, p, m in BAD_PAYLOADS], ids=[n for n, _, _ in BAD_PAYLOADS])
def test_wrong_shapes_and_types_are_refused_naming_the_field(source, stored, payload, message):
    response = post(source, encode(payload))
    assert response.status_code == 400
    assert message in error_of(response)
    stored()


def test_a_batch_with_one_bad_item_stores_none_of_it(source, stored):
    response = post(source, encode(_list({}, {}, {"author": {"followers": -5}})))
    assert response.status_code == 400
    assert "mentions[2].author.followers" in error_of(response)
    assert not Mention.objects.filter(external_id__startswith="item-").exists()
    stored()


def test_an_integer_too_long_to_convert_is_a_400_not_a_500(source, stored):
    # Python refuses to convert integers of more than 4,300 digits (a ValueError that is
    # not a JSONDecodeError); the hook must still answer with a message, not crash.
    body = b'{"id": "big-int", "text": "t", "author": {"followers": 1' + b"0" * 5000 + b"}}"
    response = Client(raise_request_exception=False).post(
        url(source.webhook_token), data=body, content_type="application/json",
        **meta(webhook.signed_headers(source.webhook_secret, body)),
    )
    assert response.status_code == 400
    message = error_of(response)
    assert any(word in message for word in ("number", "digits", "integer")), message
    stored()


@pytest.mark.parametrize("when", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"])
def test_a_posted_at_outside_the_years_python_can_read_back_is_refused(source, stored, when):
    # PostgreSQL stores these (1 BC, 10000 AD in UTC), but reading the row back fails with
    # "year is out of range", so one accepted mention would turn the Feed into a 500.
    response = post(source, encode({**GOOD, "id": "time-traveller", "posted_at": when}))
    assert response.status_code == 400
    assert "posted_at" in error_of(response)
    stored()


# --- Any Unicode is accepted ---------------------------------------------------------------------


def test_any_unicode_is_accepted_and_stored_as_sent(source):
    texts = {
        "emoji": "🏈🔥😱 lights OUT 👨‍👩‍👧",
        "rtl": "\u202bمرحبا Crunchwave\u202c שלום",
        "zero-width": "black\u200bout\u200d\ufeff",
        "cjk": "東京停電了",
    }
    payload = {"mentions": [{**GOOD, "id": key, "text": text, "author": {"name": text}} for key, text in texts.items()]}
    response = post(source, encode(payload))  # raw UTF-8 on the wire
    assert response.status_code == 200
    assert response.json()["stored"] == len(texts)
    for key, text in texts.items():
        mention = Mention.objects.get(external_id=key)
        shown = without_bidi_controls(text)  # bidi controls are stripped on ingest; every other character is kept
        assert mention.text == shown and mention.author_name == shown and not mention.truncated


def test_escaped_unicode_is_decoded_the_same_as_raw(source):
    response = post(source, encode({**GOOD, "id": "escaped", "text": "🏈 שלום"}, ascii_only=True))
    assert response.status_code == 200
    assert Mention.objects.get(external_id="escaped").text == "🏈 שלום"


def test_a_nul_escape_is_stored_without_the_nul(source):
    body = b'{"id": "nul", "text": "null\\u0000byte", "author": {"name": "A\\u0000B"}}'
    response = post(source, body)
    assert response.status_code == 200
    mention = Mention.objects.get(external_id="nul")
    assert mention.text == "nullbyte" and mention.author_name == "AB"


def test_an_id_with_a_nul_is_refused_and_said_while_the_rest_of_the_batch_is_stored(source):
    body = b'{"mentions": [{"id": "ab", "text": "plain"}, {"id": "a\\u0000b", "text": "with a NUL"}]}'
    response = post(source, body)
    assert response.status_code == 200
    answer = response.json()
    assert (answer["received"], answer["stored"], answer["duplicates"], answer["refused"]) == (2, 1, 0, 1)
    assert "id with a NUL character" in answer["errors"][0]
    assert list(Mention.objects.values_list("external_id", "text")) == [("ab", "plain")]
    source.refresh_from_db()
    assert "id with a NUL character" in source.last_error


def test_a_lone_surrogate_escape_is_stored_with_a_replacement(source):
    body = b'{"id": "surrogate", "text": "lone \\ud800 surrogate", "author": {"handle": "\\udfff"}}'
    response = post(source, body)
    assert response.status_code == 200
    mention = Mention.objects.get(external_id="surrogate")
    assert "\ud800" not in mention.text
    assert mention.text.startswith("lone ") and mention.text.endswith(" surrogate")
    assert "\udfff" not in mention.author_handle
    mention.text.encode("utf-8")  # valid UTF-8 all the way through


def test_a_lone_surrogate_id_does_not_crash(source):
    body = b'{"id": "\\ud800", "text": "odd id"}'
    response = post(source, body)
    assert response.status_code == 200
    assert Mention.objects.get().text == "odd id"


def test_a_20000_character_text_is_stored_truncated(source):
    response = post(source, encode({**GOOD, "id": "long", "text": "y" * 20_000}))
    assert response.status_code == 200
    mention = Mention.objects.get(external_id="long")
    assert len(mention.text) == Mention.MAX_TEXT == 10_000
    assert mention.truncated


def test_an_oversized_id_is_stored_by_its_hash_and_deduplicated(source):
    long_id = "z" * 500
    first = post(source, encode({**GOOD, "id": long_id}))
    again = post(source, encode({**GOOD, "id": long_id}))
    assert first.json()["stored"] == 1 and again.json()["duplicates"] == 1
    assert Mention.objects.get().external_id == "sha256:" + hashlib.sha256(long_id.encode()).hexdigest()


def test_a_non_http_url_is_dropped(source):
    response = post(source, encode({**GOOD, "id": "js", "url": "javascript:alert(1)"}))
    assert response.status_code == 200
    assert Mention.objects.get().url == ""
