"""The counts each network applies, one function per network (networks/limits.py), and
the media limits every network checks before legal sees a post."""

import pytest

from networks import limits
from networks.limits import MB, MediaInfo


# --- X: twitter-text v3's weighted count ---------------------------------------------------

def test_x_counts_latin_as_one_and_every_url_as_23():
    assert limits.count_x("hello").used == 5
    assert limits.count_x("hello https://example.com/a/very/long/path?with=query").used == 6 + 23
    assert limits.count_x("read www.example.org now").used == 5 + 23 + 4
    assert limits.count_x("bare example.com, then").used == 5 + 23 + 6  # the comma is not part of the URL


def test_x_weighs_cjk_and_emoji_as_two():
    assert limits.count_x("日本語").used == 6
    assert limits.count_x("한국어").used == 6
    assert limits.count_x("👍").used == 2
    assert limits.count_x("👨‍👩‍👧").used == 2  # one ZWJ sequence is one emoji
    assert limits.count_x("🇫🇷").used == 2


def test_x_normalizes_to_nfc_before_counting():
    assert limits.count_x("e\u0301").used == limits.count_x("é").used == 1


def test_x_refuses_past_280_naming_the_count():
    assert not limits.count_x("a" * 280).over
    over = limits.count_x("a" * 281)
    assert over.over and "281" in over.problems[0] and "280" in over.problems[0]
    cjk = limits.count_x("字" * 141)
    assert cjk.used == 282 and cjk.over


def test_x_an_empty_text_is_a_problem():
    assert limits.count_x("   ").problems == ("The text is empty.",)


# --- Mastodon ---------------------------------------------------------------------------

def test_mastodon_counts_urls_as_23_and_remote_mentions_by_the_username():
    assert limits.count_mastodon("see https://example.com/" + "x" * 100).used == 4 + 23
    assert limits.count_mastodon("@crunch@mastodon.social hi").used == len("@crunch hi")
    assert limits.count_mastodon("@crunch hi").used == len("@crunch hi")


def test_mastodon_counts_graphemes_up_to_500():
    assert limits.count_mastodon("👨‍👩‍👧" * 500).used == 500
    assert not limits.count_mastodon("a" * 500).over
    assert "501" in limits.count_mastodon("a" * 501).problems[0]
    long_url = "https://example.com/" + "p" * 600
    assert not limits.count_mastodon(long_url).over  # 23, however long the URL


# --- Bluesky ----------------------------------------------------------------------------

def test_bluesky_counts_graphemes_up_to_300_with_urls_as_written():
    assert limits.count_bluesky("e\u0301").used == 1
    assert limits.count_bluesky("👨‍👩‍👧").used == 1
    assert limits.count_bluesky("https://example.com/abc").used == 23
    assert not limits.count_bluesky("a" * 300).over
    assert "301 graphemes" in limits.count_bluesky("a" * 301).problems[0]


def test_bluesky_refuses_more_than_3000_bytes_even_under_300_graphemes():
    text = "👨‍👩‍👧‍👦" * 200  # 200 graphemes, 25 bytes each
    count = limits.count_bluesky(text)
    assert count.used == 200 and any("3,000 bytes" in p for p in count.problems)


# --- Reddit -----------------------------------------------------------------------------

def test_reddit_reads_the_first_line_as_the_title_and_the_rest_as_the_body():
    count = limits.count_reddit("Blackout at the game\nWe are still serving snacks.\nSecond line.")
    assert count.parts == (("title", 20, 300), ("body", 41, 40000))
    assert not count.over


def test_reddit_refuses_a_missing_or_long_title_and_a_long_body():
    assert "needs a title" in limits.count_reddit("\n\n").problems[0]
    assert "title (the first line) is 301" in limits.count_reddit("t" * 301 + "\nbody").problems[0]
    assert "40,001" in limits.count_reddit("Title\n" + "b" * 40001).problems[0]


# --- media ------------------------------------------------------------------------------

PNG = MediaInfo("image/png", 200_000, 1200, 675)


def test_a_picture_within_every_networks_limits_passes():
    for network in limits.NETWORKS.values():
        if network.media.max_items == 0:
            continue  # a network the room posts text to only (Reddit): see below
        assert network.media_problems([(PNG, "Our snack in the dark")]) == [], network.key


def test_reddit_takes_text_only_and_says_so_before_legal_reads_it():
    reddit = limits.network("reddit")
    assert reddit.media_problems([(PNG, "Our snack in the dark")]) == [
        "Reddit takes text only from the room: remove the media from the Reddit version."]
    assert reddit.media_problems([]) == []


@pytest.mark.parametrize("key, size, fits", [("x", 5 * MB, True), ("x", 5 * MB + 1, False),
                                              ("bluesky", 1_000_000, True), ("bluesky", 1_000_001, False),
                                              ("mastodon", 16 * MB, True)])
def test_image_sizes_per_network(key, size, fits):
    problems = limits.NETWORKS[key].media_problems([(MediaInfo("image/jpeg", size, 800, 600), "")])
    assert (problems == []) is fits
    if not fits:
        assert "JPEG" in problems[0] and "at most" in problems[0]


def test_too_many_pixels_too_long_a_video_and_too_many_items_are_named():
    x = limits.network("x")
    huge = MediaInfo("image/png", 1000, 9000, 9000)
    assert "81,000,000 pixels" in x.media_problems([(huge, "")])[0]
    video = MediaInfo("video/mp4", 10 * MB, 1280, 720, duration=141.0)
    assert "runs 141.0 s" in x.media_problems([(video, "")])[0]
    assert "at most 4 media items" in x.media_problems([(PNG, "")] * 5)[0]
    assert "only on its own" in x.media_problems([(PNG, ""), (MediaInfo("video/mp4", 1000, 10, 10, 5.0), "")])[0]
    assert "alt text is 1001" in x.media_problems([(PNG, "a" * 1001)])[0]


def test_an_unknown_platform_is_held_to_x():
    assert limits.network("myspace") is limits.NETWORKS["x"]
