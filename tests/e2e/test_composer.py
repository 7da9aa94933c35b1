"""The composer in a real browser: one post with an image and its alt text, written for X
and Bluesky with a shorter Bluesky text, previewed per network as each network counts,
approved by legal per account (legal sees the image as it will appear), and the X post
published through tweepy's chunked media upload: the fake X holds exactly the bytes legal's
browser was shown. Also takes the README screenshot of the composer's previews."""

import io

import pytest
from django.utils import timezone
from PIL import Image, ImageDraw
from playwright.sync_api import expect

from approvals import services
from approvals.models import Account, Post
from networks import limits
from tests.conftest import Server, free_port
from tests.e2e.support import signed_in_page  # noqa: F401  (a fixture)
from tests.e2e.test_approvals import off_main_thread
from tests.e2e.test_shell import screenshot_dir
from tests.fakes.x_api import FakeXAPI
from warroom import roles

LIVE = 10000


def glow_png() -> bytes:
    picture = Image.new("RGB", (640, 360), (12, 14, 30))
    draw = ImageDraw.Draw(picture)
    for radius, shade in ((150, (60, 50, 10)), (110, (140, 110, 20)), (70, (250, 210, 60))):
        draw.ellipse((320 - radius, 180 - radius, 320 + radius, 180 + radius), fill=shade)
    out = io.BytesIO()
    picture.save(out, "PNG")
    return out.getvalue()


@pytest.fixture(scope="module")
def fake_x():
    with FakeXAPI() as fake:
        yield fake


@pytest.fixture(scope="module")
def media_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="module")
def composer_server(django_db_setup, artifacts, fake_x, media_dir):
    server = Server(free_port(), artifacts / "daphne-composer.log", MEDIA_ROOT=str(media_dir),
                    X_API_BASE_URL=fake_x.url, X_BEARER_TOKEN="test")
    try:
        server.start()
    except Exception:
        server.kill()
        raise
    yield server
    server.stop()


def test_a_post_with_an_image_for_two_networks_previewed_approved_and_published_with_its_bytes(
    transactional_db, composer_server, signed_in_page, make_user, artifacts, settings, fake_x, media_dir
):
    settings.MEDIA_ROOT, settings.X_API_BASE_URL, settings.X_BEARER_TOKEN = str(media_dir), fake_x.url, "test"
    x = Account.objects.create(name="Crunchwave on X", handle="crunchwave", platform="x")
    bluesky = Account.objects.create(name="Crunchwave on Bluesky", handle="crunchwave.bsky.social", platform="bluesky")
    author = make_user(roles.COMMUNITY_MANAGER, "maya", last_name="Reyes")
    data = glow_png()

    page = signed_in_page(composer_server, author, "/approvals/")
    composer = page.locator("#composer")
    composer.locator(f'input[name="accounts"][value="{x.id}"]').check()
    composer.locator(f'input[name="accounts"][value="{bluesky.id}"]').check()
    long_text = ("Lights out at the stadium? Our chips still glow in the dark. "
                 "Grab a bag and keep the party going: https://crunchwave.example.com/glow #GameDay #SuperBowl")
    composer.locator("#composer-text").fill(long_text)
    composer.locator(f'details.own-text:has(textarea[name="text_{bluesky.id}"]) summary').click()
    composer.locator(f'textarea[name="text_{bluesky.id}"]').fill("Lights out? Our chips still glow. #SuperBowl")

    composer.locator('#media-block input[type="file"]').set_input_files(
        files=[{"name": "glow.png", "mimeType": "image/png", "buffer": data}])
    composer.locator("#media-block button.attach").click()
    attached = composer.locator(".attached-file")
    expect(attached).to_have_count(1, timeout=LIVE)
    sha256 = attached.get_attribute("data-sha256")
    composer.locator(f'textarea[name="alt_{sha256}"]').fill("A bag of chips glowing in a dark stadium")

    previews = page.locator("#previews .preview")
    expect(previews).to_have_count(2, timeout=LIVE)
    x_preview, bluesky_preview = page.locator('.preview[data-network="x"]'), page.locator('.preview[data-network="bluesky"]')
    weighted = limits.count_x(long_text).used
    assert weighted == len(long_text) - len("https://crunchwave.example.com/glow") + 23  # the URL counted as t.co's 23
    expect(x_preview.locator(".network-count")).to_have_text(f"{weighted}/280", timeout=LIVE)
    expect(bluesky_preview.locator(".network-count")).to_have_text("44/300", timeout=LIVE)
    expect(bluesky_preview).to_contain_text("own text")
    expect(bluesky_preview.locator("img")).to_have_attribute("alt", "A bag of chips glowing in a dark stadium",
                                                             timeout=LIVE)
    expect(x_preview.locator(".problems")).to_have_count(0)
    page.evaluate("() => window.scrollTo(0, 0)")  # page coordinates: the sticky header stays at the top
    page.screenshot(path=str(screenshot_dir(artifacts) / "composer.png"), full_page=True,
                    clip=composer.locator("section.previews").bounding_box())

    for box in composer.locator('fieldset.checklist input[type="checkbox"]').all():
        box.check()
    composer.locator('button[type="submit"]').click()
    expect(page.locator("#composer .ok")).to_contain_text("2 posts, one per account", timeout=LIVE)
    posts = {p.account_id: p for p in Post.objects.all()}
    assert posts[bluesky.id].text == "Lights out? Our chips still glow. #SuperBowl"
    assert posts[x.id].text == long_text

    legal = signed_in_page(composer_server, make_user(roles.LEGAL, "lena", last_name="Legal"), "/approvals/")
    cards = legal.locator("#requests .approval-item")
    expect(cards).to_have_count(2, timeout=LIVE)
    shown = legal.locator(f'#requests img[src="/approvals/media/{sha256}/"]').first
    expect(shown).to_have_attribute("alt", "A bag of chips glowing in a dark stadium")
    assert legal.evaluate("(img) => img.complete && img.naturalWidth", shown.element_handle()) == 640
    seen = legal.request.get(composer_server.url + f"/approvals/media/{sha256}/").body()  # what legal's browser got
    for card in cards.all():
        card.locator("button.yes").click()
    expect(legal.locator("#requests .approval-item:not(.answered)")).to_have_count(0, timeout=LIVE)

    x_post = Post.objects.get(id=posts[x.id].id)
    assert x_post.state == Post.State.SCHEDULED and x_post.approved_hash == x_post.content_hash()
    Post.objects.filter(id=x_post.id).update(publish_at=timezone.now())
    assert off_main_thread(lambda: services.post_publish(post_id=x_post.id)) == "published"
    (published,) = fake_x.posts
    assert published.text == long_text
    assert [m.data for m in published.media] == [seen] and seen == data
    assert published.media[0].alt_text == "A bag of chips glowing in a dark stadium"
