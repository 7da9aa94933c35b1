"""The live layer's promises: ids in commit order, role-scoped replay, bounded text."""

import threading

import pytest
from django.db import connection, transaction

from warroom import live, roles, services
from warroom.models import LiveEvent


@pytest.mark.django_db(transaction=True)
def test_ids_are_handed_out_in_commit_order():
    """A transaction that publishes holds the allocation lock until it commits, so a
    later id can never become visible before an earlier one."""
    order: list[str] = []
    first_holds_lock = threading.Event()
    release_first = threading.Event()
    ids = {}

    def first():
        with transaction.atomic():
            ids["first"] = live.publish("room.test", summary="first").id
            first_holds_lock.set()
            release_first.wait(10)
            order.append("first committed")
        connection.close()

    def second():
        first_holds_lock.wait(10)
        ids["second"] = live.publish("room.test", summary="second").id
        order.append("second committed")
        connection.close()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    first_holds_lock.wait(10)
    # The second publisher is now blocked on the lock; let the first commit.
    assert order == []
    release_first.set()
    for thread in threads:
        thread.join(20)
    assert order == ["first committed", "second committed"]
    assert ids["first"] < ids["second"]


@pytest.mark.django_db(transaction=True)
def test_a_subscriber_hears_its_kind_after_commit_and_never_after_a_rollback():
    heard = []
    live.on_commit("room.subscribed-test", heard.append)
    live.on_commit("room.subscribed-test", heard.append)  # subscribing again changes nothing
    try:
        with transaction.atomic():
            kept = live.publish("room.subscribed-test", summary="kept")
            live.publish("room.test", summary="another kind")
            assert heard == []  # not before the commit
        assert heard == [kept]
        with pytest.raises(RuntimeError):
            with transaction.atomic():
                live.publish("room.subscribed-test", summary="undone")
                raise RuntimeError
        assert heard == [kept]
    finally:
        live._subscribers.pop("room.subscribed-test", None)


@pytest.mark.django_db(transaction=True)
def test_replay_returns_only_what_the_groups_may_see_in_order():
    room = live.publish("room.test", summary="for everyone")
    legal_only = live.publish("room.test", audience=[live.role_group(roles.LEGAL)], summary="for legal")
    manager_groups = live.groups_for(user_id=1, held_roles={roles.COMMUNITY_MANAGER})
    legal_groups = live.groups_for(user_id=2, held_roles={roles.LEGAL})

    assert [i for i, _ in live.replay(after=0, groups=manager_groups).messages] == [room.id]
    assert [i for i, _ in live.replay(after=0, groups=legal_groups).messages] == [room.id, legal_only.id]
    assert live.replay(after=room.id, groups=legal_groups).messages[0][1].startswith(f"<!--live id={legal_only.id}-->")
    assert live.replay(after=0, groups=legal_groups, skip={room.id}).up_to == legal_only.id


@pytest.mark.django_db(transaction=True)
def test_replay_past_the_limit_asks_the_page_to_reload(settings):
    settings.LIVE_REPLAY_LIMIT = 3
    for n in range(4):
        live.publish("room.test", summary=f"event {n}")
    result = live.replay(after=0, groups=[live.ROOM])
    assert result.overflow and result.messages == []


@pytest.mark.django_db(transaction=True)
def test_untrusted_text_is_escaped_in_every_rendering(make_user):
    hostile = '<script>alert(1)</script><img src=x onerror=alert(2)> hx-get="/audit/" {{ 7|add:1 }} \u202eevil'
    services.announcement_post(author=make_user(roles.LEAD), text=hostile)
    event = LiveEvent.objects.get()
    for html in (live.render(event), live.render_row(event)):
        assert "<script>" not in html and "<img" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
        assert "{{ 7|add:1 }}" in html  # template syntax stays text: it is never rendered as a template
        assert "\u202e" not in html and "evil" in html  # without the override
        assert "<bdi>" in html or 'dir="auto"' in html  # and isolated


@pytest.mark.django_db(transaction=True)
def test_summary_is_bounded():
    event = live.publish("room.test", summary="x" * 5000)
    assert len(event.payload["summary"]) == live.SUMMARY_LIMIT
