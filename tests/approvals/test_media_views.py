"""The composer's media and previews over HTTP: attaching a file checks it by its bytes
and answers on the form, the previews count as each network counts, a post for two
accounts with their own texts goes to legal as two requests, legal's card shows the
files, and a file is served only to signed-in people, as what it is, able to run nothing."""

import html as htmllib
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from approvals import services
from approvals.models import Account, MediaAsset, Post
from tests.approvals.media_files import image
from warroom import roles


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")


@pytest.fixture
def accounts(db):
    return (Account.objects.create(name="Brand on X", handle="brand", platform="x"),
            Account.objects.create(name="Brand on Bluesky", handle="brand.bsky.social", platform="bluesky"))


def signed_in(make_user, role) -> tuple[Client, object]:
    user = make_user(role)
    client = Client()
    client.force_login(user)
    return client, user


def test_attaching_a_file_answers_with_the_media_block_and_keeps_what_was_typed(make_user, accounts):
    client, _ = signed_in(make_user, roles.COMMUNITY_MANAGER)
    data = image("PNG", size=(320, 200))
    response = client.post(reverse("media_library"), {
        "media_action": "upload", "from": "composer", "accounts": [accounts[0].id], "text": "Lights out",
        "upload": SimpleUploadedFile("anything.bin", data, content_type="application/octet-stream"),
    }, HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and response["HX-Trigger"] == "media-changed"
    asset = MediaAsset.objects.get()
    page = response.content.decode()
    assert page.lstrip().startswith('<div id="media-block"')
    assert f'name="media" value="{asset.sha256}"' in page and f'name="alt_{asset.sha256}"' in page
    assert asset.content_type == "image/png" and (asset.width, asset.height) == (320, 200)


def test_a_file_that_is_not_an_image_is_refused_on_the_form_and_nothing_is_stored(make_user, accounts):
    client, _ = signed_in(make_user, roles.COMMUNITY_MANAGER)
    response = client.post(reverse("media_library"), {
        "media_action": "upload", "from": "composer",
        "upload": SimpleUploadedFile("photo.png", b"%PDF-1.4 not a photo", content_type="image/png"),
    }, HTTP_HX_REQUEST="true")
    assert response.status_code == 400
    assert "photo.png is a PDF document" in htmllib.unescape(response.content.decode())
    assert not MediaAsset.objects.exists()


def test_previews_count_as_each_network_counts_and_name_what_it_would_refuse(make_user, accounts):
    client, _ = signed_in(make_user, roles.COMMUNITY_MANAGER)
    x, bluesky = accounts
    text = "字" * 141  # 141 graphemes, 282 weighted on X
    response = client.post(reverse("compose_preview"), {"accounts": [x.id, bluesky.id], "text": text},
                           HTTP_HX_REQUEST="true")
    page = htmllib.unescape(response.content.decode())
    assert response.status_code == 200
    assert "282/280" in page and "X counts 282 characters" in page
    assert "141/300" in page and "graphemes" in page
    own = client.post(reverse("compose_preview"), {"accounts": [bluesky.id], "text": "Common",
                                                   f"text_{bluesky.id}": "Shorter for Bluesky"}).content.decode()
    assert "Shorter for Bluesky" in own and "own text" in own


def test_one_post_for_two_accounts_with_an_image_goes_to_legal_who_sees_it(make_user, accounts):
    client, author = signed_in(make_user, roles.COMMUNITY_MANAGER)
    x, bluesky = accounts
    asset = services.media_upload(user=author, data=image("JPEG", size=(400, 300)))
    response = client.post(reverse("approvals"), {
        "action": "compose", "accounts": [x.id, bluesky.id], "text": "Lights out? Our chips still glow. #SuperBowl",
        f"text_{bluesky.id}": "Lights out? Chips glow.", "media": [asset.sha256],
        f"alt_{asset.sha256}": "A bag of chips glowing in a dark stadium", "when": "now", "checklist": ["0", "1", "2"],
    }, HTTP_HX_REQUEST="true")
    assert response.status_code == 200, response.content.decode()[:2000]
    assert "2 posts, one per account" in response.content.decode()
    posts = {p.account_id: p for p in Post.objects.all()}
    assert posts[bluesky.id].text == "Lights out? Chips glow." and posts[x.id].text.endswith("#SuperBowl")
    assert all(p.state == "pending" and p.media_items()[0]["sha256"] == asset.sha256 for p in posts.values())

    legal, _ = signed_in(make_user, roles.LEGAL)
    page = legal.get(reverse("approvals")).content.decode()
    assert page.count(f'src="/approvals/media/{asset.sha256}/"') == 2
    assert 'alt="A bag of chips glowing in a dark stadium"' in page
    assert "On Bluesky" in page and "23/300 graphemes" in page


def test_a_missing_alt_text_refuses_the_whole_post_and_keeps_the_form(make_user, accounts):
    client, author = signed_in(make_user, roles.COMMUNITY_MANAGER)
    asset = services.media_upload(user=author, data=image("PNG"))
    response = client.post(reverse("approvals"), {
        "action": "compose", "accounts": [a.id for a in accounts], "text": "Hi", "media": [asset.sha256],
        f"alt_{asset.sha256}": "", "when": "now", "checklist": ["0", "1", "2"]}, HTTP_HX_REQUEST="true")
    assert response.status_code == 400
    page = htmllib.unescape(response.content.decode())
    assert "alt text is missing; Brand on X requires" in page and "Brand on Bluesky requires" in page
    assert f'name="media" value="{asset.sha256}"' in page  # the attachment stays on the form
    assert not Post.objects.exists()


def test_a_file_is_served_to_signed_in_people_as_what_it_is_and_can_run_nothing(make_user, accounts, client):
    _, author = signed_in(make_user, roles.COMMUNITY_MANAGER)
    data = image("GIF")
    asset = services.media_upload(user=author, data=data)
    url = reverse("media_file", kwargs={"sha256": asset.sha256})
    assert client.get(url).status_code == 302  # anonymous: to the login page
    legal, _ = signed_in(make_user, roles.LEGAL)
    response = legal.get(url)
    assert response.status_code == 200 and response.content == data
    assert response["Content-Type"] == "image/gif" and response["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response["Content-Security-Policy"] and "default-src 'none'" in response["Content-Security-Policy"]
    assert legal.get(reverse("media_file", kwargs={"sha256": "f" * 64})).status_code == 404


def test_the_library_lists_files_by_event_and_legal_clears_them(make_user, accounts):
    client, author = signed_in(make_user, roles.PRODUCER)
    response = client.post(reverse("media_library"), {
        "action": "upload", "event_tag": "Super Bowl", "use_tag": "blackout", "title": "Glow bag",
        "upload": SimpleUploadedFile("glow.webp", image("WEBP"))})
    assert response.status_code == 302
    legal, lena = signed_in(make_user, roles.LEGAL)
    page = legal.get(reverse("media_library") + "?event=Super Bowl").content.decode()
    assert "Glow bag" in page and "Clear for use" in page
    asset = MediaAsset.objects.get()
    assert legal.post(reverse("media_library"), {"action": "clear", "sha256": asset.sha256}).status_code == 302
    asset.refresh_from_db()
    assert asset.cleared_by == lena
    assert "Cleared by" in legal.get(reverse("media_library")).content.decode()


def test_links_given_as_media_before_uploads_are_shown_to_legal_as_links_only_when_web(make_user, accounts):
    author = make_user(roles.COMMUNITY_MANAGER)
    link = "https://cdn.example.com/creative/halftime.mp4"
    post = services.post_create(author=author, account_id=accounts[0].id, text="Lights out? Our snacks glow.",
                                media=[link], publish_at=timezone.now() + timedelta(hours=1))
    services.post_submit(post_id=post.id, user=author, checklist={q: True for q in services.CHECKLIST})
    Post.objects.filter(id=post.id).update(media=[link, "javascript:alert(1)"])  # a row written before the check
    client, _ = signed_in(make_user, roles.LEGAL)
    page = client.get(reverse("approvals")).content.decode()
    assert "Links (not uploaded with the post):" in page
    assert f'<a href="{link}" rel="noopener noreferrer nofollow" target="_blank"><bdi>{link}</bdi></a>' in page
    assert 'href="javascript:' not in page
