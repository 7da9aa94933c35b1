"""The demo room a newcomer gets from `make run`: a fire can be tried at once."""

import io

import pytest
from django.core.management import call_command

from approvals.models import ApprovalRequest, Post
from playbooks.models import Variant
from warroom.models import AuditEntry

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_demo_playbook_has_one_variant_cleared_by_the_demo_legal_user_and_the_rest_wait(tmp_path):
    call_command("seed_demo", logins_file=str(tmp_path / "logins.txt"), stdout=io.StringIO())
    variants = list(Variant.objects.select_related("post", "scenario").order_by("scenario__order", "scenario__id", "order", "id"))
    assert len(variants) >= 2
    cleared, waiting = variants[0].post, [v.post for v in variants[1:]]
    assert cleared.state in {Post.State.APPROVED, Post.State.SCHEDULED}
    assert cleared.approved_hash == cleared.content_hash()
    assert {post.state for post in waiting} == {Post.State.PENDING}
    yes = ApprovalRequest.objects.get(post=cleared, state=ApprovalRequest.State.APPROVED)
    assert yes.answered_by.username == "legal"
    entry = AuditEntry.objects.get(action="post.approve", object_id=str(cleared.id))  # the crisis holding statement is cleared too
    assert entry.actor.username == "legal" and entry.details["hash"] == cleared.content_hash()

    approvals_before = AuditEntry.objects.filter(action="post.approve").count()
    call_command("seed_demo", logins_file=str(tmp_path / "logins.txt"), stdout=io.StringIO())
    assert AuditEntry.objects.filter(action="post.approve").count() == approvals_before  # seeding again clears nothing twice


def test_the_demo_night_listens_and_posts_on_mastodon_and_bluesky_through_their_fakes(tmp_path, settings):
    """`make run` starts the Mastodon and Bluesky fakes and seeds an account and a source on
    each: the sources hear the fakes' fans, and the accounts post there."""
    from approvals import services as approvals
    from approvals.models import Account
    from listening import services as listening
    from listening.models import Mention, Source
    from tests.fakes.bluesky import FakeBluesky
    from tests.fakes.mastodon import FakeMastodon

    with FakeMastodon() as mastodon, FakeBluesky() as bluesky:
        bluesky.add_user("crunchwave.bsky.social", "demo-app-password")
        settings.MASTODON_API_BASE_URL, settings.BLUESKY_API_BASE_URL = mastodon.url, bluesky.url
        call_command("seed_demo", logins_file=str(tmp_path / "logins.txt"), stdout=io.StringIO())
        call_command("seed_demo", logins_file=str(tmp_path / "logins.txt"), stdout=io.StringIO())  # idempotent
        assert sorted(Account.objects.values_list("platform", flat=True)) == ["bluesky", "mastodon", "x", "x"]
        sources = {s.platform: s for s in Source.objects.filter(kind__in=["mastodon_tag", "bluesky_mentions"])}
        assert set(sources) == {"mastodon", "bluesky"}

        for source in sources.values():
            assert listening.source_poll(source_id=source.id) == "ok"  # the first poll starts from here
        mastodon.add_status("Halftime and the Crunchwave ad #Crunchwave", author="snackfan")
        bluesky.add_post("@crunchwave.bsky.social lights out!", author="fan.bsky.social",
                         mention_of="crunchwave.bsky.social")
        for source in sources.values():
            Source.objects.filter(id=source.id).update(next_poll_at=source.next_poll_at.replace(year=2000))
            assert listening.source_poll(source_id=source.id) == "ok"
        assert set(Mention.objects.values_list("platform", flat=True)) >= {"mastodon", "bluesky"}

        for account in Account.objects.filter(platform__in=["mastodon", "bluesky"]):
            channel = approvals.account_channel(account)
            from networks import registry
            registry.module(channel.network).publish(channel, f"Hello from {account.name}")
        assert [p.text for p in mastodon.posts] == ["Hello from Crunchwave on Mastodon"]
        assert [p.text for p in bluesky.posts] == ["Hello from Crunchwave on Bluesky"]
