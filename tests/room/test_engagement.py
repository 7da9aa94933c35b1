"""The engagement of what the room published: the decaying schedule (time-travel), the
series stored append-only, the reads counted against the X budget with the schedule
stretching (never listening stopping), and the follow-up that rides the wave firing
exactly once and never while paused. Real PostgreSQL and the loopback fake of X; the
fake grows an accepted post's counts with the minutes since it accepted it."""

from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

import pytest

from approvals import engagement, services
from approvals.models import Account, EngagementSample, Post, Tracked
from listening import selectors as listening_selectors
from listening import services as listening
from listening.models import ReadUsage, Source
from room.flows.engagement import engagement_refresh
from tests.approvals.test_publishing import OK_CHECKLIST, due_post
from tests.fakes.x_api import x_api  # noqa: F401  (fixture)
from warroom import roles
from warroom.models import AuditEntry

T0 = datetime(2030, 2, 3, 23, 0, tzinfo=dt_timezone.utc)


@pytest.fixture
def x(x_api, settings):  # noqa: F811
    settings.X_API_BASE_URL = x_api.url
    settings.X_BEARER_TOKEN = "test"
    settings.X_MONTHLY_READ_CAP = 10_000
    return x_api


@pytest.fixture
def account(db):
    return Account.objects.create(name="Brand", handle="brand")


def published(account, author, text="Blackout? We still deliver.") -> Post:
    post = due_post(account, author, text)
    assert services.post_publish(post_id=post.id) == "published"
    return Post.objects.get(id=post.id)


def lookups(fake) -> list:
    return [request for request in fake.requests if request.method == "GET" and request.path == "/2/tweets"]


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


def test_a_published_post_is_read_on_the_decaying_schedule_and_its_series_grows(x, account, make_user, time_machine):
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
    assert all(a.likes <= b.likes for a, b in zip(samples, samples[1:]))  # appended, never overwritten
    tracked.refresh_from_db()
    assert tracked.next_read_at is None and tracked.likes == samples[-1].likes and tracked.reads == len(samples)
    assert len(lookups(x)) == len(samples)
    reads = sum(ReadUsage.objects.filter(purpose="engagement").values_list("reads", flat=True))
    assert reads == len(samples)  # one read per post returned, on the engagement line of the meter


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


def test_a_post_the_network_no_longer_shows_is_no_longer_read(x, account, make_user, time_machine):
    time_machine.move_to(T0, tick=False)
    post = published(account, make_user(roles.PRODUCER))
    x._tweets.pop(int(post.platform_id))  # deleted on X
    assert refresh_at(time_machine, T0 + timedelta(minutes=1)) == 0
    assert Tracked.objects.get(post=post).next_read_at is None


def test_a_rate_limit_defers_the_reads_until_the_reset(x, account, make_user, time_machine):
    time_machine.move_to(T0, tick=False)
    post = published(account, make_user(roles.PRODUCER))
    reset = int((T0 + timedelta(minutes=15)).timestamp())
    x.fail_next(status=429, reset_at=reset)
    assert refresh_at(time_machine, T0 + timedelta(minutes=1)) == 0
    assert Tracked.objects.get(post=post).next_read_at == datetime.fromtimestamp(reset, tz=dt_timezone.utc)


# --- ride the wave ---------------------------------------------------------------------

def cleared_follow_up(parent: Post, author, legal, *, likes: int, text="It's still dark. Still delivering.") -> Post:
    follow_up = engagement.follow_up_create(user=author, parent_post_id=parent.id, text=text, likes=likes,
                                            within_minutes=60)
    post = services.post_submit(post_id=follow_up.post_id, user=author, checklist=OK_CHECKLIST)
    return services.post_approve(post_id=post.id, user=legal, content_hash=post.content_hash())


def test_a_follow_up_fires_exactly_once_when_its_parent_passes_the_threshold(x, account, make_user, time_machine):
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
    assert len(replies) == 1 and replies[0].in_reply_to == parent.platform_id  # a reply to itself


def test_a_follow_up_never_fires_while_the_queue_is_paused(x, account, make_user, time_machine):
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
