"""The engagement of what the room published: the decaying schedule (time-travel), the
series stored append-only, the reads counted against the X budget with the schedule
stretching (never listening stopping), and the follow-ups that ride the wave (a reply, a
thread, a repost) firing exactly once and never while paused. Real PostgreSQL and the
loopback fakes of X, Mastodon, Bluesky and Reddit (the tests taking `network` run once per
network, through its real client library; those that repost only on the networks whose
module reposts, not Reddit); each fake grows an accepted post's counts with the minutes
since it accepted it."""

from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

import pytest
from django.test import Client

from approvals import engagement, services
from approvals.models import Account, EngagementSample, FollowUp, Post, Tracked
from listening import selectors as listening_selectors
from listening import services as listening
from listening.models import ReadUsage, Source
from networks import registry
from playbooks import services as playbooks
from room.flows.engagement import engagement_refresh
from tests.approvals.test_publishing import OK_CHECKLIST, due_post
from tests.fakes.networks import Network, start
from warroom import roles
from warroom.errors import InvalidInput
from warroom.models import AuditEntry

T0 = datetime(2030, 2, 3, 23, 0, tzinfo=dt_timezone.utc)
LOOKUP_PATHS = {"x": "/2/tweets", "mastodon": "/api/v1/statuses", "bluesky": "/xrpc/app.bsky.feed.getPosts",
                "reddit": "/api/info"}
REPOSTING = [kind for kind in registry.ENGAGEMENT if hasattr(registry.module(kind), "repost")]


def _network(kind: str, settings):
    network = start(kind)
    for name, value in network.env.items():
        setattr(settings, name, value)
    settings.NETGUARD_ALLOW_HOSTS = ["127.0.0.1"]
    settings.X_MONTHLY_READ_CAP = 10_000
    return network


@pytest.fixture(params=registry.ENGAGEMENT)
def network(request, settings) -> Network:
    """One network's running fake (once per network), this process pointed at it."""
    network = _network(request.param, settings)
    yield network
    network.fake.stop()


@pytest.fixture
def x_network(settings) -> Network:
    network = _network("x", settings)
    yield network
    network.fake.stop()


@pytest.fixture
def x(x_network):
    """The fake X, for what only X has: the monthly read cap."""
    return x_network.fake


@pytest.fixture
def account(db, request):
    network = request.getfixturevalue("network" if "network" in request.fixturenames else "x_network")
    return Account.objects.create(name="Brand", platform=network.kind, **network.account_fields)


def published(account, author, text="Blackout? We still deliver.") -> Post:
    post = due_post(account, author, text)
    assert services.post_publish(post_id=post.id) == "published"
    return Post.objects.get(id=post.id)


def lookups(fake, kind: str = "x") -> list:
    path = LOOKUP_PATHS[kind]
    return [request for request in fake.requests if request.method == "GET" and request.path.rstrip("/") == path]


def replied_to(network: Network, accepted) -> str | None:
    """The id of the post an accepted post answers, as the network recorded it."""
    if network.kind == "reddit":
        return accepted.reply_to
    return accepted.reply_parent if network.kind == "bluesky" else accepted.in_reply_to


def refresh_at(time_machine, moment: datetime) -> int:
    time_machine.move_to(moment, tick=False)
    return engagement_refresh()


def test_the_schedule_decays_every_minute_then_hourly_then_daily_then_stops():
    at = lambda **age: engagement.next_read(published_at=T0, at=T0 + timedelta(**age))  # noqa: E731
    assert at(minutes=1) == T0 + timedelta(minutes=2)
    assert at(minutes=59) == T0 + timedelta(minutes=60)
    assert at(minutes=60) == T0 + timedelta(hours=2)
    assert at(hours=23, minutes=30) == T0 + timedelta(hours=24, minutes=30)
    assert at(days=1) == T0 + timedelta(days=2)
    assert at(days=6, hours=12) == T0 + timedelta(days=7)  # the week's last read is at its end
    assert at(days=7) is None
    assert engagement.next_read(published_at=T0, at=T0 + timedelta(minutes=5), pace=3) == T0 + timedelta(minutes=8)


def test_a_published_post_is_read_on_the_decaying_schedule_and_its_series_grows(network, account, make_user,
                                                                               time_machine):
    time_machine.move_to(T0, tick=False)
    post = published(account, make_user(roles.PRODUCER))
    assert refresh_at(time_machine, T0 + timedelta(seconds=30)) == 0  # adopted, first read a minute after
    tracked = Tracked.objects.get(post=post)
    assert tracked.platform_id == post.platform_id and tracked.next_read_at == post.published_at + timedelta(minutes=1)

    moment = T0
    for minute in range(1, 61):  # the first hour: one read a minute
        moment = T0 + timedelta(minutes=minute)
        assert refresh_at(time_machine, moment) == 1
    assert refresh_at(time_machine, moment + timedelta(seconds=30)) == 0
    assert refresh_at(time_machine, T0 + timedelta(minutes=90)) == 0  # hourly now
    assert refresh_at(time_machine, T0 + timedelta(minutes=120)) == 1
    for hour in range(3, 25):
        assert refresh_at(time_machine, T0 + timedelta(hours=hour)) == 1
    for day in range(2, 8):
        assert refresh_at(time_machine, T0 + timedelta(days=day)) == 1
    assert refresh_at(time_machine, T0 + timedelta(days=30)) == 0  # a week old: no more reads

    samples = list(EngagementSample.objects.filter(tracked=tracked).order_by("at"))
    assert len(samples) == 60 + 23 + 6
    assert [sample.likes for sample in samples[:3]] == [3, 6, 9]  # the fake's 3 likes a minute
    # the fake's repost a minute; Reddit has no reposts (its score is the likes, its comments the replies)
    assert [sample.reposts for sample in samples[:3]] == ([0, 0, 0] if network.kind == "reddit" else [1, 2, 3])
    assert [sample.replies for sample in samples[1:4:2]] == [1, 2]  # half a reply a minute
    assert all(a.likes <= b.likes for a, b in zip(samples, samples[1:]))  # appended, never overwritten
    tracked.refresh_from_db()
    assert tracked.next_read_at is None and tracked.likes == samples[-1].likes and tracked.reads == len(samples)
    assert tracked.platform == network.kind
    assert len(lookups(network.fake, network.kind)) == len(samples)
    reads = sum(ReadUsage.objects.filter(purpose="engagement").values_list("reads", flat=True))
    # one read per post returned, on the engagement line of the meter: X's cap only
    assert reads == (len(samples) if network.kind == "x" else 0)


def test_engagement_reads_count_against_the_budget_and_show_on_their_own_line(x, account, make_user, time_machine):
    source = Source.objects.create(name="X search", kind=Source.Kind.X_SEARCH, query="#brand")
    ReadUsage.objects.create(source=source, day=T0.date(), reads=1_000, polls=10)
    time_machine.move_to(T0, tick=False)
    for number in range(3):
        published(account, make_user(roles.PRODUCER, f"p{number}"), text=f"Post number {number}")
    assert refresh_at(time_machine, T0 + timedelta(minutes=1)) == 3
    assert len(lookups(x)) == 1  # three posts, one lookup request
    assert listening_selectors.budget_split() == {"listening": 1_000, "engagement": 3}
    assert listening_selectors.budget_used() == 1_003
    summary = listening_selectors.budget_summary()
    assert (summary["listening"], summary["engagement"], summary["used"]) == (1_000, 3, 1_003)


def test_a_tight_budget_stretches_the_schedule_and_from_ninety_percent_engagement_waits(x, account, make_user,
                                                                                      time_machine, settings):
    source = Source.objects.create(name="X search", kind=Source.Kind.X_SEARCH, query="#brand")
    usage = ReadUsage.objects.create(source=source, day=T0.date(), reads=7_000, polls=10)  # 70 % of 10,000
    time_machine.move_to(T0, tick=False)
    post = published(account, make_user(roles.PRODUCER))
    pace = listening_selectors.engagement_pace()
    assert 1 < pace < 24
    assert refresh_at(time_machine, T0 + timedelta(minutes=1)) == 1
    tracked = Tracked.objects.get(post=post)
    assert tracked.next_read_at == T0 + timedelta(minutes=1) + timedelta(minutes=1) * pace  # stretched
    assert listening_selectors.budget_pace() < 10  # listening polls on

    ReadUsage.objects.filter(id=usage.id).update(reads=9_200)  # into the reserve kept for listening
    asked = len(lookups(x))
    assert listening_selectors.engagement_pace() is None
    assert refresh_at(time_machine, T0 + timedelta(minutes=30)) == 0
    assert len(lookups(x)) == asked  # not one engagement read
    tracked.refresh_from_db()
    assert tracked.next_read_at == T0 + timedelta(minutes=30, hours=1)  # deferred, not dropped
    assert not listening.budget_paused(source=source)  # listening still has the last tenth

    ReadUsage.objects.filter(id=usage.id).update(reads=1_000)  # a new month's room
    assert refresh_at(time_machine, T0 + timedelta(minutes=90)) == 1


def test_a_post_the_network_no_longer_shows_is_no_longer_read(network, account, make_user, time_machine):
    time_machine.move_to(T0, tick=False)
    post = published(account, make_user(roles.PRODUCER))
    network.fake.deleted.add(post.platform_id)  # deleted on the network
    assert refresh_at(time_machine, T0 + timedelta(minutes=1)) == 0
    assert Tracked.objects.get(post=post).next_read_at is None


def test_a_rate_limit_defers_the_reads_until_the_reset(network, account, make_user, time_machine):
    time_machine.move_to(T0, tick=False)
    post = published(account, make_user(roles.PRODUCER))
    reset = int((T0 + timedelta(minutes=15)).timestamp())
    if network.kind == "x":
        network.fake.fail_next(status=429, reset_at=reset)
    else:
        network.fake.fail_next(status=429, reset_at=reset, path=LOOKUP_PATHS[network.kind])
    assert refresh_at(time_machine, T0 + timedelta(minutes=1)) == 0
    assert Tracked.objects.get(post=post).next_read_at == datetime.fromtimestamp(reset, tz=dt_timezone.utc)


# --- ride the wave ---------------------------------------------------------------------

def cleared_follow_up(parent: Post, author, legal, *, likes: int, text="It's still dark. Still delivering.",
                      kind: str = "reply") -> Post:
    follow_up = engagement.follow_up_create(user=author, parent_post_id=parent.id, text=text, likes=likes,
                                            within_minutes=60, kind=kind)
    post = services.post_submit(post_id=follow_up.post_id, user=author, checklist=OK_CHECKLIST)
    return services.post_approve(post_id=post.id, user=legal, content_hash=post.content_hash())


def test_a_follow_up_fires_exactly_once_when_its_parent_passes_the_threshold(network, account, make_user,
                                                                            time_machine):
    x = network.fake
    author, legal = make_user(roles.PRODUCER), make_user(roles.LEGAL)
    time_machine.move_to(T0, tick=False)
    parent = published(account, author)
    follow_up = cleared_follow_up(parent, author, legal, likes=10)
    assert follow_up.state == Post.State.APPROVED
    x.engagement_per_minute = {"likes": 4}

    refresh_at(time_machine, T0 + timedelta(minutes=1))  # 4 likes
    refresh_at(time_machine, T0 + timedelta(minutes=2))  # 8 likes
    assert Post.objects.get(id=follow_up.id).state == Post.State.APPROVED
    refresh_at(time_machine, T0 + timedelta(minutes=3))  # 12 likes: crossed
    fired = Post.objects.get(id=follow_up.id)
    assert fired.state == Post.State.SCHEDULED and fired.follow_up.fired_at == T0 + timedelta(minutes=3)
    for minute in range(4, 8):  # still above the threshold: never again
        refresh_at(time_machine, T0 + timedelta(minutes=minute))
    assert AuditEntry.objects.filter(action="follow_up.fire", object_id=str(follow_up.id)).count() == 1

    assert services.post_publish(post_id=follow_up.id) == "published"
    replies = [post for post in x.posts if post.text == fired.text]
    assert len(replies) == 1 and replied_to(network, replies[0]) == parent.platform_id  # a reply to itself


def test_a_follow_up_never_fires_while_the_queue_is_paused(network, account, make_user, time_machine):
    x = network.fake
    author, legal, lead = make_user(roles.PRODUCER), make_user(roles.LEGAL), make_user(roles.LEAD)
    time_machine.move_to(T0, tick=False)
    parent = published(account, author)
    follow_up = cleared_follow_up(parent, author, legal, likes=5)
    x.engagement_per_minute = {"likes": 10}
    services.queue_pause(user=lead, reason="Stadium news")
    for minute in range(1, 6):
        refresh_at(time_machine, T0 + timedelta(minutes=minute))
    held = Post.objects.get(id=follow_up.id)
    assert held.state == Post.State.APPROVED and held.follow_up.fired_at is None
    services.queue_resume(user=lead)
    refresh_at(time_machine, T0 + timedelta(minutes=6))  # within the hour and still above: it fires now
    assert Post.objects.get(id=follow_up.id).state == Post.State.SCHEDULED


def test_a_follow_up_needs_legal_yes_for_its_exact_text_and_its_window(x, account, make_user, time_machine):
    author, legal = make_user(roles.PRODUCER), make_user(roles.LEGAL)
    time_machine.move_to(T0, tick=False)
    parent = published(account, author)
    follow_up = cleared_follow_up(parent, author, legal, likes=5)
    services.post_edit(post_id=follow_up.id, user=author, text="Edited after legal's Yes")  # voids the Yes
    x.engagement_per_minute = {"likes": 10}
    refresh_at(time_machine, T0 + timedelta(minutes=1))
    assert Post.objects.get(id=follow_up.id).follow_up.fired_at is None

    late = cleared_follow_up(parent, author, legal, likes=200_000, text="A late wave")
    x.engagement_per_minute = {"likes": 2_000}
    for minute in range(2, 61):
        refresh_at(time_machine, T0 + timedelta(minutes=minute))
    assert Post.objects.get(id=late.id).follow_up.fired_at is None  # 120,000 likes in the hour
    refresh_at(time_machine, T0 + timedelta(hours=2))  # 240,000, but after the hour
    assert Post.objects.get(id=late.id).follow_up.fired_at is None


def test_a_follow_up_is_bound_to_its_parent_in_the_approval(account, make_user):
    author = make_user(roles.PRODUCER)
    parent = due_post(account, author, "Parent")
    other = due_post(account, author, "Other")
    follow_up = engagement.follow_up_create(user=author, parent_post_id=parent.id, text="Reply", likes=5)
    hash_for_parent = follow_up.post.content_hash()
    follow_up.post.reply_to_post = other
    assert follow_up.post.content_hash() != hash_for_parent  # a Yes for one parent is no Yes for another


def test_a_repost_is_bound_to_the_post_it_reposts_in_the_approval(account, make_user):
    author = make_user(roles.PRODUCER)
    parent, other = due_post(account, author, "Parent"), due_post(account, author, "Other")
    repost = engagement.follow_up_create(user=author, parent_post_id=parent.id, likes=5, kind="repost").post
    assert repost.repost and repost.text == "" and repost.reply_to_post_id == parent.id
    bound = repost.content_hash()
    repost.reply_to_post = other
    assert repost.content_hash() != bound  # a Yes to repost one post is no Yes to repost another
    repost.reply_to_post, repost.repost = parent, False
    assert repost.content_hash() != bound  # nor a Yes for an empty reply to it
    with pytest.raises(InvalidInput, match="already has a repost"):
        engagement.follow_up_create(user=author, parent_post_id=parent.id, likes=9, kind="repost")
    with pytest.raises(InvalidInput, match="no text of its own"):
        services.post_edit(post_id=repost.id, user=author, text="Now with words")
    with pytest.raises(InvalidInput, match="Kind"):
        engagement.follow_up_create(user=author, parent_post_id=parent.id, text="x", likes=9, kind="quote")


# --- every network ---------------------------------------------------------------------

@pytest.mark.parametrize("network", ["mastodon", "bluesky"], indirect=True)
def test_reads_off_x_keep_the_plain_schedule_in_batches_and_spend_no_x_budget(network, account, make_user,
                                                                              time_machine):
    source = Source.objects.create(name="X search", kind=Source.Kind.X_SEARCH, query="#brand")
    ReadUsage.objects.create(source=source, day=T0.date(), reads=9_200, polls=10)  # X's reserve: X reads wait
    assert listening_selectors.engagement_pace() is None
    time_machine.move_to(T0, tick=False)
    author = make_user(roles.PRODUCER)
    posts = [published(account, author, text=f"Post number {number}") for number in range(30)]
    assert refresh_at(time_machine, T0 + timedelta(minutes=1)) == 30
    assert len(lookups(network.fake, network.kind)) == 2  # 30 posts: 25 (Bluesky) or 20 (Mastodon) a request
    assert not ReadUsage.objects.filter(purpose="engagement").exists()  # nothing on X's meter
    tracked = Tracked.objects.filter(post__in=posts)
    assert {t.next_read_at for t in tracked} == {T0 + timedelta(minutes=2)}  # not stretched by X's budget
    assert {t.likes for t in tracked} == {3} and {t.platform for t in tracked} == {network.kind}


@pytest.mark.parametrize("network", REPOSTING, indirect=True)
def test_a_repost_follow_up_reposts_its_parent_once_and_never_while_paused(network, account, make_user,
                                                                           time_machine):
    author, legal, lead = make_user(roles.PRODUCER), make_user(roles.LEGAL), make_user(roles.LEAD)
    time_machine.move_to(T0, tick=False)
    parent = published(account, author)
    repost = cleared_follow_up(parent, author, legal, likes=10, text="", kind="repost")
    assert repost.state == Post.State.APPROVED and repost.approved_hash == repost.content_hash()
    network.fake.engagement_per_minute = {"likes": 6}
    services.queue_pause(user=lead, reason="Stadium news")
    refresh_at(time_machine, T0 + timedelta(minutes=2))  # 12 likes, but paused
    assert Post.objects.get(id=repost.id).follow_up.fired_at is None
    services.queue_resume(user=lead)
    refresh_at(time_machine, T0 + timedelta(minutes=3))  # 18 likes: fires
    for minute in range(4, 7):
        refresh_at(time_machine, T0 + timedelta(minutes=minute))
    assert AuditEntry.objects.filter(action="follow_up.fire", object_id=str(repost.id)).count() == 1
    assert services.post_publish(post_id=repost.id) == "published"
    reposted = {"x": "retweets", "mastodon": "reblogs", "bluesky": "reposts"}[network.kind]
    assert getattr(network.fake, reposted) == [parent.platform_id]  # the parent, once
    assert [post.text for post in network.fake.posts] == [parent.text]  # no post of its own text
    refresh_at(time_machine, T0 + timedelta(minutes=8))
    assert not Tracked.objects.filter(post_id=repost.id).exists()  # a repost's engagement is its parent's


@pytest.mark.parametrize("network", ["reddit"], indirect=True)
def test_a_repost_follow_up_on_reddit_is_refused_with_its_message(network, account, make_user, time_machine):
    assert "reddit" not in REPOSTING  # Reddit's module reads engagement but takes no reposts
    author, legal = make_user(roles.PRODUCER), make_user(roles.LEGAL)
    time_machine.move_to(T0, tick=False)
    parent = published(account, author)
    repost = cleared_follow_up(parent, author, legal, likes=10, text="", kind="repost")
    network.fake.engagement_per_minute = {"likes": 6}
    refresh_at(time_machine, T0 + timedelta(minutes=2))  # 12 likes: fires
    assert Post.objects.get(id=repost.id).state == Post.State.SCHEDULED
    assert services.post_publish(post_id=repost.id) != "published"
    refused = Post.objects.get(id=repost.id)
    assert refused.state == Post.State.FAILED and not refused.platform_id
    assert "Reddit takes no reposts: make this follow-up a reply instead." in refused.last_error
    assert [post.text for post in network.fake.posts] == [parent.text]  # nothing went out for it


def test_a_thread_chains_each_follow_up_to_the_one_before(network, account, make_user, time_machine):
    author, legal = make_user(roles.PRODUCER), make_user(roles.LEGAL)
    time_machine.move_to(T0, tick=False)
    parent = published(account, author)
    first = cleared_follow_up(parent, author, legal, likes=5, text="1/ The lights went out.", kind="thread")
    second = cleared_follow_up(parent, author, legal, likes=5, text="2/ The snacks did not.", kind="thread")
    assert (first.reply_to_post_id, second.reply_to_post_id) == (parent.id, first.id)  # a chain
    assert FollowUp.objects.get(post=second).parent_id == parent.id  # both watch the parent
    network.fake.engagement_per_minute = {"likes": 10}

    refresh_at(time_machine, T0 + timedelta(minutes=1))  # both crossed: the first fires, the second waits for it
    assert Post.objects.get(id=first.id).state == Post.State.SCHEDULED
    assert Post.objects.get(id=second.id).follow_up.fired_at is None
    assert services.post_publish(post_id=first.id) == "published"
    refresh_at(time_machine, T0 + timedelta(minutes=2))  # the first is out: the second fires now
    assert services.post_publish(post_id=second.id) == "published"
    first, second = Post.objects.get(id=first.id), Post.objects.get(id=second.id)
    by_text = {post.text: post for post in network.fake.posts}
    assert replied_to(network, by_text[first.text]) == parent.platform_id
    assert replied_to(network, by_text[second.text]) == first.platform_id
    for minute in range(3, 6):
        refresh_at(time_machine, T0 + timedelta(minutes=minute))
    assert AuditEntry.objects.filter(action="follow_up.fire").count() == 2


def test_the_editor_offers_the_kind_and_a_repost_goes_to_legal_without_text(make_user, settings):
    from tests.playbooks.test_services import approved_variant, make_event

    people = {role: make_user(role, f"u-{role}") for role in (roles.PRODUCER, roles.LEGAL, roles.LEAD)}
    brand = Account.objects.create(name="Brand", handle="brand")
    event = make_event(people, brand)
    scenario = playbooks.scenario_create(user=people[roles.PRODUCER], event_id=event.id, name="Blackout")
    variant = approved_variant(people, event, scenario, brand, "Lights out? We still deliver.")
    client = Client()
    client.force_login(people[roles.PRODUCER])
    page = client.get(f"/playbooks/{event.id}/").content.decode()
    assert '<select name="kind">' in page and 'value="repost"' in page and 'value="thread"' in page
    form = {"action": "follow_up_add", "variant": variant.id, "kind": "repost", "text": "", "likes": "500",
            "within_minutes": "60", "checklist": [str(n) for n in range(len(services.CHECKLIST))]}
    client.post(f"/playbooks/{event.id}/", form)
    follow_up = FollowUp.objects.get(parent=variant.post)
    assert (follow_up.kind, follow_up.post.repost, follow_up.post.text) == ("repost", True, "")
    assert follow_up.post.state == Post.State.PENDING  # legal's Yes binds the post it reposts
    page = client.get(f"/playbooks/{event.id}/").content.decode()
    assert f'id="follow-up-{follow_up.id}"' in page and "a repost of this post" in page
