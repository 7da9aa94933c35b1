"""A reply from the Queue goes out on the network its mention was heard on, from an
account on that network: Mastodon, Bluesky and Reddit mentions heard through their loopback
fakes, answered through triage and approvals, land on the same fake under the mention."""

import pytest

from approvals import services as approvals
from approvals.models import Account, Post
from approvals.services import CHECKLIST
from listening import services as listening
from listening.models import Mention, Source
from tests.fakes.networks import start
from triage import services
from warroom import roles
from warroom.errors import InvalidInput

TICKED = {question: True for question in CHECKLIST}


@pytest.fixture(params=["mastodon", "bluesky", "reddit"])
def network(request, settings):
    network = start(request.param)
    for name, value in network.env.items():
        setattr(settings, name, value)
    yield network
    network.fake.stop()


def heard(network, lead) -> Mention:
    """One mention of the brand heard on the network, through a source polled twice."""
    fields = dict(network.account_fields)
    if network.kind == "mastodon":
        source = listening.source_create(user=lead, name="tag", kind="mastodon_tag", query_text="Crunchwave",
                                         poll_interval=30, instance_url=fields["instance_url"], secret=fields["secret"])
    elif network.kind == "reddit":
        thread = network.fake.add_post("Halftime thread", subreddit=fields["community"], author="mods")
        source = listening.source_create(user=lead, name="comments", kind="reddit_comments", query_text="Crunchwave",
                                         poll_interval=30, community=fields["community"], client_id=fields["client_id"],
                                         client_secret=fields["client_secret"])
    else:
        source = listening.source_create(user=lead, name="mentions", kind="bluesky_mentions", query_text="",
                                         poll_interval=30, login=fields["handle"], secret=fields["secret"])
    assert listening.source_poll(source_id=source.id) == "ok"
    if network.kind == "mastodon":
        network.fake.add_status("My Crunchwave bag is empty #Crunchwave", author="sam")
    elif network.kind == "reddit":
        network.fake.add_comment("My Crunchwave bag is empty", parent=thread, author="sam")
    else:
        network.fake.add_post(f"@{fields['handle']} my bag is empty", author="sam.bsky.social",
                              mention_of=fields["handle"])
    Source.objects.filter(id=source.id).update(next_poll_at=source.next_poll_at.replace(year=2000))
    assert listening.source_poll(source_id=source.id) == "ok"
    return Mention.objects.get()


@pytest.mark.django_db
def test_a_reply_goes_out_on_the_mentions_network_from_its_account(network, make_user):
    lead = make_user(roles.LEAD)
    mention = heard(network, lead)
    assert mention.platform == network.kind
    case = services.case_open_from_mention(mention_id=mention.id)
    ours = Account.objects.create(name="Brand here", platform=network.kind, **network.account_fields)
    on_x = Account.objects.create(name="Brand on X", platform="x", handle="brand")

    with pytest.raises(InvalidInput, match=f"came from {network.label}: reply from one of the brand's {network.label}"):
        services.case_reply(case_id=case.id, user=lead, account_id=on_x.id, text="Sorry Sam!",
                            seen_version=case.version, checklist=TICKED)
    assert not Post.objects.exists()

    case.refresh_from_db()
    post = services.case_reply(case_id=case.id, user=lead, account_id=ours.id, text="Sorry Sam! A new bag is on us.",
                               seen_version=case.version, checklist=TICKED)
    assert post.in_reply_to == mention.external_id
    assert approvals.post_publish(post_id=post.id) == "published"
    post.refresh_from_db()
    [sent] = network.fake.posts
    assert (sent.id, sent.text) == (post.platform_id, "Sorry Sam! A new bag is on us.")
    if network.kind == "mastodon":
        assert sent.in_reply_to == mention.external_id.rpartition(":")[2]
        assert post.platform_url == f"https://mastodon.example/@brand/{sent.id}"
    elif network.kind == "reddit":
        assert sent.reply_to == mention.external_id and mention.external_id.startswith("t1_")
        assert post.platform_url == "https://www.reddit.com/user/brand/comments/"
    else:
        assert sent.reply_parent == mention.external_id
        assert post.platform_url.startswith("https://bsky.app/profile/did:plc:")
