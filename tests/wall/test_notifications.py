"""Notices to the people on deck: e-mail to a loopback SMTP server (aiosmtpd) and a
loopback Slack incoming webhook; once per (event, person) however often the task runs;
nobody who is in the room; only the kinds each person chose."""

import json
import time
import threading
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from aiosmtpd.controller import Controller

from approvals import services as approvals
from listening import services as listening
from listening.models import Mention
from tests.conftest import celery_worker, free_port
from tests.listening import factories as f
from triage import services as triage
from wall import services
from wall.models import Notification
from wall.tasks import event_notify as event_notify_task
from warroom import presence, roles
from warroom.celery import app as celery_app
from warroom.models import LiveEvent

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("nobody_present")]


class Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        message = message_from_bytes(envelope.content)
        self.messages.append({"to": envelope.rcpt_tos, "subject": message["Subject"], "body": message.get_payload()})
        return "250 OK"


@pytest.fixture
def smtp(settings):
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", controller.port
    yield inbox
    controller.stop()


class SlackFake(BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self):
        self.received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


@pytest.fixture
def slack(settings):
    SlackFake.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), SlackFake)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    settings.SLACK_WEBHOOK_URL = f"http://127.0.0.1:{server.server_port}/services/T000/B000/XXXX"
    yield SlackFake.received
    server.shutdown()


def on_deck(make_user, role, name, **prefs):
    user = make_user(role, name, email=f"{name}@example.com")
    services.notification_preference_set(user=user, on_deck=True, **prefs)
    return user


def test_a_paused_queue_mails_each_person_on_deck_once_even_when_the_task_runs_twice(make_user, smtp, slack):
    lead = make_user(roles.LEAD, "leo")
    ana = on_deck(make_user, roles.LEGAL, "ana")
    ben = on_deck(make_user, roles.COMMUNITY_MANAGER, "ben")
    cy = on_deck(make_user, roles.PRODUCER, "cy")
    on_deck(make_user, roles.PRODUCER, "dee", pauses=False)  # chose not to hear about pauses
    make_user(roles.LEGAL, "eve", email="eve@example.com")  # not on deck
    presence.presence_enter(channel="specific.cy-tab", user=cy, page="/queue/")  # in the room: sees it already

    approvals.queue_pause(user=lead, reason="Blackout in the stadium")
    event = LiveEvent.objects.get(kind="queue.paused")
    assert event_notify_task.apply(args=[event.id]).get() == 3  # ana, ben and the Slack channel
    assert event_notify_task.apply(args=[event.id]).get() == 0  # a retry sends nothing

    assert sorted(m["to"][0] for m in smtp.messages) == [ana.email, ben.email]
    assert all("Blackout in the stadium" in m["subject"] for m in smtp.messages)
    assert "/wall/" in smtp.messages[0]["body"]
    assert len(slack) == 1 and "Blackout in the stadium" in slack[0]["text"]
    assert Notification.objects.filter(event_id=event.id, sent_at__isnull=False).count() == 3


def test_a_pause_enqueues_its_notices_when_it_commits(make_user, smtp):
    """The Wall subscribes the kinds people on deck hear about (wall/apps.py): committing
    the pause is enough, nobody enqueues the task by hand. Celery runs it inline here."""
    ana = on_deck(make_user, roles.LEGAL, "ana")
    celery_app.conf.task_always_eager = True
    try:
        approvals.queue_pause(user=make_user(roles.LEAD, "leo"), reason="Blackout")
    finally:
        celery_app.conf.task_always_eager = False
    assert [m["to"] for m in smtp.messages] == [[ana.email]]
    assert Notification.objects.get().event_id == LiveEvent.objects.get(kind="queue.paused").id


def test_only_p1_escalations_and_breaches_notify(make_user, smtp):
    maya = make_user(roles.COMMUNITY_MANAGER, "maya")
    ana = on_deck(make_user, roles.LEGAL, "ana")
    source = f.source()
    listening.mention_ingest_batch(source_id=source.id, fetched=[f.fetched("Lawsuit incoming"), f.fetched("Meh")])
    first, second = Mention.objects.order_by("id")
    p1 = triage.case_open_from_mention(mention_id=first.id, priority="P1")
    p3 = triage.case_open_from_mention(mention_id=second.id, priority="P3")
    triage.case_escalate(case_id=p3.id, user=maya, team="legal", note="Take a look")
    triage.case_escalate(case_id=p1.id, user=maya, team="legal", note="They threaten to sue")
    for event in LiveEvent.objects.filter(kind="case.escalated"):
        services.event_notify(event_id=event.id)
    assert [m["to"] for m in smtp.messages] == [[ana.email]]
    assert "They threaten to sue" in smtp.messages[0]["subject"]


def test_an_unreachable_mail_server_is_recorded_and_not_retried_into_duplicates(make_user, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", free_port(), 2
    on_deck(make_user, roles.LEGAL, "ana")
    approvals.queue_pause(user=make_user(roles.LEAD, "leo"), reason="Hold everything")
    event = LiveEvent.objects.get(kind="queue.paused")
    assert services.event_notify(event_id=event.id) == 0
    notice = Notification.objects.get()
    assert notice.sent_at is None and "ConnectionRefused" in notice.error


def test_a_real_worker_sends_the_pause_notice_once(make_user, artifacts):
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        ana = on_deck(make_user, roles.LEGAL, "ana")
        with celery_worker(artifacts, "notify", EMAIL_HOST="127.0.0.1", EMAIL_PORT=str(controller.port),
                           EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend"):
            approvals.queue_pause(user=make_user(roles.LEAD, "leo"), reason="Blackout")  # enqueued on commit
            event = LiveEvent.objects.get(kind="queue.paused")
            event_notify_task.delay(event.id)  # a duplicate delivery


            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and Notification.objects.filter(sent_at__isnull=False).count() < 1:
                time.sleep(0.2)
            time.sleep(1.5)  # room for the duplicate to run
        assert [m["to"] for m in inbox.messages] == [[ana.email]]
    finally:
        controller.stop()


def test_preferences_need_an_address_to_go_on_deck(make_user):
    from warroom.errors import InvalidInput

    user = make_user(roles.LEGAL, "nomail")
    with pytest.raises(InvalidInput, match="e-mail address"):
        services.notification_preference_set(user=user, on_deck=True)
    assert services.notification_preference_get(user).on_deck is False
