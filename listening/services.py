"""Listening's writes: storing what sources bring (once, enriched, rule-matched, with the
cursor moved in the same transaction), polling with a lease, alerts and spikes, the X
read budget, and the lead's management of sources and rules.

What a stored batch and an alert mean for the rest of the room (cases, scenarios, the
pause, rollups) is decided above listening, in room/flows/ingest.py: this module calls it
through the hooks `batch_stored` and `alert_matched`, inside its own transactions."""

import hashlib
import io
import logging
import secrets
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q, Sum
from django.utils import timezone

from warroom import audit, live, roles
from warroom.errors import Conflict, Forbidden, InvalidInput
from warroom.hooks import Hook
from warroom.text import without_bidi_controls

from . import enrich, query, selectors
from .adapters import (AdapterError, FetchedMention, FetchResult, PermanentError, RateLimited, TransientError,
                       registry)
from .explain import spike_explain
from .models import Alert, AlertRule, Mention, ReadUsage, Source, new_token

logger = logging.getLogger(__name__)
FEED_AUDIENCE = [live.role_group(role) for role in (roles.COMMUNITY_MANAGER, roles.PRODUCER, roles.LEAD, roles.ADMIN)]
LIVE_ROWS_PER_BATCH = 50
ALERT_UPDATE_EVERY = timedelta(seconds=10)
POSTED_AT_YEARS = (2000, 2100)  # outside this, a timestamp is a sender's bug: we keep the mention, stamped now
MAX_BACKOFF = timedelta(minutes=15)

COLUMNS = (
    "source_id", "platform", "external_id", "url", "author_handle", "author_name", "author_followers", "text",
    "truncated", "lang", "sentiment", "sentiment_label", "rule_ids", "in_reply_to", "conversation_id",
    "posted_at", "received_at",
)

# New mentions were stored (source, new_rows, rules, now), inside ingest's transaction:
# room.flows.ingest.batch_stored takes them up.
batch_stored = Hook("listening.batch_stored")
# An alert was raised, or mentions joined an open one (alert, rule, mention_ids, created):
# room.flows.ingest.alert_actions runs its rule's actions.
alert_matched = Hook("listening.alert_matched")


# --- Bounding untrusted text ---------------------------------------------------------

def clean(value, limit: int) -> str:
    """Any Unicode accepted; NUL stripped, lone surrogates replaced, bounded."""
    text = value if isinstance(value, str) else ("" if value is None else str(value))
    text = text.replace("\x00", "")
    text = text.encode("utf-8", "replace").decode("utf-8")
    return text[:limit]


def _external_id(value: str) -> str | None:
    """The id as stored, or None for an id with a NUL in it: dropping the NUL (as `clean`
    does for text) would make "a\\0b" the same mention as "ab"."""
    if isinstance(value, str) and "\x00" in value:
        return None
    value = clean(value, 10_000)
    return value if len(value) <= 128 else "sha256:" + hashlib.sha256(value.encode()).hexdigest()


# --- Rules in memory -----------------------------------------------------------------

@dataclass
class CompiledRule:
    rule: AlertRule
    query: query.Query | None

    def matches(self, doc, mention: dict) -> bool:
        rule = self.rule
        if self.query is not None and not self.query.matches(doc):
            return False
        if rule.sentiment_at_most is not None and mention["sentiment"] > rule.sentiment_at_most:
            return False
        if rule.min_followers is not None and mention["author_followers"] < rule.min_followers:
            return False
        return self.query is not None or rule.sentiment_at_most is not None or rule.min_followers is not None


def rules_compiled() -> list[CompiledRule]:
    compiled = []
    for rule in AlertRule.objects.filter(enabled=True).order_by("id"):
        try:
            parsed = query.parse_cached(rule.query) if rule.query.strip() else None
        except query.QuerySyntaxError:
            continue  # refused at save time; a rule saved before a parser change is skipped, not fatal
        compiled.append(CompiledRule(rule=rule, query=parsed))
    return compiled


# --- Ingest --------------------------------------------------------------------------

@dataclass
class Prepared:
    rows: list[dict]
    notes: list[str] = field(default_factory=list)
    refused: int = 0  # mentions not stored because of their id (see _external_id)


def mentions_prepare(*, source: Source, fetched: list[FetchedMention], rules: list[CompiledRule]) -> Prepared:
    """Bound, enrich and rule-match a batch outside any transaction (the CPU-heavy part)."""
    now = timezone.now()
    seen: set[str] = set()
    prepared = Prepared(rows=[])
    refused: list[str] = []
    for item in fetched:
        external_id = _external_id(item.external_id)
        if external_id is None:
            refused.append(item.external_id)
            continue
        if not external_id or external_id in seen:
            continue
        seen.add(external_id)
        raw_text = without_bidi_controls(clean(item.text, 10**7))  # shown text: no bidi controls (ids keep theirs)
        text = raw_text[: Mention.MAX_TEXT]
        score, label = enrich.sentiment(text)
        followers = item.author_followers if isinstance(item.author_followers, int) else 0
        row = {
            "source_id": source.id,
            "platform": source.platform,
            "external_id": external_id,
            "url": without_bidi_controls(clean(item.url, 1000)) if (item.url or "").startswith(("http://", "https://")) else "",
            "author_handle": without_bidi_controls(clean(item.author_handle, 100)),
            "author_name": without_bidi_controls(clean(item.author_name, 200)),
            "author_followers": max(0, min(followers, 10**12)),
            "text": text,
            "truncated": len(raw_text) > Mention.MAX_TEXT,
            "lang": enrich.language(text, clean(item.lang, 12)),
            "sentiment": score,
            "sentiment_label": label,
            "in_reply_to": clean(item.in_reply_to, 128),
            "conversation_id": clean(item.conversation_id, 128),
            "posted_at": _posted_at(item.posted_at, now),
            "received_at": now,
        }
        if rules:
            doc = query.tokenize(text)
            row["rule_ids"] = [c.rule.id for c in rules if c.matches(doc, row)]
        else:
            row["rule_ids"] = []
        prepared.rows.append(row)
    prepared.refused = len(refused)
    if refused:
        example = clean(refused[0][:40].replace("\x00", "\\0"), 60)
        prepared.notes.append(
            f"{len(refused)} mention{'s were' if len(refused) > 1 else ' was'} refused: an id with a NUL character "
            f"(\"{example}\") could be mistaken for another; ask the sender to fix its ids."
        )
    return prepared


def _posted_at(value, now: datetime) -> datetime:
    """A timestamp PostgreSQL can store and Python can read back, in UTC; else now."""
    if not isinstance(value, datetime) or timezone.is_naive(value):
        return now
    try:
        value = value.astimezone(dt_timezone.utc)
    except (OverflowError, ValueError):
        return now
    return value if POSTED_AT_YEARS[0] <= value.year <= POSTED_AT_YEARS[1] else now


def _copy_value(value) -> str:
    if value is None:
        return r"\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, list):
        return "{" + ",".join(str(int(v)) for v in value) + "}"
    if isinstance(value, datetime):
        return value.isoformat()
    text = str(value)
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def _insert(rows: list[dict]) -> list[tuple[int, str]]:
    """COPY the batch into a session-local staging table, then one INSERT ... SELECT ...
    ON CONFLICT DO NOTHING: the fastest path PostgreSQL offers that still deduplicates."""
    if not rows:
        return []
    columns = ", ".join(COLUMNS)
    buffer = io.StringIO()
    formatted: dict[datetime, str] = {}  # a batch shares one received_at; format it once
    for row in rows:
        fields = []
        for column in COLUMNS:
            value = row[column]
            if isinstance(value, datetime):
                text = formatted.get(value)
                if text is None:
                    text = formatted[value] = value.isoformat()
                fields.append(text)
            else:
                fields.append(_copy_value(value))
        buffer.write("\t".join(fields))
        buffer.write("\n")
    buffer.seek(0)
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS mention_stage ON COMMIT DELETE ROWS AS "
            f"SELECT {columns} FROM listening_mention WITH NO DATA"
        )
        cursor.connection.cursor().copy_expert(f"COPY mention_stage ({columns}) FROM STDIN", buffer)
        cursor.execute(
            f"INSERT INTO listening_mention ({columns}) SELECT {columns} FROM mention_stage "
            f"ON CONFLICT (platform, external_id) DO NOTHING RETURNING id, external_id"
        )
        inserted = cursor.fetchall()
        cursor.execute("TRUNCATE mention_stage")
    return inserted


@dataclass
class IngestResult:
    received: int
    stored: int
    mention_ids: list[int]
    notes: list[str]
    refused: int = 0


def mention_ingest_batch(
    *,
    source_id: int,
    fetched: list[FetchedMention],
    cursor: dict | None = None,
    reads: int = 0,
    lease_token: str | None = None,
    more: bool = False,
    notes: list[str] | None = None,
    rate_limited_until: datetime | None = None,
    prepared: Prepared | None = None,
    rules: list[CompiledRule] | None = None,
    keep_lease: bool = False,
) -> IngestResult:
    """Store a batch once: insert what is new, enrich, match rules, raise alerts, and move
    the source's cursor and health in the same transaction. A batch that fails leaves
    nothing behind and the cursor where it was, so the next poll fetches it again.

    A caller that enriched the batch already (`ingest_pages`' pipeline) passes `prepared`
    and the `rules` it matched; `keep_lease` moves the cursor but keeps the poll's lease
    (more pages of the same poll follow)."""
    if prepared is None:
        source = Source.objects.get(id=source_id)
        rules = rules_compiled()
        prepared = mentions_prepare(source=source, fetched=fetched, rules=rules)
    now = timezone.now()
    with transaction.atomic():
        source = Source.objects.select_for_update().get(id=source_id)
        inserted = _insert(prepared.rows)
        if reads or source.platform == "x":
            _usage_add(source=source, reads=reads, day=now.date())
        holds_lease = lease_token is None or source.lease_token == lease_token
        if cursor is not None and holds_lease:
            source.cursor = cursor
        if holds_lease and keep_lease:
            source.lease_until = now + timedelta(seconds=settings.LISTENING_LEASE_SECONDS)
        elif holds_lease:
            source.lease_until = None
            source.lease_token = ""
            source.next_poll_at = now if more else now + timedelta(seconds=_interval(source))
            if rate_limited_until is not None:
                source.rate_limited_until = rate_limited_until
                source.next_poll_at = max(source.next_poll_at, rate_limited_until)
        source.last_success_at = now
        if holds_lease:  # a poll whose lease ran out stores its mentions but leaves the health to the holder
            source.last_polled_at = now
            source.last_error = "; ".join((notes or []) + prepared.notes)[:500]
            source.consecutive_failures = 0
        source.save()
        by_external = {row["external_id"]: row for row in prepared.rows}
        new_rows = [(mention_id, by_external[external_id]) for mention_id, external_id in inserted]
        if new_rows:
            batch_stored(source=source, new_rows=new_rows, rules=rules or [], now=now)
    return IngestResult(
        received=len(fetched), stored=len(inserted), mention_ids=[i for i, _ in inserted], notes=prepared.notes,
        refused=prepared.refused,
    )


PAGES_PER_POLL = 10  # pages one poll stores back to back before it hands the source back


def ingest_pages(*, source: Source, pages: Iterator[FetchResult], lease_token: str | None = None) -> list[IngestResult]:
    """Store a poll's pages in order, each in its own transaction (`mention_ingest_batch`),
    with enrichment off the database's path: while page n is stored, page n + 1 is fetched
    (from the iterator, in this thread) and enriched on a helper thread, which touches no
    database. Every page but the last keeps the lease. A page that cannot be fetched ends the
    poll after the pages before it are stored (the next poll asks again, from their cursor);
    a page that fails to store stops the poll there, nothing of it kept."""
    rules = rules_compiled()
    results: list[IngestResult] = []

    def prepare(page: FetchResult) -> Prepared:
        return mentions_prepare(source=source, fetched=page.mentions, rules=rules)

    def following() -> FetchResult | None:
        try:
            return next(pages, None)
        except AdapterError as error:
            logger.info("poll of %s stops after %d pages: %s", source.id, len(results) + 1, error)
            return None

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="enrich") as pool:
        page = following()
        enriched = pool.submit(prepare, page) if page is not None else None
        while page is not None:
            prepared = enriched.result()
            upcoming = following() if page.more and len(results) + 1 < PAGES_PER_POLL else None
            enriched = pool.submit(prepare, upcoming) if upcoming is not None else None
            results.append(mention_ingest_batch(
                source_id=source.id, fetched=page.mentions, cursor=page.cursor, reads=page.reads,
                lease_token=lease_token, more=page.more, notes=page.notes,
                rate_limited_until=page.rate_limited_until, prepared=prepared, rules=rules,
                keep_lease=upcoming is not None,
            ))
            page = upcoming
    return results


def mentions_publish(*, source: Source, new_rows: list[tuple[int, dict]], rule_names: dict[int, str]) -> None:
    """The feed's push for a stored batch: its newest rows, rendered once."""
    newest = sorted(new_rows, key=lambda pair: pair[0])[-LIVE_ROWS_PER_BATCH:]
    live.publish(
        "mentions.received",
        audience=FEED_AUDIENCE,
        summary=f"{len(new_rows)} new mention{'s' if len(new_rows) != 1 else ''} from {source.name}",
        count=len(new_rows),
        source=source.name,
        mentions=[
            selectors.mention_row({"id": mention_id, **row}, source_name=source.name, rule_names=rule_names)
            for mention_id, row in reversed(newest)
        ],
    )


# --- Alerts --------------------------------------------------------------------------

def alerts_for(*, new_rows: list[tuple[int, dict]], rules: dict[int, AlertRule], now: datetime) -> None:
    """Raise or join the alerts of the rules a stored batch matched (inside ingest's transaction)."""
    matched: dict[int, list[int]] = {}
    for mention_id, row in new_rows:
        for rule_id in row["rule_ids"]:
            matched.setdefault(rule_id, []).append(mention_id)
    for rule_id, mention_ids in matched.items():
        rule = rules[rule_id]
        if rule.kind == AlertRule.Kind.SPIKE:
            continue  # spikes are judged on volume, by spikes_check
        alert_raise_or_join(rule=rule, mention_ids=mention_ids, now=now)


def alert_raise_or_join(*, rule: AlertRule, mention_ids: list[int], now: datetime, title: str = "") -> Alert:
    """Matches within the rule's regroup window join its open alert; otherwise a new one
    is raised, with the rule's actions. Must run inside the ingest transaction."""
    recent = now - timedelta(minutes=rule.regroup_minutes)
    alert = (
        Alert.objects.select_for_update()
        .filter(rule=rule, state=Alert.State.OPEN, last_match_at__gte=recent, ended_at__isnull=True)
        .order_by("-opened_at")
        .first()
    )
    created = alert is None
    if created:
        alert = Alert.objects.create(
            rule=rule, kind=rule.kind, priority=_priority(rule), title=title or f"{rule.name}", opened_at=now
        )
    previous_match = alert.last_match_at
    links = Alert.mentions.through.objects.bulk_create(
        [Alert.mentions.through(alert_id=alert.id, mention_id=i) for i in mention_ids], ignore_conflicts=True
    )
    Alert.objects.filter(id=alert.id).update(mention_count=F("mention_count") + len(links), last_match_at=now)
    alert.refresh_from_db(fields=["mention_count", "last_match_at"])
    if created:
        audit.record(actor=None, action="alert.raise", obj=alert, details={"rule": rule.id, "mentions": len(mention_ids)})
    alert_matched(alert=alert, rule=rule, mention_ids=mention_ids, created=created)
    # A busy alert would push an update every batch; the room needs one every few seconds.
    if rule.alert_room and (created or now - previous_match >= ALERT_UPDATE_EVERY):
        live.publish(
            "alert.raised" if created else "alert.updated",
            audience=FEED_AUDIENCE + [live.role_group(roles.LEGAL)] if alert.priority == "P1" else FEED_AUDIENCE,
            summary=f"{alert.priority} {alert.title}: {alert.mention_count} mention{'s' if alert.mention_count != 1 else ''}",
            alert_id=alert.id,
            priority=alert.priority,
            title=alert.title,
            count=alert.mention_count,
            rule_kind=alert.kind,
        )
    return alert


def _priority(rule: AlertRule) -> str:
    return AlertRule.Priority.P1 if rule.kind == AlertRule.Kind.CRISIS or rule.pause_queue else rule.priority


@transaction.atomic
def alert_acknowledge(*, alert_id: int, user) -> Alert:
    alert = Alert.objects.select_for_update().get(id=alert_id)
    if alert.state == Alert.State.ACKNOWLEDGED:
        raise Conflict(f"{alert.acknowledged_by} already acknowledged this alert at {alert.acknowledged_at:%H:%M}.")
    alert.state = Alert.State.ACKNOWLEDGED
    alert.acknowledged_by = user
    alert.acknowledged_at = timezone.now()
    alert.save(update_fields=["state", "acknowledged_by", "acknowledged_at"])
    audit.record(actor=user, action="alert.acknowledge", obj=alert)
    live.publish(
        "alert.acknowledged",
        audience=FEED_AUDIENCE + [live.role_group(roles.LEGAL)],
        summary=f"{alert.title} acknowledged",
        actor=user.get_full_name() or user.get_username(),
        alert_id=alert.id,
    )
    return alert


def spikes_check(*, now: datetime | None = None) -> list[Alert]:
    """For each spike rule: mentions in the last window against the rolling baseline of the
    windows before it. A spike raises one alert, kept open (and updated) while it lasts and
    ended when volume falls back; a new alert needs a new spike."""
    now = now or timezone.now()
    raised = []
    for rule in AlertRule.objects.filter(enabled=True, kind=AlertRule.Kind.SPIKE):
        window = timedelta(minutes=rule.spike_window_minutes)
        baseline_span = timedelta(minutes=rule.spike_baseline_minutes)
        mentions = Mention.objects.all()
        if rule.query.strip():
            mentions = mentions.filter(rule_ids__contains=[rule.id])
        current = mentions.filter(posted_at__gt=now - window, posted_at__lte=now).count()
        before = mentions.filter(posted_at__gt=now - window - baseline_span, posted_at__lte=now - window).count()
        baseline = before / max(1.0, baseline_span / window)
        threshold = max(rule.spike_min_count, rule.spike_factor * baseline)
        with transaction.atomic():
            # One judge per rule at a time: two workers checking at once must not both raise.
            AlertRule.objects.select_for_update().filter(id=rule.id).first()
            open_alert = (
                Alert.objects.select_for_update()
                .filter(rule=rule, ended_at__isnull=True)
                .order_by("-opened_at")
                .first()
            )
            if current >= threshold:
                ids = list(mentions.filter(posted_at__gt=now - window, posted_at__lte=now).values_list("id", flat=True)[:500])
                if open_alert is None:
                    alert = alert_raise_or_join(
                        rule=rule,
                        mention_ids=ids,
                        now=now,
                        title=f"Spike: {rule.name} ({current} in {rule.spike_window_minutes} min, baseline {baseline:.1f})",
                    )
                    alert.peak, alert.baseline = current, baseline
                    alert.explanation = spike_explain(rule=rule, now=now)  # once per raised spike
                    alert.save(update_fields=["peak", "baseline", "explanation"])
                    raised.append(alert)
                else:
                    known = set(open_alert.mentions.filter(id__in=ids).values_list("id", flat=True))
                    new_ids = [i for i in ids if i not in known]
                    open_alert.mentions.add(*new_ids)
                    if new_ids:
                        alert_matched(alert=open_alert, rule=rule, mention_ids=new_ids, created=False)
                    open_alert.peak = max(open_alert.peak, current)
                    open_alert.mention_count = open_alert.mentions.count()
                    open_alert.last_match_at = now
                    open_alert.save(update_fields=["peak", "mention_count", "last_match_at"])
            elif open_alert is not None:
                open_alert.ended_at = now
                open_alert.save(update_fields=["ended_at"])
                audit.record(actor=None, action="alert.spike_ended", obj=open_alert, details={"peak": open_alert.peak})
                live.publish(
                    "alert.ended", audience=FEED_AUDIENCE, summary=f"{open_alert.title} is over", alert_id=open_alert.id
                )
    return raised


# --- Polling -------------------------------------------------------------------------

def sources_due(*, now: datetime | None = None) -> list[int]:
    now = now or timezone.now()
    return list(
        Source.objects.filter(enabled=True, kind__in=Source.POLLED, next_poll_at__lte=now)
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .filter(Q(rate_limited_until__isnull=True) | Q(rate_limited_until__lte=now))
        .order_by("next_poll_at")
        .values_list("id", flat=True)[:200]
    )


def source_claim(*, source_id: int) -> tuple[Source, str] | None:
    """Take the source's lease, or None when it is not due or another worker holds it."""
    now = timezone.now()
    with transaction.atomic():
        source = (
            Source.objects.select_for_update(skip_locked=True)
            .filter(id=source_id, enabled=True, next_poll_at__lte=now)
            .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
            .filter(Q(rate_limited_until__isnull=True) | Q(rate_limited_until__lte=now))
            .first()
        )
        if source is None:
            return None
        token = secrets.token_hex(8)
        source.lease_until = now + timedelta(seconds=settings.LISTENING_LEASE_SECONDS)
        source.lease_token = token
        source.save(update_fields=["lease_until", "lease_token"])
    return source, token


def source_poll(*, source_id: int) -> str:
    """Poll one source if it is due and free: fetch outside any transaction (the lease
    keeps other workers off), then ingest. Safe to run twice."""
    claimed = source_claim(source_id=source_id)
    if claimed is None:
        return "skipped"
    source, token = claimed
    if source.platform == "x" and budget_paused(source=source):
        _source_failed(source_id=source_id, token=token, message=budget_message(), retry_in=timedelta(hours=1))
        return "over budget"
    try:
        result = registry.fetch(source)
    except RateLimited as error:
        _source_failed(source_id=source_id, token=token, message=str(error), rate_limited_until=error.reset_at)
        return "rate limited"
    except TransientError as error:
        _source_failed(source_id=source_id, token=token, message=str(error), backoff=True)
        return "transient error"
    except PermanentError as error:
        _source_failed(source_id=source_id, token=token, message=str(error), retry_in=timedelta(minutes=5))
        return "error"
    def pages() -> Iterator[FetchResult]:
        """The page fetched above, then (while the adapter says there is more) the next ones,
        each from the cursor of the one before it. Not for an adapter that walks its own
        pages up to a cap per poll (X, Mastodon, Bluesky: registry.pages_itself), which
        spreads metered and rate-limited reads over polls."""
        page = result
        yield page
        while page.more and not registry.pages_itself(source):
            source.cursor = page.cursor  # in memory: the stored cursor moves with each page's transaction
            page = registry.fetch(source)
            yield page

    ingested = ingest_pages(source=source, pages=pages(), lease_token=token)
    if any(batch.stored for batch in ingested):
        spikes_check()  # a spike is news the moment its mentions land, not at the next beat tick
    return "ok"


def _source_failed(
    *,
    source_id: int,
    token: str,
    message: str,
    rate_limited_until: datetime | None = None,
    backoff: bool = False,
    retry_in: timedelta | None = None,
) -> None:
    now = timezone.now()
    with transaction.atomic():
        source = Source.objects.select_for_update().get(id=source_id)
        if source.lease_token != token:
            return
        source.consecutive_failures += 1
        source.last_error = message[:500]
        source.last_error_at = now
        source.last_polled_at = now
        source.lease_until = None
        source.lease_token = ""
        if rate_limited_until is not None:
            source.rate_limited_until = rate_limited_until
            source.next_poll_at = rate_limited_until
        elif backoff:
            delay = min(timedelta(seconds=_interval(source) * 2 ** min(source.consecutive_failures, 8)), MAX_BACKOFF)
            source.next_poll_at = now + delay
        else:
            source.next_poll_at = now + (retry_in or timedelta(seconds=_interval(source)))
        source.save()
        source.refresh_from_db()
        live.publish(
            "source.health",
            audience=[live.role_group(roles.LEAD), live.role_group(roles.ADMIN)],
            summary=f"{source.name}: {message[:200]}",
            source_id=source.id,
        )


# --- The X read budget -----------------------------------------------------------------

def budget_paused(*, source: Source) -> bool:
    return settings.X_MONTHLY_READ_CAP > 0 and selectors.budget_used() >= settings.X_MONTHLY_READ_CAP


def budget_message() -> str:
    return f"X monthly read cap of {settings.X_MONTHLY_READ_CAP} posts reached: polling resumes next month."


def _interval(source: Source) -> float:
    return source.poll_interval * (selectors.budget_pace() if source.platform == "x" else 1.0)


def _usage_add(*, source: Source, reads: int, day) -> None:
    usage, _ = ReadUsage.objects.get_or_create(source=source, day=day)
    ReadUsage.objects.filter(id=usage.id).update(reads=F("reads") + reads, polls=F("polls") + 1)


def engagement_reads_record(*, reads: int, requests: int = 1, now: datetime | None = None) -> None:
    """X posts read to follow the engagement of what the room published: they count
    against the same monthly cap as listening, on their own line of the meter."""
    day = (now or timezone.now()).date()
    usage, _ = ReadUsage.objects.get_or_create(source=None, day=day, purpose=ReadUsage.Purpose.ENGAGEMENT)
    ReadUsage.objects.filter(id=usage.id).update(reads=F("reads") + reads, polls=F("polls") + requests)


# --- The lead's sources and rules ------------------------------------------------------

@transaction.atomic
def source_create(*, user, name: str, kind: str, query_text: str, poll_interval: int, instance_url: str = "",
                  login: str = "", secret: str = "", client_id: str = "", client_secret: str = "",
                  community: str = "") -> Source:
    """A source the room polls or receives. Mastodon sources name their instance (and a
    token, which mentions need); Bluesky sources a handle and app password (and a PDS when
    not bsky.social); Reddit sources a subreddit and a script app's id and secret. A server a person typed must be on the public internet (the SSRF
    guard, warroom/netguard.py), checked here and again before every poll."""
    name = without_bidi_controls(clean(name, 120)).strip()
    query_text = clean(query_text, 512).strip()
    instance_url, login, secret = clean(instance_url, 300).strip(), clean(login, 253).strip(), clean(secret, 500).strip()
    if not name:
        raise InvalidInput("Name is empty: call the source something the room will recognise.")
    if kind not in Source.Kind.values:
        raise InvalidInput(f"Kind must be one of: {', '.join(Source.Kind.values)}.")
    needs = {"x_search": "an X search query", "x_mentions": "the account handle", "rss": "the feed URL",
             "mastodon_tag": "the hashtag", "mastodon_search": "the search words", "bluesky_search": "the search words",
             "reddit_search": "the search words", "reddit_comments": "the term comments mention"}
    if kind in needs and not query_text:
        raise InvalidInput(f"Query is empty: this kind of source needs {needs[kind]}.")
    if kind == Source.Kind.RSS and not query_text.startswith(("http://", "https://")):
        raise InvalidInput("Query must be the feed's http:// or https:// URL.")
    if not isinstance(poll_interval, int) or poll_interval < 5 or poll_interval > 86400:
        raise InvalidInput("Poll interval must be between 5 and 86400 seconds.")
    try:  # a network's adapter checks what its sources need (a server, a login), the SSRF guard included
        query_text, instance_url, login, secret, extra = registry.source_clean(
            kind=kind, query=query_text, instance_url=instance_url, login=login, secret=secret,
            client_id=clean(client_id, 64).strip(), client_secret=clean(client_secret, 200).strip(),
            community=clean(community, 40).strip())
    except PermanentError as error:
        raise InvalidInput(str(error)) from error
    source = Source.objects.create(
        name=name, kind=kind, query=query_text.lstrip("@") if kind == Source.Kind.X_MENTIONS else query_text,
        poll_interval=poll_interval, created_by=user, instance_url=instance_url.rstrip("/"), login=login.lstrip("@"),
        secret=secret, client_id=extra.get("client_id", ""), client_secret=extra.get("client_secret", ""),
        community=extra.get("community", ""),
    )
    audit.record(actor=user, action="source.create", obj=source,
                 details={"kind": kind, "query": source.query, "instance_url": source.instance_url, "login": source.login,
                          **({"community": source.community} if source.community else {})})
    return source


@transaction.atomic
def source_webhook_secret_rotate(*, source_id: int, user) -> tuple[Source, str]:
    """A new webhook secret, returned once for the lead to copy (the page masks it after).
    The old one stops working at once, and so does the legacy body-only signature: the
    sender sets the new secret and signs "<timestamp>.<body>"."""
    if not roles.has_role(user, {roles.LEAD, roles.ADMIN}):
        raise Forbidden("Only the lead or an admin rotates a webhook secret.")
    source = Source.objects.select_for_update().filter(id=source_id, kind=Source.Kind.WEBHOOK).first()
    if source is None:
        raise InvalidInput("That webhook source does not exist.")
    source.webhook_secret = new_token()
    was_legacy, source.webhook_legacy = source.webhook_legacy, False
    source.save(update_fields=["webhook_secret", "webhook_legacy"])
    audit.record(actor=user, action="source.rotate_secret", obj=source, details={"was_legacy": was_legacy})
    live.publish(
        "source.secret_rotated",
        audience=[live.role_group(roles.LEAD), live.role_group(roles.ADMIN)],
        summary=f"{user.get_full_name() or user.get_username()} rotated the webhook secret of {source.name}: "
                "the old one no longer signs",
        actor=user.get_full_name() or user.get_username(),
        source_id=source.id,
    )
    return source, source.webhook_secret


@transaction.atomic
def source_set_enabled(*, source_id: int, user, enabled: bool) -> Source:
    source = Source.objects.select_for_update().get(id=source_id)
    source.enabled = enabled
    if enabled:
        source.next_poll_at = timezone.now()
    source.save(update_fields=["enabled", "next_poll_at"])
    audit.record(actor=user, action="source.enable" if enabled else "source.disable", obj=source)
    return source


@transaction.atomic
def rule_create(*, user, **fields) -> AlertRule:
    name = clean(fields.get("name", ""), 120).strip()
    if not name:
        raise InvalidInput("Name is empty: say what this rule watches for.")
    kind = fields.get("kind", AlertRule.Kind.KEYWORD)
    if kind not in AlertRule.Kind.values:
        raise InvalidInput(f"Kind must be one of: {', '.join(AlertRule.Kind.values)}.")
    query_text = clean(fields.get("query", ""), 1000).strip()
    if query_text:
        query.parse(query_text)  # QuerySyntaxError names the position
    elif kind in (AlertRule.Kind.KEYWORD, AlertRule.Kind.CRISIS):
        raise InvalidInput("Query is empty: keyword and crisis rules need the words to watch for.")
    rule = AlertRule(
        name=name,
        kind=kind,
        query=query_text,
        priority=fields.get("priority") or AlertRule.Priority.P3,
        sentiment_at_most=fields.get("sentiment_at_most"),
        min_followers=fields.get("min_followers"),
        alert_room=fields.get("alert_room", True),
        open_case=fields.get("open_case", False),
        pause_queue=fields.get("pause_queue", kind == AlertRule.Kind.CRISIS),
        declare_crisis=bool(fields.get("declare_crisis", False)),
        created_by=user,
    )
    for key in ("spike_window_minutes", "spike_baseline_minutes", "spike_factor", "spike_min_count", "regroup_minutes"):
        if fields.get(key) is not None:
            setattr(rule, key, fields[key])
    if rule.priority not in AlertRule.Priority.values:
        raise InvalidInput("Priority must be P1, P2, P3 or P4.")
    if kind == AlertRule.Kind.SENTIMENT and rule.sentiment_at_most is None:
        raise InvalidInput("Sentiment at most is empty: give a score between -1 and 1, e.g. -0.5.")
    if rule.sentiment_at_most is not None and not -1 <= rule.sentiment_at_most <= 1:
        raise InvalidInput("Sentiment at most must be between -1 and 1.")
    if kind == AlertRule.Kind.INFLUENCE and not rule.min_followers:
        raise InvalidInput("Minimum followers is empty: influence rules need a follower count.")
    if kind == AlertRule.Kind.SPIKE and (rule.spike_window_minutes < 1 or rule.spike_factor <= 1):
        raise InvalidInput("A spike needs a window of at least 1 minute and a factor above 1.")
    rule.save()
    audit.record(actor=user, action="rule.create", obj=rule, details={"kind": kind, "query": query_text})
    return rule


@transaction.atomic
def rule_set_enabled(*, rule_id: int, user, enabled: bool) -> AlertRule:
    rule = AlertRule.objects.select_for_update().get(id=rule_id)
    rule.enabled = enabled
    rule.save(update_fields=["enabled"])
    audit.record(actor=user, action="rule.enable" if enabled else "rule.disable", obj=rule)
    return rule
