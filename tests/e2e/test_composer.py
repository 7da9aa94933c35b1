"""The composer in a real browser, on every network: the lead adds an account on X,
Mastodon and Bluesky on the accounts page (each on its loopback fake); one post with an
image and its alt text is written once for the three, with a shorter Bluesky text,
previewed per network as each network counts; legal approves each account's version
(seeing the image as it will appear); a real Celery worker publishes it once on each fake
through that network's media API, and each fake holds exactly the bytes legal's browser was
shown. The accounts page shows each account's health turn "ok" live. Also takes the
README screenshots of the composer's previews and of the accounts page."""

import io

import pytest
from PIL import Image, ImageDraw
from playwright.sync_api import expect

from approvals import tasks
from approvals.models import Account, Post
from networks import limits
from tests.conftest import Server, celery_worker, free_port
from tests.e2e.support import signed_in_page  # noqa: F401  (a fixture)
from tests.e2e.test_approvals import off_main_thread
from tests.e2e.test_shell import screenshot_dir
from tests.fakes.networks import start
from tests.support import wait_until
from warroom import roles
from warroom.celery import app

LIVE = 10000
ALT = "A bag of chips glowing in a dark stadium"

# The "done when": one post with an image on these three (Reddit takes text only).
COMPOSED = ("x", "mastodon", "bluesky")


def glow_png() -> bytes:
    picture = Image.new("RGB", (640, 360), (12, 14, 30))
    draw = ImageDraw.Draw(picture)
    for radius, shade in ((150, (60, 50, 10)), (110, (140, 110, 20)), (70, (250, 210, 60))):
        draw.ellipse((320 - radius, 180 - radius, 320 + radius, 180 + radius), fill=shade)
    out = io.BytesIO()
    picture.save(out, "PNG")
    return out.getvalue()


@pytest.fixture(scope="module")
def networks():
    """Each network's running fake (a post sent twice is kept twice, so "once" is counted)."""
    started = {kind: start(kind) for kind in COMPOSED}
    yield started
    for network in started.values():
        network.fake.stop()


@pytest.fixture(scope="module")
def media_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("media")


def pointed(networks, media_dir) -> dict:
    """The environment that points a process of the room at the fakes and the media root."""
    env = {"MEDIA_ROOT": str(media_dir)}
    for network in networks.values():
        env.update(network.env)
    return env


@pytest.fixture(scope="module")
def composer_server(django_db_setup, artifacts, networks, media_dir):
    server = Server(free_port(), artifacts / "daphne-composer.log", **pointed(networks, media_dir))
    try:
        server.start()
    except Exception:
        server.kill()
        raise
    yield server
    server.stop()


def add_account(page, name: str, kind: str, fields: dict) -> None:
    form = page.locator("#account-form")
    form.locator('input[name="name"]').fill(name)
    form.locator('select[name="network"]').select_option(kind)
    form.locator('input[name="handle"]').fill(fields["handle"])
    form.locator('input[name="instance_url"]').fill(fields.get("instance_url", ""))
    form.locator('input[name="secret"]').fill(fields.get("secret", ""))
    form.locator('button[type="submit"]').click()
    expect(page.locator("#accounts-rows tr", has_text=name)).to_have_count(1, timeout=LIVE)


def test_a_post_with_an_image_for_three_networks_previewed_approved_and_published_once_with_its_bytes(
    transactional_db, composer_server, signed_in_page, make_user, artifacts, settings, networks, media_dir
):
    for name, value in pointed(networks, media_dir).items():
        setattr(settings, name, value)
    data = glow_png()

    # The lead adds the three accounts; the secrets are stored and never shown again.
    lead_page = signed_in_page(composer_server, make_user(roles.LEAD, "leo", last_name="Lead"), "/approvals/accounts/")
    names = {"x": "Crunchwave on X", "mastodon": "Crunchwave on Mastodon", "bluesky": "Crunchwave on Bluesky"}
    for kind, network in networks.items():
        add_account(lead_page, names[kind], kind, network.account_fields)
    accounts = {a.platform: a for a in Account.objects.all()}
    assert set(accounts) == set(COMPOSED)
    page_text = lead_page.content()
    for network in networks.values():
        if network.account_fields.get("secret"):
            assert network.account_fields["secret"] not in page_text
    expect(lead_page.locator("#accounts-rows .health")).to_have_text(["waiting"] * 3)

    author = make_user(roles.COMMUNITY_MANAGER, "maya", last_name="Reyes")
    page = signed_in_page(composer_server, author, "/approvals/")
    composer = page.locator("#composer")
    for account in accounts.values():
        composer.locator(f'input[name="accounts"][value="{account.id}"]').check()
    long_text = ("Lights out at the stadium? Our chips still glow in the dark. "
                 "Grab a bag and keep the party going: https://crunchwave.example.com/glow #GameDay #SuperBowl")
    short_text = "Lights out? Our chips still glow. #SuperBowl"
    bluesky = accounts["bluesky"]
    composer.locator("#composer-text").fill(long_text)
    composer.locator(f'details.own-text:has(textarea[name="text_{bluesky.id}"]) summary').click()
    composer.locator(f'textarea[name="text_{bluesky.id}"]').fill(short_text)

    composer.locator('#media-block input[type="file"]').set_input_files(
        files=[{"name": "glow.png", "mimeType": "image/png", "buffer": data}])
    composer.locator("#media-block button.attach").click()
    attached = composer.locator(".attached-file")
    expect(attached).to_have_count(1, timeout=LIVE)
    sha256 = attached.get_attribute("data-sha256")
    composer.locator(f'textarea[name="alt_{sha256}"]').fill(ALT)

    previews = page.locator("#previews .preview")
    expect(previews).to_have_count(3, timeout=LIVE)
    preview = {kind: page.locator(f'.preview[data-network="{kind}"]') for kind in COMPOSED}
    weighted = limits.count_x(long_text).used
    assert weighted == len(long_text) - len("https://crunchwave.example.com/glow") + 23  # the URL counted as t.co's 23
    expect(preview["x"].locator(".network-count")).to_have_text(f"{weighted}/280", timeout=LIVE)
    expect(preview["mastodon"].locator(".network-count")).to_have_text(f"{weighted}/500", timeout=LIVE)
    expect(preview["bluesky"].locator(".network-count")).to_have_text("44/300", timeout=LIVE)
    expect(preview["bluesky"]).to_contain_text("own text")
    expect(preview["bluesky"].locator("img")).to_have_attribute("alt", ALT, timeout=LIVE)
    for kind in ("x", "mastodon"):
        expect(preview[kind].locator(".problems")).to_have_count(0)
    page.evaluate("() => window.scrollTo(0, 0)")  # page coordinates: the sticky header stays at the top
    page.screenshot(path=str(screenshot_dir(artifacts) / "composer.png"), full_page=True,
                    clip=composer.locator("section.previews").bounding_box())

    for box in composer.locator('fieldset.checklist input[type="checkbox"]').all():
        box.check()
    composer.locator('button[type="submit"]').click()
    expect(page.locator("#composer .ok")).to_contain_text("3 posts, one per account", timeout=LIVE)
    posts = {p.account_id: p for p in Post.objects.all()}
    texts = {kind: posts[account.id].text for kind, account in accounts.items()}
    assert texts == {"x": long_text, "mastodon": long_text, "bluesky": short_text}

    # Legal approves each account's version, seeing the image as it will appear.
    legal = signed_in_page(composer_server, make_user(roles.LEGAL, "lena", last_name="Legal"), "/approvals/")
    cards = legal.locator("#requests .approval-item")
    expect(cards).to_have_count(3, timeout=LIVE)
    shown = legal.locator(f'#requests img[src="/approvals/media/{sha256}/"]').first
    expect(shown).to_have_attribute("alt", ALT)
    assert legal.evaluate("(img) => img.complete && img.naturalWidth", shown.element_handle()) == 640
    seen = legal.request.get(composer_server.url + f"/approvals/media/{sha256}/").body()  # what legal's browser got
    assert seen == data
    unanswered = legal.locator("#requests .approval-item:not(.answered)")
    for remaining in (2, 1, 0):  # one card at a time: an answer re-renders the list, so no stale nth()
        unanswered.first.locator("button.yes").click()
        expect(unanswered).to_have_count(remaining, timeout=LIVE)
    for post in Post.objects.all():
        assert post.state == Post.State.SCHEDULED and post.approved_hash == post.content_hash()

    # A real worker publishes what came due, once on each network's fake.
    app.control.purge()
    with celery_worker(artifacts, name="composer", concurrency=2, **pointed(networks, media_dir)):
        off_main_thread(tasks.publish_due_posts)
        wait_until(lambda: all(len(n.fake.posts) >= 1 for n in networks.values()), "each fake holds a post")
        wait_until(lambda: Post.objects.filter(state=Post.State.PUBLISHED).count() == 3, "the three are published")
        off_main_thread(tasks.publish_due_posts)  # beat again: nothing is due any more
    for post in Post.objects.all():
        assert post.platform_id

    (on_x,) = networks["x"].fake.posts
    assert on_x.text == long_text
    assert [m.data for m in on_x.media] == [seen] and on_x.media[0].alt_text == ALT

    mastodon = networks["mastodon"].fake
    (on_mastodon,) = mastodon.posts
    uploaded = {m.id: m for m in mastodon.media}
    assert on_mastodon.text == long_text
    assert [uploaded[i].data for i in on_mastodon.media_ids] == [seen]
    assert uploaded[on_mastodon.media_ids[0]].description == ALT

    bsky = networks["bluesky"].fake
    (on_bluesky,) = bsky.posts
    blobs = {b.cid: b for b in bsky.blobs}
    assert on_bluesky.text == short_text
    assert [blobs[cid].data for cid in on_bluesky.blobs] == [seen]
    assert [image["alt"] for image in on_bluesky.record["embed"]["images"]] == [ALT]

    # The lead's accounts page learnt each account's health live.
    expect(lead_page.locator("#accounts-rows .health")).to_have_text(["ok"] * 3, timeout=LIVE)
    expect(lead_page.locator(f"#account-{bluesky.id} .account-health")).to_contain_text("last success")
    lead_page.screenshot(path=str(screenshot_dir(artifacts) / "accounts.png"), full_page=True)
