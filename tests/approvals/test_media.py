"""Media: a file's type read from its bytes, files stored once by hash, the per-network
limits and alt text held before legal sees a post, the approval bound to every file's
bytes, and X's chunked media upload carrying exactly those bytes (the loopback fake X,
tweepy unchanged)."""

from datetime import timedelta

import pytest
from django.core.files.storage import default_storage
from django.utils import timezone

from approvals import media, services
from approvals.models import Account, MediaAsset, Post
from tests.approvals.media_files import image, mp4
from tests.fakes.x_api import x_api  # noqa: F401  (fixture)
from warroom import roles
from warroom.errors import Forbidden, InvalidInput
from warroom.models import AuditEntry

TICKED = {question: True for question in services.CHECKLIST}


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return tmp_path / "media"


@pytest.fixture
def people(make_user):
    return {role: make_user(role) for role in (roles.COMMUNITY_MANAGER, roles.LEGAL, roles.LEAD)}


@pytest.fixture
def x_account(db):
    return Account.objects.create(name="Brand on X", handle="brand", platform="x")


@pytest.fixture
def bluesky_account(db):
    return Account.objects.create(name="Brand on Bluesky", handle="brand.bsky.social", platform="bluesky")


@pytest.fixture
def x(x_api, settings):  # noqa: F811
    settings.X_API_BASE_URL, settings.X_BEARER_TOKEN = x_api.url, "test"
    return x_api


# --- what a file is, by its bytes ----------------------------------------------------------

@pytest.mark.parametrize("fmt, content_type", [("PNG", "image/png"), ("JPEG", "image/jpeg"), ("GIF", "image/gif"),
                                               ("WEBP", "image/webp")])
def test_images_are_known_by_their_bytes_with_their_size(fmt, content_type):
    info = media.inspect(image(fmt, size=(120, 80)))
    assert (info.content_type, info.width, info.height) == (content_type, 120, 80)


def test_an_animated_gif_counts_its_frames_and_an_mp4_its_length():
    assert media.inspect(image("GIF", frames=3)).frames == 3
    info = media.inspect(mp4(seconds=12.5))
    assert info.content_type == "video/mp4" and info.duration == 12.5


@pytest.mark.parametrize("data, message", [
    (b"%PDF-1.7 a contract", "is a PDF document"),
    (b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>", "is an SVG drawing"),
    (b"<!DOCTYPE html><title>x</title>", "is an HTML page"),
    (b"just some text named photo.png", "not a file type the room knows"),
    (b"", "is empty"),
    (mp4(brand=b"qt  "), "QuickTime movie (MOV), not MP4"),
    (mp4(moov=False), "without a readable movie header"),
    (image("PNG")[:40], "damaged or truncated"),
])
def test_a_file_that_is_not_what_it_says_is_refused_naming_what_it_is(data, message):
    with pytest.raises(InvalidInput, match=message.replace("(", r"\(").replace(")", r"\)")):
        media.inspect(data, name="photo.png")


# --- stored once, by hash --------------------------------------------------------------------

def test_the_same_bytes_are_stored_once_under_their_sha256(people, media_root):
    author = people[roles.COMMUNITY_MANAGER]
    data = image("PNG")
    first = services.media_upload(user=author, data=data, name="a.png", event_tag="Super Bowl", use_tag="blackout")
    again = services.media_upload(user=author, data=data, name="copy-with-another-name.jpg")
    assert first.id == again.id and MediaAsset.objects.count() == 1
    assert first.file.name == f"media/{first.sha256[:2]}/{first.sha256}.png"
    assert (media_root / first.file.name).read_bytes() == data
    assert (first.event_tag, first.use_tag) == ("Super Bowl", "blackout")
    assert AuditEntry.objects.filter(action="media.upload").count() == 1


def test_only_authors_upload_and_only_legal_clears(people):
    with pytest.raises(Forbidden):
        services.media_upload(user=people[roles.LEGAL], data=image("PNG"))
    asset = services.media_upload(user=people[roles.COMMUNITY_MANAGER], data=image("PNG"))
    with pytest.raises(Forbidden):
        services.media_clear(user=people[roles.COMMUNITY_MANAGER], sha256=asset.sha256)
    cleared = services.media_clear(user=people[roles.LEGAL], sha256=asset.sha256)
    assert cleared.cleared_by == people[roles.LEGAL] and AuditEntry.objects.filter(action="media.clear").exists()


def test_an_upload_over_the_rooms_limit_is_refused_before_it_is_read(people, settings):
    settings.MEDIA_UPLOAD_MAX_MB = 1
    with pytest.raises(InvalidInput, match="the room takes files up to 1 MB"):
        services.media_upload(user=people[roles.COMMUNITY_MANAGER], data=image("PNG", size=(800, 800), noise=True))
    assert not MediaAsset.objects.exists()


# --- the composer: several accounts, each network's rules, before legal --------------------

def test_one_post_for_two_accounts_with_their_own_texts_goes_to_legal_as_two_requests(people, x_account,
                                                                                      bluesky_account):
    author = people[roles.COMMUNITY_MANAGER]
    asset = services.media_upload(user=author, data=image("PNG"))
    attached = [{"sha256": asset.sha256, "alt": "A glowing bag of chips in a dark stadium"}]
    posts = services.posts_compose(author=author, checklist=TICKED, media=attached, versions=[
        (x_account.id, "Lights out? Our chips still glow. https://example.com/glow #SuperBowl"),
        (bluesky_account.id, "Lights out? Our chips still glow."),
    ])
    assert [(p.account_id, p.state) for p in posts] == [(x_account.id, "pending"), (bluesky_account.id, "pending")]
    assert posts[1].text == "Lights out? Our chips still glow."
    assert all(p.media == attached for p in posts)
    assert all(p.requests.get().content_hash == p.content_hash() for p in posts)


def test_a_refusal_for_one_account_stores_nothing_for_any(people, x_account, bluesky_account):
    author = people[roles.COMMUNITY_MANAGER]
    big = services.media_upload(user=author, data=image("PNG", size=(700, 700), noise=True))
    assert big.size > 1_000_000
    with pytest.raises(InvalidInput) as refused:
        services.posts_compose(author=author, checklist=TICKED, media=[{"sha256": big.sha256, "alt": "Noise"}],
                               versions=[(x_account.id, "Fine on X"), (bluesky_account.id, "Too big for Bluesky")])
    assert "for Brand on Bluesky" in str(refused.value) and "takes at most 1,000,000 bytes" in str(refused.value)
    assert "Brand on X" not in str(refused.value)
    assert not Post.objects.exists()


def test_text_is_counted_as_each_network_counts_it(people, x_account, bluesky_account):
    author = people[roles.COMMUNITY_MANAGER]
    cjk = "字" * 141  # 141 characters: fine on Bluesky, 282 on X
    with pytest.raises(InvalidInput, match="for Brand on X: X counts 282 characters"):
        services.posts_compose(author=author, checklist=TICKED, versions=[(x_account.id, cjk)])
    posts = services.posts_compose(author=author, checklist=TICKED, versions=[(bluesky_account.id, cjk)])
    assert len(posts) == 1
    with pytest.raises(InvalidInput, match="Bluesky counts 301 graphemes"):
        services.posts_compose(author=author, checklist=TICKED, versions=[(bluesky_account.id, "a" * 301)])


def test_alt_text_is_required_where_the_account_requires_it(people, x_account):
    author = people[roles.COMMUNITY_MANAGER]
    asset = services.media_upload(user=author, data=image("JPEG"))
    with pytest.raises(InvalidInput, match=r"Media 1 \(JPEG\): alt text is missing; Brand on X requires"):
        services.posts_compose(author=author, checklist=TICKED, versions=[(x_account.id, "Hi")],
                               media=[{"sha256": asset.sha256, "alt": "  "}])
    x_account.require_alt_text = False
    x_account.save()
    assert services.posts_compose(author=author, checklist=TICKED, versions=[(x_account.id, "Hi")],
                                  media=[{"sha256": asset.sha256, "alt": ""}])


def test_an_unknown_file_and_too_long_a_video_are_refused(people, x_account):
    author = people[roles.COMMUNITY_MANAGER]
    with pytest.raises(InvalidInput, match="not in the room's media"):
        services.posts_compose(author=author, checklist=TICKED, versions=[(x_account.id, "Hi")],
                               media=[{"sha256": "0" * 64, "alt": "x"}])
    video = services.media_upload(user=author, data=mp4(seconds=141))
    with pytest.raises(InvalidInput, match="runs 141.0 s; X takes videos up to 140 s"):
        services.posts_compose(author=author, checklist=TICKED, versions=[(x_account.id, "Hi")],
                               media=[{"sha256": video.sha256, "alt": "The ad"}])


def test_the_approval_hash_covers_every_files_bytes_and_alt_text(people, x_account):
    author = people[roles.COMMUNITY_MANAGER]
    one = services.media_upload(user=author, data=image("PNG", color=(1, 2, 3)))
    two = services.media_upload(user=author, data=image("PNG", color=(3, 2, 1)))
    post = services.posts_compose(author=author, checklist=TICKED, versions=[(x_account.id, "Same text")],
                                  media=[{"sha256": one.sha256, "alt": "Red"}])[0]
    approved = post.content_hash()
    services.post_approve(post_id=post.id, user=people[roles.LEGAL], content_hash=approved)
    post = services.post_edit(post_id=post.id, user=author, text="Same text", media=[{"sha256": two.sha256, "alt": "Red"}])
    assert post.state == Post.State.PENDING and post.content_hash() != approved and post.approved_hash == ""
    changed_alt = Post(account=x_account, text="Same text", media=[{"sha256": two.sha256, "alt": "Blue"}])
    assert changed_alt.content_hash() != post.content_hash()


# --- publishing to X: the chunked upload, the exact bytes ------------------------------------

def approved_and_due(people, account, data: bytes, alt: str, text: str = "Lights out? Our chips still glow.") -> Post:
    author = people[roles.COMMUNITY_MANAGER]
    asset = services.media_upload(user=author, data=data)
    post = services.posts_compose(author=author, checklist=TICKED, versions=[(account.id, text)],
                                  media=[{"sha256": asset.sha256, "alt": alt}])[0]
    services.post_approve(post_id=post.id, user=people[roles.LEGAL], content_hash=post.content_hash())
    Post.objects.filter(id=post.id).update(publish_at=timezone.now() - timedelta(seconds=1))
    return post


def test_x_receives_exactly_the_bytes_legal_saw_through_init_append_finalize(people, x_account, x):
    data = image("PNG", size=(900, 700), noise=True)  # about 1.9 MB: two APPEND segments of 1 MiB
    post = approved_and_due(people, x_account, data, "Static on a stadium screen")
    assert services.post_publish(post_id=post.id) == "published"
    (published,) = x.posts
    assert len(published.media) == 1
    assert published.media[0].data == data and published.media[0].media_type == "image/png"
    assert published.media[0].alt_text == "Static on a stadium screen"
    assert published.media[0].category == "tweet_image"
    commands = [(r.body or {}).get("command") for r in x.requests if r.path == "/1.1/media/upload.json"]
    assert commands == ["INIT", "APPEND", "APPEND", "FINALIZE"]
    assert published.body["media"] == {"media_ids": [published.media[0].media_id]}
    assert Post.objects.get(id=post.id).platform_id == published.id


def test_a_video_waits_for_xs_processing_status_before_the_post(people, x_account, x):
    data = mp4(seconds=30, payload_bytes=1_200_000)
    x.video_status_checks = 2
    post = approved_and_due(people, x_account, data, "Our half-time ad")
    assert services.post_publish(post_id=post.id) == "published"
    commands = [(r.body or {}).get("command") or r.params.get("command") for r in x.requests
                if r.path == "/1.1/media/upload.json"]
    assert commands == ["INIT", "APPEND", "APPEND", "FINALIZE", "STATUS", "STATUS"]
    assert x.posts[0].media[0].data == data and x.posts[0].media[0].category == "tweet_video"


def test_a_file_changed_on_disk_after_the_yes_is_never_sent(people, x_account, x, media_root):
    post = approved_and_due(people, x_account, image("PNG"), "Red square")
    asset = MediaAsset.objects.get()
    with default_storage.open(asset.file.name, "wb") as handle:
        handle.write(image("PNG", color=(0, 0, 0)))
    assert services.post_publish(post_id=post.id) == "failed"
    post.refresh_from_db()
    assert post.state == Post.State.FAILED and "no longer matches its SHA-256" in post.last_error
    assert x.posts == [] and x.uploads == []


def test_an_upload_that_fails_is_retried_and_never_needs_a_check(people, x_account, x):
    post = approved_and_due(people, x_account, image("PNG"), "Red square")
    x.fail_next(status=503)  # INIT
    assert services.post_publish(post_id=post.id) == "retry"
    post.refresh_from_db()
    assert post.state == Post.State.SCHEDULED and post.retry_at and "server error" in post.last_error
    assert x.posts == []
