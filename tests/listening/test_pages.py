"""The lead's Sources and Rules pages, the Feed and Alerts, through the test Client:
statuses, messages a person can act on, what the database holds afterwards, escaping of
text that came from outside, and a bounded number of queries per page."""

import html as htmllib
import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from listening import services
from listening.models import Alert, AlertRule, Mention, Source
from tests.listening import factories as f
from warroom import roles
from warroom.errors import Forbidden
from warroom.models import AuditEntry, LiveEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def lead(make_user):
    return make_user(roles.LEAD, "leo")


@pytest.fixture
def cm(make_user):
    return make_user(roles.COMMUNITY_MANAGER, "maya")


def signed_in(user) -> Client:
    client = Client(raise_request_exception=False)
    client.force_login(user)
    return client


def mention_ids(page: str) -> list[int]:
    """Ids of the Feed rows on a page, in the order they are shown."""
    return [int(i) for i in re.findall(r'<li id="mention-(\d+)"', page)]


def row(page: str, mention_id: int) -> str:
    match = re.search(rf'<li id="mention-{mention_id}".*?</li>', page, re.S)
    assert match, f"mention {mention_id} is not on the page"
    return match.group(0)


def error_message(page: str) -> str:
    match = re.search(r'<p class="error" role="alert">(.*?)</p>', page, re.S)
    assert match, "no error message on the page"
    return htmllib.unescape(match.group(1))


def ingest(source: Source, *items) -> None:
    services.mention_ingest_batch(source_id=source.id, fetched=list(items))


def mention(external_id: str) -> Mention:
    return Mention.objects.get(external_id=external_id)


# --- Rules -------------------------------------------------------------------------------------


def test_a_rule_with_a_syntax_error_is_refused_with_the_position_and_a_caret(lead):
    client = signed_in(lead)
    response = client.post(reverse("rules"), {"action": "create", "name": "Blackout watch", "kind": "keyword",
                                              "query": "blackout AND (lights", "priority": "P2"})
    assert response.status_code == 400
    page = response.content.decode()
    assert error_message(page) == 'Expected a closing ")" for the "(" at position 13.'
    assert '<pre class="query-error" aria-hidden="true">blackout AND (lights\n' + " " * 13 + "^</pre>" in page
    assert 'aria-invalid="true" data-error-position="13"' in page
    # The form keeps what was typed.
    assert 'value="blackout AND (lights"' in page
    assert 'value="Blackout watch"' in page
    assert '<option value="P2" selected>' in page
    assert not AlertRule.objects.exists()
    assert not AuditEntry.objects.filter(action="rule.create").exists()


def test_the_caret_points_at_the_character_the_lead_typed_even_after_leading_spaces(lead):
    typed = "  blackout AND (lights"
    response = signed_in(lead).post(reverse("rules"), {"action": "create", "name": "Blackout", "query": typed})
    assert response.status_code == 400
    pre = re.search(r'<pre class="query-error"[^>]*>(.*?)</pre>', response.content.decode(), re.S).group(1)
    shown, caret = htmllib.unescape(pre).split("\n")
    assert shown == typed
    assert caret.index("^") == typed.index("("), "the caret must sit under the unclosed parenthesis"


def test_a_valid_rule_is_created_listed_and_audited(lead):
    client = signed_in(lead)
    response = client.post(reverse("rules"), {"action": "create", "name": "Blackout", "kind": "keyword",
                                              "query": 'blackout OR "lights out"', "priority": "P2"})
    assert response.status_code == 302 and response["Location"] == reverse("rules")
    rule = AlertRule.objects.get()
    assert (rule.name, rule.query, rule.priority, rule.enabled, rule.created_by) == (
        "Blackout", 'blackout OR "lights out"', "P2", True, lead)
    entry = AuditEntry.objects.get(action="rule.create")
    assert entry.actor == lead and entry.object_id == str(rule.id)

    page = client.get(reverse("rules")).content.decode()
    listed = re.search(rf'<tr id="rule-{rule.id}" class="">.*?</tr>', page, re.S).group(0)
    assert "<strong><bdi>Blackout</bdi></strong>" in listed and "<code><bdi>blackout OR &quot;lights out&quot;</bdi></code>" in listed
    assert 'value="disable"' in listed


def test_a_rule_can_be_disabled_and_enabled_and_each_is_audited(lead):
    rule = services.rule_create(user=lead, name="Blackout", query="blackout")
    client = signed_in(lead)

    assert client.post(reverse("rules"), {"action": "disable", "rule": rule.id}).status_code == 302
    rule.refresh_from_db()
    assert not rule.enabled
    assert AuditEntry.objects.filter(action="rule.disable", actor=lead, object_id=str(rule.id)).count() == 1
    page = client.get(reverse("rules")).content.decode()
    assert f'<tr id="rule-{rule.id}" class="muted">' in page and 'value="enable"' in page

    assert client.post(reverse("rules"), {"action": "enable", "rule": rule.id}).status_code == 302
    rule.refresh_from_db()
    assert rule.enabled
    assert AuditEntry.objects.filter(action="rule.enable", actor=lead, object_id=str(rule.id)).count() == 1


def test_disabling_a_rule_that_does_not_exist_is_a_message_not_a_crash(lead):
    response = signed_in(lead).post(reverse("rules"), {"action": "disable", "rule": 999999})
    assert response.status_code == 400
    assert error_message(response.content.decode()) == "That rule does not exist."


# --- Sources -----------------------------------------------------------------------------------


def test_an_rss_source_with_a_bad_url_is_refused_and_the_form_kept(lead):
    client = signed_in(lead)
    response = client.post(reverse("sources"), {"action": "create", "name": "Wire", "kind": "rss",
                                                "query": "feeds.example.org/rss", "poll_interval": "120"})
    assert response.status_code == 400
    page = response.content.decode()
    assert error_message(page) == "Query must be the feed's http:// or https:// URL."
    assert 'value="Wire"' in page and 'value="feeds.example.org/rss"' in page and 'value="120"' in page
    assert '<option value="rss" selected>' in page
    assert not Source.objects.exists()
    assert not AuditEntry.objects.filter(action="source.create").exists()


def test_an_x_search_source_is_created_listed_and_audited(lead):
    client = signed_in(lead)
    response = client.post(reverse("sources"), {"action": "create", "name": "Brand search", "kind": "x_search",
                                                "query": "#SuperBowl crunchwave", "poll_interval": "60"})
    assert response.status_code == 302 and response["Location"] == reverse("sources")
    source = Source.objects.get()
    assert (source.kind, source.query, source.poll_interval, source.created_by) == (
        "x_search", "#SuperBowl crunchwave", 60, lead)
    assert AuditEntry.objects.filter(action="source.create", actor=lead, object_id=str(source.id)).exists()
    listed = re.search(rf'<tr id="source-{source.id}".*?</tr>', client.get(reverse("sources")).content.decode(), re.S)
    assert "Brand search" in listed.group(0) and "#SuperBowl crunchwave" in listed.group(0)


def test_a_webhook_source_shows_its_secret_once_then_masked(lead):
    client = signed_in(lead)
    response = client.post(reverse("sources"), {"action": "create", "name": "Partner", "kind": "webhook",
                                                "query": "", "poll_interval": "60"})
    assert response.status_code == 302
    source = Source.objects.get()
    assert not source.webhook_legacy  # a new source signs "<timestamp>.<body>"
    first = client.get(reverse("sources")).content.decode()
    once = re.search(r'<section class="card secret-once".*?</section>', first, re.S).group(0)
    assert f'<code class="secret">{source.webhook_secret}</code>' in once and "not shown again" in once
    assert f"http://testserver/hooks/{source.webhook_token}/" in once
    listed = re.search(rf'<tr id="source-{source.id}".*?</tr>', first, re.S).group(0)
    assert f"<code>POST http://testserver/hooks/{source.webhook_token}/</code>" in listed
    assert source.webhook_secret not in listed and f"••••••••{source.webhook_secret[-4:]}</code>" in listed

    for later in (client.get(reverse("sources")), signed_in(lead).get(reverse("sources"))):
        page = later.content.decode()
        assert source.webhook_secret not in page and "secret-once" not in page


def test_the_lead_rotates_a_webhook_secret_shown_once_audited_and_pushed(lead):
    from tests.fakes import webhook

    source = f.source(Source.Kind.WEBHOOK, name="Old partner", webhook_legacy=True)
    old = source.webhook_secret
    client = signed_in(lead)
    assert "legacy signature" in client.get(reverse("sources")).content.decode()
    response = client.post(reverse("sources"), {"action": "rotate", "source": source.id})
    assert response.status_code == 302
    source.refresh_from_db()
    assert source.webhook_secret != old and not source.webhook_legacy
    page = client.get(reverse("sources")).content.decode()
    assert f'<code class="secret">{source.webhook_secret}</code>' in page and old not in page
    assert source.webhook_secret not in client.get(reverse("sources")).content.decode()

    entry = AuditEntry.objects.get(action="source.rotate_secret", actor=lead, object_id=str(source.id))
    assert entry.details == {"was_legacy": True}
    assert old not in str(entry.details) and source.webhook_secret not in str(entry.details)
    event = LiveEvent.objects.get(kind="source.secret_rotated")
    assert set(event.audience) == {"role.lead", "role.admin"} and "Old partner" in event.payload["summary"]
    assert source.webhook_secret not in str(event.payload)

    body = b'{"id": "after-rotation", "text": "hello"}'
    hook = f"/hooks/{source.webhook_token}/"
    def send(secret, **kw):
        headers = {"HTTP_" + k.upper().replace("-", "_"): v for k, v in webhook.signed_headers(secret, body, **kw).items()}
        return Client().post(hook, data=body, content_type="application/json", **headers)
    assert send(old).status_code == 403
    assert send(source.webhook_secret, legacy=True).status_code == 403  # rotation ends the legacy scheme too
    assert send(source.webhook_secret).status_code == 200


def test_only_a_webhook_source_is_rotated_and_only_by_the_lead_or_admin(lead, make_user):
    rss = f.source(Source.Kind.RSS, query="https://example.org/feed")
    response = signed_in(lead).post(reverse("sources"), {"action": "rotate", "source": rss.id})
    assert response.status_code == 400 and "That webhook source does not exist" in response.content.decode()
    hook = f.source(Source.Kind.WEBHOOK)
    with pytest.raises(Forbidden, match="Only the lead or an admin rotates"):
        services.source_webhook_secret_rotate(source_id=hook.id, user=make_user(roles.COMMUNITY_MANAGER))
    assert signed_in(make_user(roles.COMMUNITY_MANAGER)).post(
        reverse("sources"), {"action": "rotate", "source": hook.id}).status_code == 403
    assert Source.objects.get(id=hook.id).webhook_secret == hook.webhook_secret


def test_a_source_can_be_disabled_and_enabled_and_each_is_audited(lead):
    source = f.source(Source.Kind.RSS, query="https://example.org/feed")
    client = signed_in(lead)

    assert client.post(reverse("sources"), {"action": "disable", "source": source.id}).status_code == 302
    source.refresh_from_db()
    assert not source.enabled
    assert AuditEntry.objects.filter(action="source.disable", actor=lead, object_id=str(source.id)).count() == 1
    assert f'<tr id="source-{source.id}" class="health-disabled">' in client.get(reverse("sources")).content.decode()

    assert client.post(reverse("sources"), {"action": "enable", "source": source.id}).status_code == 302
    source.refresh_from_db()
    assert source.enabled
    assert AuditEntry.objects.filter(action="source.enable", actor=lead, object_id=str(source.id)).count() == 1


@pytest.mark.parametrize(
    ("name", "form", "model"),
    [
        ("sources", {"action": "create", "name": "Sneaky", "kind": "webhook", "poll_interval": "60"}, Source),
        ("rules", {"action": "create", "name": "Sneaky", "kind": "keyword", "query": "blackout"}, AlertRule),
    ],
)
def test_a_community_manager_may_not_open_or_post_to_the_leads_pages(cm, name, form, model):
    client = signed_in(cm)
    response = client.get(reverse(name))
    assert response.status_code == 403 and b"Not for your role" in response.content
    response = client.post(reverse(name), form)
    assert response.status_code == 403
    assert not model.objects.exists()
    assert not AuditEntry.objects.filter(action__in=["source.create", "rule.create"]).exists()


def test_a_community_manager_may_not_disable_a_source(cm):
    source = f.source(Source.Kind.RSS, query="https://example.org/feed")
    response = signed_in(cm).post(reverse("sources"), {"action": "disable", "source": source.id})
    assert response.status_code == 403
    source.refresh_from_db()
    assert source.enabled


# --- Feed ----------------------------------------------------------------------------------------


@pytest.fixture
def feed(lead):
    """Two sources, one rule, and four mentions of different sentiment, language and source."""
    hook = f.source(Source.Kind.WEBHOOK, name="Partner hook")
    wire = f.source(Source.Kind.RSS, name="News wire", query="https://example.org/feed")
    blackout = services.rule_create(user=lead, name="Blackout", query="blackout")
    ingest(hook, f.fetched("I love the halftime show, absolutely amazing!", external_id="happy", lang="en",
                           author_name="Happy Fan", author_handle="happyfan", author_followers=1200))
    ingest(hook, f.fetched("This blackout is terrible, I hate waiting in the dark", external_id="angry", lang="en",
                           author_name="Angry Fan", author_handle="angryfan", author_followers=45))
    ingest(wire, f.fetched("El partido empieza a las seis", external_id="spanish", lang="es",
                           author_name="Diario", author_handle="diario", author_followers=90000))
    ingest(wire, f.fetched("Stadium blackout reported during the halftime show", external_id="news", lang="en",
                           author_name="Wire", author_handle="wire", author_followers=5000))
    assert mention("happy").sentiment_label == "positive"
    assert mention("angry").sentiment_label == "negative"
    assert mention("spanish").sentiment_label == "neutral"
    return {"hook": hook, "wire": wire, "rule": blackout, **{m.external_id: m.id for m in Mention.objects.all()}}


def test_the_feed_shows_mentions_newest_first_with_author_followers_sentiment_language_and_rules(lead, feed):
    page = signed_in(lead).get(reverse("feed")).content.decode()
    assert mention_ids(page) == [feed["news"], feed["spanish"], feed["angry"], feed["happy"]]

    angry = row(page, feed["angry"])
    assert "<strong><bdi>Angry Fan</bdi></strong>" in angry and "@<bdi>angryfan</bdi>" in angry
    assert "45 followers" in angry
    assert 'class="badge sentiment negative"' in angry
    assert '<span class="badge lang">en</span>' in angry
    assert '<span class="badge rule"><bdi>Blackout</bdi></span>' in angry
    assert "Partner hook" in angry

    spanish = row(page, feed["spanish"])
    assert "90000 followers" in spanish and '<span class="badge lang">es</span>' in spanish
    assert 'class="badge sentiment neutral"' in spanish and "badge rule" not in spanish
    assert "News wire" in spanish
    assert 'class="badge sentiment positive"' in row(page, feed["happy"])


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        (lambda d: {"source": d["wire"].id}, ["news", "spanish"]),
        (lambda d: {"source": d["hook"].id}, ["angry", "happy"]),
        (lambda d: {"sentiment": "negative"}, ["angry"]),
        (lambda d: {"sentiment": "positive"}, ["happy"]),
        (lambda d: {"lang": "es"}, ["spanish"]),
        (lambda d: {"rule": d["rule"].id}, ["news", "angry"]),
        (lambda d: {"q": "halftime"}, ["news", "happy"]),
        (lambda d: {"q": '"halftime show" -stadium'}, ["happy"]),
        (lambda d: {"source": d["hook"].id, "rule": d["rule"].id}, ["angry"]),
        (lambda d: {"lang": "fr"}, []),
    ],
    ids=["source-wire", "source-hook", "negative", "positive", "spanish", "rule", "q", "q-phrase-not", "combined", "none"],
)
def test_each_filter_narrows_the_feed(lead, feed, params, expected):
    response = signed_in(lead).get(reverse("feed"), params(feed))
    assert response.status_code == 200
    page = response.content.decode()
    assert mention_ids(page) == [feed[key] for key in expected]
    if not expected:
        assert "No mentions match these filters" in page


def test_nonsense_filter_values_are_ignored_not_a_crash(lead, feed):
    response = signed_in(lead).get(reverse("feed"), {"source": "x", "rule": "-1", "sentiment": "furious",
                                                     "alert": "9" * 40, "before": "nan", "q": "((("})
    assert response.status_code == 200


def test_a_mention_arriving_while_the_feed_renders_is_on_the_page_or_replayed(lead, feed):
    """Page state plus replayed events equals a fresh render: a mention committed after the
    Feed read its rows must come with an event newer than the page's live watermark."""
    late = {}

    def arrive_after_the_rows_are_read(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if not late and sql.lstrip().startswith("SELECT") and 'FROM "listening_mention"' in sql:
            late["busy"] = True  # the ingest below runs queries through this wrapper too
            ingest(feed["hook"], f.fetched("blackout again, right now", external_id="late"))
            late["event"] = LiveEvent.objects.latest("id").id
        return result

    client = signed_in(lead)
    with connection.execute_wrapper(arrive_after_the_rows_are_read):
        page = client.get(reverse("feed")).content.decode()
    assert late, "the Feed did not read mentions"
    watermark = int(re.search(r'data-live-after="(\d+)"', page).group(1))
    on_page = mention("late").id in mention_ids(page)
    replayed = late["event"] > watermark
    assert on_page or replayed, (
        f"mention {mention('late').id} is not on the page and its event {late['event']} is at or below "
        f"the page's watermark {watermark}: the browser will never see it"
    )


def test_an_htmx_request_for_the_results_gets_only_the_results_partial(lead, feed):
    response = signed_in(lead).get(reverse("feed"), {"sentiment": "negative"},
                                   HTTP_HX_REQUEST="true", HTTP_HX_TARGET="feed-results")
    assert response.status_code == 200
    page = response.content.decode().strip()
    assert page.startswith('<section id="feed-results">') and page.endswith("</section>")
    assert "<html" not in page and 'class="filters"' not in page
    assert mention_ids(page) == [feed["angry"]]


def test_text_from_outside_is_escaped_on_the_feed(lead):
    source = f.source(Source.Kind.WEBHOOK, name="Partner hook")
    text = 'pwned <script>alert(1)</script> <a hx-get="/audit/" hx-trigger="load">x</a> {{ 7*7 }} {% now "Y" %}'
    ingest(source, f.fetched(text, external_id="evil", author_name="<b>Boss</b>\u202eevil\u200f",
                             author_handle='"><img src=x onerror=alert(2)>', url="javascript:alert(3)"))
    page = signed_in(lead).get(reverse("feed")).content.decode()
    evil = row(page, mention("evil").id)

    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in evil
    assert 'hx-get="/audit/"' not in page
    assert "hx-get=&quot;/audit/&quot;" in evil
    assert "<b>" not in page
    assert "<strong><bdi>&lt;b&gt;Boss&lt;/b&gt;evil\u200f</bdi></strong>" in evil and "\u202e" not in page  # bidi controls stripped, marks kept
    assert "<img" not in page and "&lt;img src=x onerror=alert(2)&gt;" in evil
    assert "javascript:" not in page

    shown = re.search(r'<p class="mention-text" dir="auto">(.*?)</p>', evil, re.S).group(1)
    assert "{{ 7*7 }}" in shown and "49" not in shown
    assert '{% now &quot;Y&quot; %}' in shown


# --- Alerts --------------------------------------------------------------------------------------


@pytest.fixture
def alert(lead) -> Alert:
    """A P2 alert raised by two matching mentions; a third mention does not match."""
    source = f.source(Source.Kind.WEBHOOK, name="Partner hook")
    services.rule_create(user=lead, name="Blackout", query="blackout", priority="P2")
    ingest(source, f.fetched("Stadium blackout!", external_id="b1"), f.fetched("Another blackout here", external_id="b2"),
           f.fetched("Great halftime show", external_id="calm"))
    return Alert.objects.get()


def test_a_rule_match_raises_an_alert_listed_on_the_alerts_page(cm, alert):
    assert alert.mention_count == 2 and alert.state == "open"
    page = signed_in(cm).get(reverse("alerts")).content.decode()
    listed = re.search(rf'<tr id="alert-{alert.id}" class="alert-p2">.*?</tr>', page, re.S).group(0)
    assert f'href="/feed/?alert={alert.id}"><bdi>Blackout</bdi></a>' in listed
    assert "<strong>open</strong>" in listed and "Acknowledge" in listed
    assert "<td>2</td>" in listed


def test_a_community_manager_acknowledges_an_alert_and_a_second_acknowledgement_is_a_conflict(cm, make_user, alert):
    client = signed_in(cm)
    response = client.post(reverse("alerts"), {"alert": alert.id})
    assert response.status_code == 302 and response["Location"] == reverse("alerts")
    alert.refresh_from_db()
    assert alert.state == "acknowledged" and alert.acknowledged_by == cm
    assert AuditEntry.objects.filter(action="alert.acknowledge", actor=cm, object_id=str(alert.id)).count() == 1

    listed = re.search(rf'<tr id="alert-{alert.id}".*?</tr>', client.get(reverse("alerts")).content.decode(), re.S).group(0)
    assert "acknowledged by <bdi>Maya</bdi> at" in listed and "Acknowledge</button>" not in listed

    other = signed_in(make_user(roles.PRODUCER, "pat"))
    response = other.post(reverse("alerts"), {"alert": alert.id})
    assert response.status_code == 409
    message = error_message(response.content.decode())
    assert message.startswith("maya already acknowledged this alert at ")
    alert.refresh_from_db()
    assert alert.acknowledged_by == cm
    assert AuditEntry.objects.filter(action="alert.acknowledge").count() == 1


def test_a_second_acknowledgement_over_htmx_returns_the_list_partial_with_409(cm, alert):
    client = signed_in(cm)
    client.post(reverse("alerts"), {"alert": alert.id})
    response = client.post(reverse("alerts"), {"alert": alert.id}, HTTP_HX_REQUEST="true")
    assert response.status_code == 409
    page = response.content.decode().strip()
    assert page.startswith('<section id="alerts-list">')
    assert "maya already acknowledged this alert" in page


@pytest.mark.parametrize(("value", "status", "message"), [
    ("999999", 404, "That alert does not exist."),
    ("", 400, "Choose an alert to acknowledge."),
    ("not-a-number", 400, "Choose an alert to acknowledge."),
])
def test_acknowledging_an_alert_that_does_not_exist_is_a_message(cm, alert, value, status, message):
    response = signed_in(cm).post(reverse("alerts"), {"alert": value})
    assert response.status_code == status
    assert error_message(response.content.decode()) == message
    assert not AuditEntry.objects.filter(action="alert.acknowledge").exists()


def test_the_feed_filtered_by_an_alert_shows_exactly_its_mentions(cm, alert):
    page = signed_in(cm).get(reverse("feed"), {"alert": alert.id}).content.decode()
    assert sorted(mention_ids(page)) == sorted(alert.mentions.values_list("id", flat=True))
    assert sorted(mention_ids(page)) == sorted([mention("b1").id, mention("b2").id])
    assert f"Mentions of alert #{alert.id}." in page


# --- Query counts --------------------------------------------------------------------------------


def _populate(lead, count: int) -> None:
    sources = [f.source(Source.Kind.WEBHOOK, name="Partner hook"), f.source(Source.Kind.RSS, name="Wire", query="https://example.org/f")]
    for name, words in (("Blackout", "blackout"), ("Halftime", "halftime"), ("Refunds", "refund*")):
        services.rule_create(user=lead, name=name, query=words)
    texts = ["blackout at the stadium", "what a halftime show", "I want a refund", "nice ad", "terrible blackout halftime"]
    for i in range(count):
        ingest(sources[i % 2], f.fetched(f"{texts[i % len(texts)]} #{i}", external_id=f"q{i}"))


def _feed_queries(client: Client) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("feed"))
    assert response.status_code == 200
    return len(queries)


def test_the_feed_renders_50_mentions_in_a_bounded_number_of_queries(lead, django_assert_max_num_queries):
    _populate(lead, 50)
    assert Alert.objects.count() == 3
    client = signed_in(lead)
    # 13: session, user, whether the user enrolled a second factor, the user's roles; the
    # mentions with their sources in one query; rule names for the rows and for the filter;
    # sources for the filter; open alerts with their rules; the live watermark and the
    # activity rail; the crisis banner and the outgoing-queue banner. None depends on the
    # number of rows: a query per row (its source, its rules, its alerts) would add 50 and
    # fail this at once.
    with django_assert_max_num_queries(13):
        response = client.get(reverse("feed"))
    assert len(mention_ids(response.content.decode())) == 50


def test_the_feed_costs_the_same_queries_for_1_mention_as_for_50(lead):
    _populate(lead, 1)
    one = _feed_queries(signed_in(lead))
    for i in range(1, 50):
        ingest(Source.objects.order_by("id").first(), f.fetched(f"blackout halftime refund #{i}", external_id=f"more{i}"))
    assert Mention.objects.count() == 50
    assert _feed_queries(signed_in(lead)) == one
