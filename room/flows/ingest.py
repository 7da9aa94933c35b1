"""A batch was ingested: listening stored its new mentions and moved the source's cursor;
in that same transaction the rest of the room takes them up. And an alert was raised (or
mentions joined one): its rule's actions, through the other apps' services."""

from datetime import datetime

from approvals import services as approvals
from listening import services as listening
from listening.models import Alert, AlertRule
from playbooks import services as playbooks
from triage import services as triage
from wall import rollups
from warroom.errors import Conflict

from . import crisis

CASES_PER_BATCH = 50


def batch_stored(*, source, new_rows: list[tuple[int, dict]], rules: list[listening.CompiledRule], now: datetime) -> None:
    """Rollups, thread joins, alerts (and their actions), routing, scenarios, the feed's
    push: in this order, inside ingest's transaction (listening.batch_stored)."""
    rollups.mention_minutes_add(source_id=source.id, rows=[row for _, row in new_rows])
    joined = triage.mentions_join_threads(mentions=new_rows)  # a customer writing again joins their case
    listening.alerts_for(new_rows=new_rows, rules={c.rule.id: c.rule for c in rules}, now=now)
    crisis.mentions_route(new_rows=new_rows)  # a declared crisis's terms: P1 for the crisis team
    # After the alerts' cases, which carry their priority; the triage rules open the rest.
    triage.mentions_route(mentions=[pair for pair in new_rows if pair[0] not in joined])
    playbooks.scenarios_match_mentions(new_rows=new_rows, now=now)  # the night's scenarios light up
    listening.mentions_publish(source=source, new_rows=new_rows, rule_names={c.rule.id: c.rule.name for c in rules})


def alert_actions(*, alert: Alert, rule: AlertRule, mention_ids: list[int], created: bool) -> None:
    """A rule's actions, in the ingest transaction, through the other apps' services:
    pause the outgoing queue (approvals), suggest the night's spike scenarios (playbooks),
    open cases (triage) — one incident case for a spike or crisis, else a case per
    mention (listening.alert_matched)."""
    if rule.declare_crisis and created:  # before the rule's own pause, so the pause names the crisis
        crisis.crisis_declare(user=None, name=rule.name, reason=alert.title, terms=rule.query, alert_id=alert.id)
    if rule.pause_queue and created:
        try:
            approvals.queue_pause(user=None, reason=f"Alert rule \u201c{rule.name}\u201d: {alert.title}")
        except Conflict:
            pass  # already paused: the earlier reason stands
    if created and rule.kind == AlertRule.Kind.SPIKE:
        playbooks.scenarios_match_alert(alert=alert, now=alert.opened_at)
    if rule.open_case:
        if rule.kind in (AlertRule.Kind.SPIKE, AlertRule.Kind.CRISIS):
            triage.incident_open_or_join(alert_id=alert.id, mention_ids=mention_ids, priority=alert.priority)
        else:
            # One statement per table for the batch's cases (skipping mentions that have one).
            triage.cases_open_from_mentions(mention_ids=mention_ids[:CASES_PER_BATCH], priority=alert.priority)
