"""Triage's writes: opening cases (one per mention, or one incident per spike or crisis
alert), taking and assigning them without two people answering the same customer,
escalating, waiting (the SLA clock stops), replying through approvals, closing, and
recording each SLA breach once. Every decision is audited and pushed live."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from approvals import selectors as approvals_selectors
from approvals import services as approvals
from networks import registry as networks
from listening import query
from listening.models import Alert, AlertRule, Mention
from warroom import audit, live, roles
from warroom.errors import Conflict, Forbidden, InvalidInput

from . import selectors
from .models import DEFAULT_SLA, TEAM_ROLE, Case, CaseEvent, Priority, SlaPolicy, Team, TriageRule

AGENTS = frozenset({roles.COMMUNITY_MANAGER, roles.LEAD, roles.ADMIN})


def _name(user) -> str:
    return (user.get_full_name() or user.get_username()) if user is not None else "system"


def sla_minutes(priority: str) -> tuple[int, int]:
    policy = SlaPolicy.objects.filter(priority=priority).first()
    return (policy.first_response_minutes, policy.resolution_minutes) if policy else DEFAULT_SLA[priority]


def case_audience(case: Case) -> list[str]:
    """Who sees a case's changes live: the agents, the team it is with, its assignee."""
    groups = {live.role_group(r) for r in (roles.COMMUNITY_MANAGER, roles.LEAD, roles.ADMIN)}
    groups.add(live.role_group(TEAM_ROLE[case.team]))
    if case.assignee_id:
        groups.add(live.user_group(case.assignee_id))
    return sorted(groups)


def _changed(case: Case, kind: str, actor, summary: str, text: str = "", post=None, audit_details=None,
             created: bool = False, group: live.Group | None = None) -> None:
    """Record one change to a case: history, version, audit, live push. A case just
    created (at version 1) is not saved again. With `group`, a burst of like changes is
    one rail item and one notice with a count (live.Group)."""
    if not created:
        case.version += 1
        case.save()
    CaseEvent.objects.create(case=case, actor=actor, kind=kind, text=text, post=post)
    audit.record(actor=actor, action=f"case.{kind}", obj=case, details=audit_details or {})
    live.publish(f"case.{kind}", audience=case_audience(case), summary=summary, actor=_name(actor) if actor else "",
                 case_id=case.id, status=case.status, priority=case.priority, team=case.team,
                 assignee=_name(case.assignee) if case.assignee_id else "", version=case.version, group=group)


def _breach_group(case: Case, target: str) -> live.Group:
    """SLA breaches of one target, priority and team within LIVE_GROUP_SECONDS are one notice."""
    what = "first-response" if target == "first_response" else "resolution"
    return live.Group(key=f"{target}:{case.priority}:{case.team}",
                      one=f"{case.priority} case breached its {what} target",
                      many=f"{case.priority} cases breached their {what} target",
                      link=f"/queue/?breached=1&priority={case.priority}&team={case.team}")


def _require(user, allowed=AGENTS, what="work cases") -> None:
    if not roles.has_role(user, allowed):
        raise Forbidden(f"Your role cannot {what}.")


def _due(opened: datetime, priority: str) -> tuple[datetime, datetime]:
    first, resolution = sla_minutes(priority)
    return opened + timedelta(minutes=first), opened + timedelta(minutes=resolution)


def mentions_with_cases(mention_ids: list[int]) -> set[int]:
    """Which of these mentions already have a case (their own, or the thread's they joined): one query."""
    own = Case.objects.filter(mention_id__in=mention_ids).values_list("mention_id", flat=True)
    joined = (Case.mentions.through.objects.filter(mention_id__in=mention_ids)
              .exclude(case__status=Case.Status.RESOLVED).values_list("mention_id", flat=True))
    return set(own.union(joined))


@transaction.atomic(savepoint=False)  # called per mention inside ingest's transaction
def case_open_from_mention(*, mention_id: int, priority: str = Priority.P3, team: str = Team.SOCIAL,
                           tags: list[str] | None = None, actor=None, rules: list["CompiledTriageRule"] | None = None,
                           checked: bool = False, team_fixed: bool = False) -> Case:
    """One case per mention: opening it again returns the case that exists. A batch
    caller that asked `mentions_with_cases` first passes `checked` and saves the lookups.

    The first of the lead's triage rules the mention meets decides the team, adds its
    tags, may assign and escalate; the priority is the more urgent of the rule's and the
    caller's (a crisis alert's P1 is never demoted by a routine rule). With `team_fixed` the
    caller's team stands (a declared crisis's cases stay with the crisis team)."""
    if not checked:
        existing = Case.objects.filter(mention_id=mention_id).first()
        if existing is None:  # a reply that joined its thread's case
            joined = Case.mentions.through.objects.filter(mention_id=mention_id).values_list("case_id", flat=True)[:5]
            existing = Case.objects.filter(id__in=list(joined)).exclude(status=Case.Status.RESOLVED).first() if joined else None
        if existing:
            return existing
    mention = Mention.objects.get(id=mention_id)
    rule = triage_rule_for(mention_facts(mention), triage_rules_compiled() if rules is None else rules)
    if rule is not None:
        priority, team = min(priority, rule.priority), team if team_fixed else rule.team
        tags = [*(tags or []), *(t for t in rule.tags if t not in (tags or []))]
    now = timezone.now()
    first_due, resolution_due = _due(now, priority)
    case = Case.objects.create(
        title=f"@{mention.author_handle}: {mention.text[:200]}", mention=mention, priority=priority, team=team,
        tags=list(tags or []), opened_at=now, first_response_due=first_due, resolution_due=resolution_due, version=1,
        rule=rule, replies_need_legal=bool(rule and rule.replies_need_legal),
    )
    routed = f" (rule \u201c{rule.name}\u201d)" if rule else ""
    _changed(case, "opened", actor, f"{priority} case opened{routed}: {case.title[:120]}",
             audit_details={"rule": rule.id} if rule else None, created=True,
             group=None if actor is not None else _opened_group(priority, team))
    if rule is not None:
        _rule_actions(case, rule)
    return case


def _opened_group(priority: str, team: str) -> live.Group:
    """Cases the rules open (not a person) come in bursts: one rail item per priority and team."""
    return live.Group(key=f"{priority}:{team}", one=f"{priority} case opened", many=f"{priority} cases opened",
                      link=f"/queue/?priority={priority}&team={team}")


@transaction.atomic(savepoint=False)  # inside ingest's transaction
def cases_open_from_mentions(*, mention_ids: list[int], priority: str = Priority.P3, team: str = Team.SOCIAL,
                             tags: list[str] | None = None, rules: list["CompiledTriageRule"] | None = None,
                             checked: bool = False, team_fixed: bool = False) -> list[Case]:
    """`case_open_from_mention` for a batch, opened by the system: one statement per table
    (the mentions, the SLA policies, the cases, their history, their audit entries, their
    live events), not seven per case. Mentions that have a case already are skipped (unless
    the caller `checked`). Returns the cases opened, in the order of `mention_ids`."""
    mention_ids = list(dict.fromkeys(mention_ids))
    if not checked and mention_ids:
        have = mentions_with_cases(mention_ids)
        mention_ids = [mention_id for mention_id in mention_ids if mention_id not in have]
    if not mention_ids:
        return []
    rules = triage_rules_compiled() if rules is None else rules
    mentions = Mention.objects.only("id", "author_handle", "text", "sentiment", "lang", "author_followers",
                                    "rule_ids").in_bulk(mention_ids)
    slas = _sla_table()
    now = timezone.now()
    cases, routed_by = [], []
    for mention_id in mention_ids:
        mention = mentions.get(mention_id)
        if mention is None:
            continue
        rule = triage_rule_for(mention_facts(mention), rules) if rules else None
        case_priority, case_team, case_tags = priority, team, list(tags or [])
        if rule is not None:
            case_priority, case_team = min(priority, rule.priority), team if team_fixed else rule.team
            case_tags += [t for t in rule.tags if t not in case_tags]
        first, resolution = slas[case_priority]
        cases.append(Case(
            title=f"@{mention.author_handle}: {mention.text[:200]}", mention=mention, priority=case_priority,
            team=case_team, tags=case_tags, opened_at=now, first_response_due=now + timedelta(minutes=first),
            resolution_due=now + timedelta(minutes=resolution), version=1, rule=rule,
            replies_need_legal=bool(rule and rule.replies_need_legal),
        ))
        routed_by.append(rule)
    Case.objects.bulk_create(cases)
    CaseEvent.objects.bulk_create([CaseEvent(case=case, kind="opened") for case in cases])
    audit.record_many(actor=None, entries=[("case.opened", case, {"rule": rule.id} if rule else None)
                                           for case, rule in zip(cases, routed_by)])
    live.publish_many([
        live.Pending(
            kind="case.opened", audience=case_audience(case),
            summary=f"{case.priority} case opened"
                    + (f" (rule \u201c{rule.name}\u201d)" if rule else "") + f": {case.title[:120]}",
            payload={"case_id": case.id, "status": case.status, "priority": case.priority, "team": case.team,
                     "assignee": "", "version": case.version},
            group=_opened_group(case.priority, case.team),
        )
        for case, rule in zip(cases, routed_by)
    ])
    for case, rule in zip(cases, routed_by):
        if rule is not None and (rule.assign == TriageRule.Assign.ROUND_ROBIN or rule.escalate_note):
            _rule_actions(case, rule)  # rare, and per case: assignment takes the rule's row lock
    return cases


def _sla_table() -> dict[str, tuple[int, int]]:
    """(first response, resolution) minutes per priority, in one query."""
    table = dict(DEFAULT_SLA)
    for policy in SlaPolicy.objects.all():
        table[policy.priority] = (policy.first_response_minutes, policy.resolution_minutes)
    return table


# --- Triage rules ----------------------------------------------------------------------

@dataclass(frozen=True)
class CompiledTriageRule:
    rule: TriageRule
    query: query.Query | None

    def matches(self, facts: dict) -> bool:
        rule = self.rule
        if rule.alert_rule_id is not None and rule.alert_rule_id not in facts["rule_ids"]:
            return False
        if rule.sentiment_at_most is not None and facts["sentiment"] > rule.sentiment_at_most:
            return False
        if rule.min_followers is not None and facts["author_followers"] < rule.min_followers:
            return False
        if rule.languages and facts["lang"] not in rule.languages:
            return False
        return self.query is None or self.query.matches(query.tokenize(facts["text"]))


def triage_rules_compiled() -> list[CompiledTriageRule]:
    """The enabled rules in the order they are tried."""
    compiled = []
    for rule in TriageRule.objects.filter(enabled=True).order_by("position", "id"):
        try:
            parsed = query.parse_cached(rule.query) if rule.query.strip() else None
        except query.QuerySyntaxError:
            continue  # refused when saved; a rule saved before a parser change is skipped, not fatal
        compiled.append(CompiledTriageRule(rule=rule, query=parsed))
    return compiled


def mention_facts(mention) -> dict:
    """What triage rules look at, from a stored Mention or an ingest row."""
    get = mention.get if isinstance(mention, dict) else lambda key, default=None: getattr(mention, key, default)
    return {"text": get("text", "") or "", "sentiment": get("sentiment", 0.0) or 0.0, "lang": get("lang", "") or "",
            "author_followers": get("author_followers", 0) or 0, "rule_ids": list(get("rule_ids", None) or [])}


def triage_rule_for(facts: dict, rules: list[CompiledTriageRule]) -> TriageRule | None:
    return next((compiled.rule for compiled in rules if compiled.matches(facts)), None)


def mentions_join_threads(*, mentions: list[tuple[int, dict]]) -> set[int]:
    """A customer writing again in the thread of their open case: the mention joins that
    case instead of opening another. The case's version moves (a reply drafted before it
    is refused, with the change shown) and a case waiting on the customer restarts its
    clock. Runs in the ingest transaction; returns the ids of the mentions that joined."""
    # Only a reply can continue a thread: a post that starts its own conversation cannot.
    wanted = {(row["author_handle"].lower(), row["conversation_id"]) for _, row in mentions
              if row.get("conversation_id") and row.get("author_handle") and row.get("in_reply_to")
              and row["conversation_id"] != row.get("external_id")}
    if not wanted:
        return set()
    cases = (Case.objects.select_for_update(of=("self",)).select_related("mention")
             .filter(mention__conversation_id__in={conversation for _, conversation in wanted})
             .exclude(status=Case.Status.RESOLVED).order_by("id"))
    by_thread = {}
    for case in cases:
        by_thread.setdefault((case.mention.author_handle.lower(), case.mention.conversation_id), case)
    joined = set()
    for mention_id, row in mentions:
        case = by_thread.get((row.get("author_handle", "").lower(), row.get("conversation_id", "")))
        if case is None or case.mention_id == mention_id:
            continue
        case.mentions.add(mention_id)
        joined.add(mention_id)
        if case.status == Case.Status.WAITING:
            _clock_restart(case)
            kind, summary = "customer_answered", f"The customer answered on case #{case.id}"
        else:
            kind, summary = "grouped", f"@{row['author_handle']} wrote again on case #{case.id}"
        _changed(case, kind, None, summary, text=row["text"][:1000], audit_details={"mention": mention_id})
    return joined


def mentions_route(*, mentions: list[tuple[int, dict]]) -> list[int]:
    """New mentions that meet a triage rule get their case now, in the ingest transaction,
    so a mention is never stored without the case the lead asked for. Returns the case ids."""
    rules = triage_rules_compiled()
    if not rules:
        return []
    matched = [mention_id for mention_id, row in mentions if triage_rule_for(mention_facts(row), rules) is not None]
    if not matched:
        return []
    # Skips those with a case already, e.g. opened by an alert rule a moment ago.
    return [case.id for case in cases_open_from_mentions(mention_ids=matched, rules=rules)]


def _rule_actions(case: Case, rule: TriageRule) -> None:
    if rule.assign == TriageRule.Assign.ROUND_ROBIN:
        rule = TriageRule.objects.select_for_update().get(id=rule.id)  # one cursor, however many workers
        person = _round_robin(rule, case.team)
        if person is None:
            CaseEvent.objects.create(case=case, kind="unassigned",
                                     text=f"Nobody from {Team(case.team).label} is in the room: left in the queue.")
        else:
            rule.last_assignee = person
            rule.save(update_fields=["last_assignee"])
            case.assignee, case.status = person, Case.Status.OPEN
            _changed(case, "assigned", None, f"Case #{case.id} assigned to {_name(person)} (round-robin, rule "
                     f"\u201c{rule.name}\u201d)", audit_details={"rule": rule.id, "round_robin": True})
    if rule.escalate_note and case.team in (Team.LEGAL, Team.PR, Team.SUPPORT):
        case.status = Case.Status.ESCALATED
        _changed(case, "escalated", None, f"Case #{case.id} escalated to {Team(case.team).label} by rule "
                 f"\u201c{rule.name}\u201d: {rule.escalate_note[:120]}", text=rule.escalate_note,
                 audit_details={"team": case.team, "rule": rule.id})


def _round_robin(rule: TriageRule, team: str):
    """The next of the team's people who are in the room now, after the last one this rule picked."""
    people = selectors.team_members_in_room(team)
    if not people:
        return None
    after = rule.last_assignee_id or 0
    return next((person for person in people if person.id > after), people[0])


def _rule_fields(fields: dict) -> dict:
    """Check a triage rule form; every refusal names the field."""
    name = " ".join(str(fields.get("name", "")).split())[:120]
    if not name:
        raise InvalidInput("Name is empty: say what this rule routes.")
    query_text = str(fields.get("query", "") or "").replace("\x00", "").strip()[:1000]
    if query_text:
        query.parse(query_text)  # QuerySyntaxError names the position
    alert_rule = None
    if fields.get("alert_rule"):
        alert_rule = AlertRule.objects.filter(id=fields["alert_rule"]).first()
        if alert_rule is None:
            raise InvalidInput("Listening rule: choose one of the listening rules.")
    sentiment = fields.get("sentiment_at_most")
    if sentiment is not None and not -1 <= sentiment <= 1:
        raise InvalidInput("Sentiment at most must be between -1 and 1.")
    followers = fields.get("min_followers")
    if followers is not None and followers < 0:
        raise InvalidInput("Minimum followers cannot be negative.")
    languages = sorted({code.strip().lower()[:12] for code in fields.get("languages") or [] if code.strip()})
    if not any((alert_rule, query_text, sentiment is not None, followers is not None, languages)):
        raise InvalidInput("Conditions are empty: give at least one (a listening rule, keywords, sentiment, "
                           "followers or language), or every mention would open a case.")
    priority, team = fields.get("priority") or Priority.P3, fields.get("team") or Team.SOCIAL
    if priority not in Priority.values:
        raise InvalidInput("Priority must be P1, P2, P3 or P4.")
    if team not in Team.values:
        raise InvalidInput(f"Team must be one of: {', '.join(Team.labels)}.")
    assign = fields.get("assign") or TriageRule.Assign.NOBODY
    if assign not in TriageRule.Assign.values:
        raise InvalidInput("Assign: choose nobody or round-robin.")
    note = str(fields.get("escalate_note", "") or "").replace("\x00", "").strip()[:1000]
    if note and team == Team.SOCIAL:
        raise InvalidInput("Escalate: choose legal, PR or support as the team to escalate to.")
    tags = []
    for tag in fields.get("tags") or []:
        tag = " ".join(tag.split()).lower()[:40]
        if tag and tag not in tags:
            tags.append(tag)
    return {"name": name, "query": query_text, "alert_rule": alert_rule, "sentiment_at_most": sentiment,
            "min_followers": followers, "languages": languages, "priority": priority, "team": team, "tags": tags[:10],
            "assign": assign, "escalate_note": note, "replies_need_legal": bool(fields.get("replies_need_legal"))}


def _require_lead(user, what: str) -> None:
    _require(user, {roles.LEAD, roles.ADMIN}, what)


@transaction.atomic
def triage_rule_create(*, user, **fields) -> TriageRule:
    _require_lead(user, "manage triage rules")
    last = TriageRule.objects.order_by("-position").values_list("position", flat=True).first()
    rule = TriageRule.objects.create(position=(last or 0) + 1, created_by=user, **_rule_fields(fields))
    audit.record(actor=user, action="triage_rule.create", obj=rule, details=_rule_summary(rule))
    return rule


@transaction.atomic
def triage_rule_update(*, rule_id: int, user, **fields) -> TriageRule:
    _require_lead(user, "manage triage rules")
    rule = TriageRule.objects.select_for_update().get(id=rule_id)
    for key, value in _rule_fields(fields).items():
        setattr(rule, key, value)
    rule.save()
    audit.record(actor=user, action="triage_rule.update", obj=rule, details=_rule_summary(rule))
    return rule


@transaction.atomic
def triage_rule_set_enabled(*, rule_id: int, user, enabled: bool) -> TriageRule:
    _require_lead(user, "manage triage rules")
    rule = TriageRule.objects.select_for_update().get(id=rule_id)
    rule.enabled = enabled
    rule.save(update_fields=["enabled"])
    audit.record(actor=user, action="triage_rule.enable" if enabled else "triage_rule.disable", obj=rule)
    return rule


@transaction.atomic
def triage_rule_move(*, rule_id: int, user, up: bool) -> list[int]:
    """Swap a rule with its neighbour: the order decides which rule routes a mention."""
    _require_lead(user, "reorder triage rules")
    rules = list(TriageRule.objects.select_for_update().order_by("position", "id"))
    index = next((i for i, rule in enumerate(rules) if rule.id == rule_id), None)
    if index is None:
        raise InvalidInput("That triage rule no longer exists.")
    other = index - 1 if up else index + 1
    if 0 <= other < len(rules):
        rules[index], rules[other] = rules[other], rules[index]
    for position, rule in enumerate(rules, start=1):
        if rule.position != position:
            rule.position = position
            rule.save(update_fields=["position"])
    audit.record(actor=user, action="triage_rule.move", obj=rules[other if 0 <= other < len(rules) else index],
                 details={"order": [rule.id for rule in rules]})
    return [rule.id for rule in rules]


def _rule_summary(rule: TriageRule) -> dict:
    return {"query": rule.query, "alert_rule": rule.alert_rule_id, "sentiment_at_most": rule.sentiment_at_most,
            "min_followers": rule.min_followers, "languages": rule.languages, "priority": rule.priority,
            "team": rule.team, "tags": rule.tags, "assign": rule.assign, "escalate": bool(rule.escalate_note),
            "replies_need_legal": rule.replies_need_legal}


# --- SLA policies ----------------------------------------------------------------------

@transaction.atomic
def sla_policy_set(*, user, priority: str, first_response_minutes: int, resolution_minutes: int) -> SlaPolicy:
    """The lead's targets for one priority. Cases opened from now on use them; open cases
    keep the targets they were opened with, so no timer jumps under an agent's eyes."""
    _require_lead(user, "change SLA targets")
    if priority not in Priority.values:
        raise InvalidInput("Priority must be P1, P2, P3 or P4.")
    if not 1 <= first_response_minutes <= 60 * 24 * 30:
        raise InvalidInput(f"{priority} first response: give minutes between 1 and 43200 (30 days).")
    if not first_response_minutes <= resolution_minutes <= 60 * 24 * 90:
        raise InvalidInput(f"{priority} resolution: give minutes from the first-response target up to 129600 (90 days).")
    default_first, default_resolution = DEFAULT_SLA[priority]
    policy, _ = SlaPolicy.objects.select_for_update().get_or_create(
        priority=priority, defaults={"first_response_minutes": default_first, "resolution_minutes": default_resolution})
    before = (policy.first_response_minutes, policy.resolution_minutes)
    policy.first_response_minutes, policy.resolution_minutes = first_response_minutes, resolution_minutes
    policy.save()
    if before != (first_response_minutes, resolution_minutes):
        audit.record(actor=user, action="sla.set", obj=policy,
                     details={"priority": priority, "before": list(before),
                              "after": [first_response_minutes, resolution_minutes]})
    return policy


INCIDENT_LOCK = 0x494E4349  # "INCI": with the rule's id, serializes one rule's incident


@transaction.atomic(savepoint=False)  # called inside ingest's transaction
def incident_open_or_join(*, alert_id: int, mention_ids: list[int], priority: str) -> Case:
    """A spike or crisis rule has one incident at a time: one case, one owner, all its
    mentions. A later alert of the same rule (a new spike) joins the open incident and is
    added to its spike history; a resolved incident reopens when its rule fires again
    within INCIDENT_REOPEN_MINUTES, instead of a second case with the same title."""
    alert = Alert.objects.select_related("rule").get(id=alert_id)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [INCIDENT_LOCK, alert.rule_id or 0])
    case = Case.objects.select_for_update().filter(alert=alert).first()
    if case is None and alert.rule_id is not None:
        case = (Case.objects.select_for_update().filter(incident_rule_id=alert.rule_id)
                .exclude(status=Case.Status.RESOLVED).order_by("-id").first())
    now = timezone.now()
    if case is None and alert.rule_id is not None:
        reopen_after = now - timedelta(minutes=settings.INCIDENT_REOPEN_MINUTES)
        case = (Case.objects.select_for_update()
                .filter(incident_rule_id=alert.rule_id, status=Case.Status.RESOLVED, resolved_at__gte=reopen_after)
                .order_by("-resolved_at").first())
        if case is not None:
            _spike(case, alert, mention_ids, now)
            case.mentions.add(*mention_ids)
            _first, resolution_minutes = sla_minutes(case.priority)
            case.status = Case.Status.OPEN if case.assignee_id else Case.Status.NEW
            case.resolved_at, case.resolution_breached_at = None, None
            case.resolution_due = now + timedelta(minutes=resolution_minutes)
            case.priority = min(case.priority, priority)
            case.reopened_count += 1
            _changed(case, "reopened", None, f"{case.priority} incident #{case.id} reopened: {alert.title} fired again "
                     f"({len(mention_ids)} mention{'s' if len(mention_ids) != 1 else ''})",
                     audit_details={"alert": alert.id, "mentions": len(mention_ids)})
            return case
    if case is None:
        first_due, resolution_due = _due(now, priority)
        case = Case.objects.create(title=f"Incident: {alert.title}", alert=alert, incident_rule_id=alert.rule_id,
                                   priority=priority, tags=["incident"], opened_at=now, first_response_due=first_due,
                                   resolution_due=resolution_due, version=0)
        _spike(case, alert, mention_ids, now)
        case.mentions.add(*mention_ids)
        _changed(case, "opened", None, f"{priority} incident opened: {alert.title}",
                 audit_details={"alert": alert.id, "mentions": len(mention_ids)})
        return case
    case.mentions.add(*mention_ids)
    if _spike(case, alert, mention_ids, now):
        case.priority = min(case.priority, priority)
        _changed(case, "grouped", None, f"New spike of \u201c{alert.title}\u201d joined incident #{case.id} "
                 f"(spike {len(case.spikes)}, {len(mention_ids)} mention{'s' if len(mention_ids) != 1 else ''})",
                 audit_details={"alert": alert.id, "mentions": len(mention_ids), "spike": len(case.spikes)})
    else:
        _changed(case, "grouped", None, f"{len(mention_ids)} more mention(s) on incident #{case.id}",
                 audit_details={"mentions": len(mention_ids)})
    return case


def _spike(case: Case, alert: Alert, mention_ids: list[int], now: datetime) -> bool:
    """Add `alert` to the incident's spike history (or count its mentions there); True
    when it is a new spike of the incident."""
    for spike in case.spikes:
        if spike["alert"] == alert.id:
            spike["mentions"] += len(mention_ids)
            return False
    case.spikes = [*case.spikes, {"alert": alert.id, "at": now.isoformat(), "mentions": len(mention_ids),
                                  "title": alert.title[:200]}][-100:]
    return True


@transaction.atomic
def case_take(*, case_id: int, user) -> Case:
    """'a': the case is mine. Two people pressing at once: one wins, the other is told who."""
    _require(user)
    case = Case.objects.select_for_update().get(id=case_id)
    if case.assignee_id == user.id:
        return case
    if case.assignee_id:
        raise Conflict(f"{_name(case.assignee)} already has this case.")
    case.assignee = user
    if case.status == Case.Status.NEW:
        case.status = Case.Status.OPEN
    _changed(case, "assigned", user, f"{_name(user)} took case #{case.id}")
    return case


@transaction.atomic
def case_assign(*, case_id: int, user, assignee) -> Case:
    """The lead hands a case to someone (or takes it back from someone)."""
    _require(user, {roles.LEAD, roles.ADMIN}, "assign cases to others")
    if not roles.has_role(assignee, AGENTS | {roles.LEGAL, roles.PRODUCER}):
        raise InvalidInput(f"{_name(assignee)} has no role that works cases.")
    case = Case.objects.select_for_update().get(id=case_id)
    case.assignee = assignee
    if case.status == Case.Status.NEW:
        case.status = Case.Status.OPEN
    _changed(case, "assigned", user, f"Case #{case.id} assigned to {_name(assignee)}")
    return case


@transaction.atomic
def case_escalate(*, case_id: int, user, team: str, note: str) -> Case:
    _require(user)
    if team not in (Team.LEGAL, Team.PR, Team.SUPPORT):
        raise InvalidInput("Escalate to legal, PR or support.")
    note = (note or "").replace("\x00", "").strip()
    if not note:
        raise InvalidInput(f"Note is empty: tell {Team(team).label} what they need to know.")
    case = Case.objects.select_for_update().get(id=case_id)
    if case.status == Case.Status.RESOLVED:
        raise Conflict("This case is resolved; reopen it before escalating.")
    case.team, case.status = team, Case.Status.ESCALATED
    _changed(case, "escalated", user, f"Case #{case.id} escalated to {Team(team).label}: {note[:120]}", text=note[:4000],
             audit_details={"team": team, "note": note[:1000]})
    return case


@transaction.atomic
def case_wait(*, case_id: int, user) -> Case:
    """Waiting on the customer: the SLA clock stops until they answer."""
    _require(user)
    case = Case.objects.select_for_update().get(id=case_id)
    if case.status in (Case.Status.WAITING, Case.Status.RESOLVED):
        raise Conflict(f"This case is {case.get_status_display().lower()}.")
    case.status, case.waiting_since = Case.Status.WAITING, timezone.now()
    _changed(case, "waiting", user, f"Case #{case.id} waits on the customer")
    return case


@transaction.atomic
def case_customer_answered(*, case_id: int) -> Case:
    """The customer wrote again: the clock restarts, shifted by the time spent waiting."""
    case = Case.objects.select_for_update().get(id=case_id)
    if case.status != Case.Status.WAITING:
        return case
    _clock_restart(case)
    _changed(case, "customer_answered", None, f"The customer answered on case #{case.id}")
    return case


def _clock_restart(case: Case) -> None:
    """Out of waiting: the targets move on by the time spent waiting."""
    waited = timezone.now() - case.waiting_since
    case.first_response_due = case.first_response_due + waited if case.first_response_due else None
    case.resolution_due = case.resolution_due + waited if case.resolution_due else None
    case.status, case.waiting_since = Case.Status.OPEN, None


@transaction.atomic
def case_close(*, case_id: int, user) -> Case:
    _require(user, AGENTS | {roles.LEGAL, roles.PRODUCER}, "close cases")
    case = Case.objects.select_for_update().get(id=case_id)
    if case.status == Case.Status.RESOLVED:
        raise Conflict("This case is already resolved.")
    case.status, case.resolved_at, case.waiting_since = Case.Status.RESOLVED, timezone.now(), None
    _changed(case, "closed", user, f"Case #{case.id} resolved")
    return case


@transaction.atomic
def case_tag(*, case_id: int, user, tag: str) -> Case:
    _require(user, what="tag cases")
    tag = (tag or "").replace("\x00", "").strip()[:40]
    if not tag:
        raise InvalidInput("Tag is empty.")
    case = Case.objects.select_for_update().get(id=case_id)
    if tag not in case.tags:
        case.tags = [*case.tags, tag]
        _changed(case, "tagged", user, f"Case #{case.id} tagged {tag}", audit_details={"tag": tag})
    return case


@transaction.atomic
def case_note(*, case_id: int, user, text: str) -> Case:
    _require(user, AGENTS | {roles.LEGAL, roles.PRODUCER}, "add notes")
    text = (text or "").replace("\x00", "").strip()
    if not text:
        raise InvalidInput("Note is empty.")
    case = Case.objects.select_for_update().get(id=case_id)
    _changed(case, "noted", user, f"Note on case #{case.id}", text=text[:4000])
    return case


def reply_route(*, case: Case, user, text: str) -> tuple[bool, str]:
    """Whether a reply may go straight out, and why (or why it waits for legal).

    The case decides first: a rule that wants legal on every reply, an escalated or legal
    case, a P1, all wait for legal. Then the role and the words: the lead's replies, and a
    canned reply sent as written (legal cleared those words in advance), go straight out."""
    if case.replies_need_legal:
        return False, f"the triage rule \u201c{case.rule.name if case.rule else 'that routed it'}\u201d sends every reply to legal"
    if case.team == Team.LEGAL or case.status == Case.Status.ESCALATED:
        return False, "escalated cases' replies wait for legal"
    if case.priority == Priority.P1:
        return False, "P1 replies wait for legal"
    if roles.has_role(user, {roles.LEAD, roles.ADMIN}):
        return True, "the lead's reply"
    if " ".join(text.split()) in {" ".join(canned.split()) for _, canned in selectors.canned_for(case)}:
        return True, "a canned reply legal cleared in advance"
    return False, "your own words wait for legal (canned replies go straight out)"


@transaction.atomic
def case_reply(*, case_id: int, user, account_id: int, text: str, seen_version: int, checklist: dict[str, bool],
               override_reason: str = ""):
    """Answer the customer through approvals: straight to publishing where the role and the
    case allow it (`reply_route`), else to legal's Yes/No. Refused if the case changed since
    the agent loaded it, so no customer gets two answers. The first response is stamped
    when the reply is published (`case_reply_outcome`), not when it is written."""
    _require(user)
    case = Case.objects.select_for_update(of=("self",)).select_related("mention", "rule").get(id=case_id)
    if case.version != seen_version:
        last = case.events.order_by("-at", "-id").first()
        raise Conflict(f"This case changed since you opened it ({last.kind.replace('_', ' ')} by {_name(last.actor)} "
                       f"at {last.at:%H:%M}): read it again before replying.")
    if case.mention is None:
        raise InvalidInput("This case has no single mention to reply to; reply from one of its mentions.")
    # Answer the customer's latest word in the thread, so the reply sits under what they last said.
    latest = case.mentions.filter(author_handle__iexact=case.mention.author_handle).order_by("-posted_at", "-id").first()
    target = latest or case.mention
    account = approvals_selectors.account_get(account_id)
    if account is not None and target.platform in networks.MODULES and account.platform != target.platform:
        heard = networks.LABELS.get(target.platform, target.platform)
        raise InvalidInput(f"This mention came from {heard}: reply from one of the brand's {heard} accounts, "
                           f"not {account.name} ({networks.LABELS.get(account.platform, account.platform)}).")
    straight, why = reply_route(case=case, user=user, text=text)
    post = approvals.post_create(author=user, account_id=account_id, text=text,
                                 in_reply_to=target.external_id, publish_on_approval=True)
    post = approvals.post_submit(post_id=post.id, user=user, checklist=checklist, override_reason=override_reason,
                                 preapproved=why if straight else "")
    if case.status == Case.Status.NEW:
        case.status = Case.Status.OPEN
    where = "going out now" if post.state in (post.State.SCHEDULED, post.State.APPROVED) else "sent to legal"
    _changed(case, "replied", user, f"Reply on case #{case.id} {where}", text=post.text, post=post,
             audit_details={"post": post.id, "straight": where == "going out now", "why": why})
    return post


@transaction.atomic
def case_reply_outcome(*, post) -> Case | None:
    """Approvals tells the case how its reply ended: published (the first response is
    stamped now, the moment the customer can read it), rejected by legal, or failed."""
    event = CaseEvent.objects.filter(post_id=post.id, kind="replied").first()
    if event is None:
        return None
    case = Case.objects.select_for_update().get(id=event.case_id)
    if post.state == post.State.PUBLISHED:
        if case.first_responded_at is None or post.published_at < case.first_responded_at:
            case.first_responded_at = post.published_at
        _changed(case, "reply_published", None, f"Reply on case #{case.id} published", text=post.text, post=post,
                 audit_details={"post": post.id, "platform_id": post.platform_id})
    else:
        _changed(case, "reply_failed", None, f"Reply on case #{case.id} {post.get_state_display().lower()}: "
                 f"{post.last_error[:160]}", text=post.last_error, post=post,
                 audit_details={"post": post.id, "state": post.state})
    return case


def sla_check(*, now: datetime | None = None) -> list[int]:
    """Record each breach once, and tell the room."""
    now = now or timezone.now()
    breached = []
    with transaction.atomic():
        late_first = Case.objects.select_for_update(skip_locked=True).filter(
            first_responded_at__isnull=True, first_response_breached_at__isnull=True, first_response_due__lt=now,
        ).exclude(status__in=(Case.Status.RESOLVED, Case.Status.WAITING))
        for case in late_first:
            case.first_response_breached_at = now
            _changed(case, "breached", None, f"SLA breached: no first response on {case.priority} case #{case.id}",
                     audit_details={"target": "first_response", "due": case.first_response_due.isoformat()},
                     group=_breach_group(case, "first_response"))
            breached.append(case.id)
        late_resolution = Case.objects.select_for_update(skip_locked=True).filter(
            resolved_at__isnull=True, resolution_breached_at__isnull=True, resolution_due__lt=now,
        ).exclude(status__in=(Case.Status.RESOLVED, Case.Status.WAITING))
        for case in late_resolution:
            case.resolution_breached_at = now
            _changed(case, "breached", None, f"SLA breached: {case.priority} case #{case.id} not resolved in time",
                     audit_details={"target": "resolution", "due": case.resolution_due.isoformat()},
                     group=_breach_group(case, "resolution"))
            breached.append(case.id)
    return breached
