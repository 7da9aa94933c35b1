"""A playbook as YAML (schema: docs/playbook-schema.md).

Import reads PyYAML's node tree (compose), not the loaded values, so that every error names
the field and its line, and so that nothing is guessed from a scalar's looks (an ISO time,
"no", "1.0"). Everything is validated first; the event is then created in one transaction
through the services, so a bad file leaves nothing behind. Export writes what import
reads: export, import, export gives the same text."""

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import yaml
from django.db import transaction

from approvals.models import Account
from listening.models import AlertRule
from warroom import bodylimit
from warroom.errors import InvalidInput

from . import services
from .models import Event, Scenario

SCHEMA_VERSION = 1
MAX_BYTES = bodylimit.PLAYBOOK_IMPORT_LIMIT
MAX_ERRORS = 20


class PlaybookInvalid(InvalidInput):
    """The file did not validate: `errors` lists every problem found, each with its line."""

    def __init__(self, errors: list[str]):
        self.errors = errors
        super().__init__("The playbook was not imported: " + "; ".join(errors[:3])
                         + (f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""))


@dataclass
class _Ctx:
    errors: list[str]

    def fail(self, node, path: str, message: str) -> None:
        line = f"line {node.start_mark.line + 1}" if node is not None else "top"
        if len(self.errors) < MAX_ERRORS:
            self.errors.append(f"{path} ({line}): {message}")


_STR = "tag:yaml.org,2002:str"
_INT = "tag:yaml.org,2002:int"
_NULL = "tag:yaml.org,2002:null"
_KIND = {yaml.MappingNode: "a mapping", yaml.SequenceNode: "a list", yaml.ScalarNode: "a value"}


def _describe(node) -> str:
    if isinstance(node, yaml.ScalarNode):
        kind = {_INT: "a number", "tag:yaml.org,2002:float": "a number", "tag:yaml.org,2002:bool": "true/false",
                _NULL: "nothing"}.get(node.tag, "text")
        return f"{kind} ({node.value[:40]!r})" if node.tag != _NULL else "nothing"
    return _KIND.get(type(node), "something else")


def _mapping(ctx, node, path, required: tuple, optional: tuple) -> dict | None:
    if not isinstance(node, yaml.MappingNode):
        ctx.fail(node, path, f"expected a mapping of fields, got {_describe(node)}")
        return None
    fields = {}
    for key, value in node.value:
        name = key.value if isinstance(key, yaml.ScalarNode) else "?"
        if name in fields:
            ctx.fail(key, f"{path}.{name}", "given twice")
        elif name not in required + optional:
            ctx.fail(key, f"{path}.{name}", f"unknown field; expected one of: {', '.join(required + optional)}")
        fields[name] = value
    for name in required:
        if name not in fields:
            ctx.fail(node, f"{path}.{name}", "missing (required)")
    return fields


def _str(ctx, node, path, *, limit: int, required: bool = True) -> str | None:
    if node is None:
        return "" if not required else None
    if not isinstance(node, yaml.ScalarNode) or node.tag not in (_STR, "tag:yaml.org,2002:timestamp"):
        if isinstance(node, yaml.ScalarNode) and node.tag == _NULL and not required:
            return ""
        ctx.fail(node, path, f"expected text, got {_describe(node)}")
        return None
    value = node.value.replace("\x00", "").strip()
    if required and not value:
        ctx.fail(node, path, "is empty")
        return None
    if len(value) > limit:
        ctx.fail(node, path, f"is {len(value)} characters; the limit is {limit}")
        return None
    return value


def _int(ctx, node, path, *, low: int, high: int) -> int | None:
    if not isinstance(node, yaml.ScalarNode) or node.tag != _INT:
        ctx.fail(node, path, f"expected a whole number, got {_describe(node)}")
        return None
    try:
        value = int(node.value.replace("_", ""))
    except ValueError:
        ctx.fail(node, path, f"expected a whole number in decimal, got {node.value[:40]!r}")
        return None
    if not low <= value <= high:
        ctx.fail(node, path, f"must be between {low} and {high}")
        return None
    return value


def _when(ctx, node, path) -> datetime | None:
    text = _str(ctx, node, path, limit=40)
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text.replace(" ", "T", 1))
    except ValueError:
        ctx.fail(node, path, f"expected a time like 2026-09-14T20:00:00-04:00, got {text[:40]!r}")
        return None
    if value.tzinfo is None:
        ctx.fail(node, path, "give the time with its UTC offset, e.g. 2026-09-14T20:00:00-04:00")
        return None
    return value


def _list(ctx, node, path, *, limit: int = services.MAX_LIST) -> list:
    if node is None:
        return []
    if not isinstance(node, yaml.SequenceNode):
        ctx.fail(node, path, f"expected a list, got {_describe(node)}")
        return []
    if len(node.value) > limit:
        ctx.fail(node, path, f"has {len(node.value)} entries; the limit is {limit}")
        return []
    return node.value


def _strs(ctx, node, path, *, limit: int = services.MAX_ITEM) -> list[str]:
    values = [_str(ctx, item, f"{path}[{i}]", limit=limit) for i, item in enumerate(_list(ctx, node, path))]
    return [v for v in values if v]


def _parse(ctx, text: str) -> dict | None:
    """The validated playbook as plain data, or None with ctx.errors filled."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "the file"
        ctx.errors.append(f"YAML syntax ({where}): {getattr(error, 'problem', None) or error}")
        return None
    if root is None:
        ctx.errors.append("The file is empty.")
        return None
    top = _mapping(ctx, root, "playbook", ("version", "event"), ())
    if top is None:
        return None
    if "version" in top and _int(ctx, top["version"], "version", low=1, high=99) not in (None, SCHEMA_VERSION):
        ctx.fail(top["version"], "version", f"this Warroom reads version {SCHEMA_VERSION}")
    event_node = top.get("event")
    if event_node is None:
        return None
    e = _mapping(ctx, event_node, "event", ("name", "starts_at", "ends_at", "time_zone"),
                 ("hashtags", "accounts", "guardrails", "contacts", "scenarios", "run_of_show"))
    if e is None:
        return None
    data = {
        "name": _str(ctx, e.get("name"), "event.name", limit=200),
        "starts_at": _when(ctx, e.get("starts_at"), "event.starts_at") if "starts_at" in e else None,
        "ends_at": _when(ctx, e.get("ends_at"), "event.ends_at") if "ends_at" in e else None,
        "time_zone": _str(ctx, e.get("time_zone"), "event.time_zone", limit=64),
        "hashtags": _strs(ctx, e.get("hashtags"), "event.hashtags"),
    }
    if data["starts_at"] and data["ends_at"] and data["ends_at"] <= data["starts_at"]:
        ctx.fail(e["ends_at"], "event.ends_at", "must be after starts_at")
    if data["time_zone"]:
        try:
            services.zone(data["time_zone"])
        except InvalidInput:
            ctx.fail(e["time_zone"], "event.time_zone", f"{data['time_zone']!r} is not a known IANA time zone")
    if data["name"] and Event.objects.filter(name=data["name"]).exists():
        ctx.fail(e["name"], "event.name", f"an event named {data['name']!r} already exists")

    accounts: dict[str, Account] = {}
    for i, node in enumerate(_list(ctx, e.get("accounts"), "event.accounts")):
        handle = _str(ctx, node, f"event.accounts[{i}]", limit=100)
        if handle is None:
            continue
        account = Account.objects.filter(handle__iexact=handle.lstrip("@"), sandbox=False).first()
        if account is None:
            ctx.fail(node, f"event.accounts[{i}]", f"unknown account {handle!r}: no brand account has that handle")
        else:
            accounts[handle.lstrip("@").casefold()] = account
    data["accounts"] = list({a.id: a for a in accounts.values()}.values())

    guardrails = {key: [] for key in services.GUARDRAIL_KEYS}
    if e.get("guardrails") is not None:
        g = _mapping(ctx, e["guardrails"], "event.guardrails", (), services.GUARDRAIL_KEYS) or {}
        for key in services.GUARDRAIL_KEYS:
            guardrails[key] = _strs(ctx, g.get(key), f"event.guardrails.{key}")
    data["guardrails"] = guardrails

    data["contacts"] = []
    for i, node in enumerate(_list(ctx, e.get("contacts"), "event.contacts")):
        path = f"event.contacts[{i}]"
        c = _mapping(ctx, node, path, ("name",), ("role", "phone", "email"))
        if c is not None:
            data["contacts"].append({
                "name": _str(ctx, c.get("name"), f"{path}.name", limit=120),
                **{k: _str(ctx, c.get(k), f"{path}.{k}", limit=limit, required=False) or ""
                   for k, limit in (("role", 120), ("phone", 40), ("email", 254))},
            })

    data["scenarios"] = []
    names = set()
    for i, node in enumerate(_list(ctx, e.get("scenarios"), "event.scenarios", limit=200)):
        path = f"event.scenarios[{i}]"
        s = _mapping(ctx, node, path, ("name", "trigger"), ("rule", "keywords", "expires_minutes", "variants"))
        if s is None:
            continue
        scenario = {"name": _str(ctx, s.get("name"), f"{path}.name", limit=200),
                    "trigger": _str(ctx, s.get("trigger"), f"{path}.trigger", limit=20),
                    "keywords": _strs(ctx, s.get("keywords"), f"{path}.keywords"),
                    "expires_minutes": 15, "rule": None, "variants": []}
        if scenario["name"] in names:
            ctx.fail(s["name"], f"{path}.name", f"another scenario is already named {scenario['name']!r}")
        names.add(scenario["name"])
        if "expires_minutes" in s:
            scenario["expires_minutes"] = _int(ctx, s["expires_minutes"], f"{path}.expires_minutes", low=1, high=1440)
        trigger = scenario["trigger"]
        if trigger and trigger not in Scenario.Trigger.values:
            ctx.fail(s["trigger"], f"{path}.trigger", f"must be one of: {', '.join(Scenario.Trigger.values)}")
        if trigger in (Scenario.Trigger.RULE, Scenario.Trigger.SPIKE):
            if "rule" not in s:
                ctx.fail(node, f"{path}.rule", f"missing (required for a {trigger} trigger)")
            else:
                rule_name = _str(ctx, s["rule"], f"{path}.rule", limit=120)
                rule = AlertRule.objects.filter(name=rule_name).first() if rule_name else None
                if rule_name and rule is None:
                    ctx.fail(s["rule"], f"{path}.rule", f"unknown listening rule {rule_name!r}")
                elif rule and trigger == Scenario.Trigger.SPIKE and rule.kind != AlertRule.Kind.SPIKE:
                    ctx.fail(s["rule"], f"{path}.rule", f"rule {rule_name!r} is not a spike rule")
                scenario["rule"] = rule
        if trigger == Scenario.Trigger.KEYWORDS and not scenario["keywords"] and "keywords" not in s:
            ctx.fail(node, f"{path}.keywords", "missing (required for a keywords trigger)")
        for j, vnode in enumerate(_list(ctx, s.get("variants"), f"{path}.variants")):
            vpath = f"{path}.variants[{j}]"
            v = _mapping(ctx, vnode, vpath, ("account", "text"), ("label", "media"))
            if v is None:
                continue
            handle = _str(ctx, v.get("account"), f"{vpath}.account", limit=100)
            account = accounts.get(handle.lstrip("@").casefold()) if handle else None
            if handle and account is None:
                ctx.fail(v["account"], f"{vpath}.account", f"unknown account {handle!r}: list it under event.accounts")
            text = _str(ctx, v.get("text"), f"{vpath}.text", limit=10_000)
            if text and len(text) > 280:
                ctx.fail(v["text"], f"{vpath}.text", f"is {len(text)} characters; X takes at most 280")
            media = _strs(ctx, v.get("media"), f"{vpath}.media", limit=1000)
            if any(not m.startswith(("http://", "https://")) for m in media):
                ctx.fail(v["media"], f"{vpath}.media", "every item must be an http(s) URL")
            scenario["variants"].append({"account": account, "text": text,
                                         "label": _str(ctx, v.get("label"), f"{vpath}.label", limit=120, required=False)
                                         or "", "media": media})
        data["scenarios"].append(scenario)

    data["run_of_show"] = []
    for i, node in enumerate(_list(ctx, e.get("run_of_show"), "event.run_of_show", limit=200)):
        path = f"event.run_of_show[{i}]"
        m = _mapping(ctx, node, path, ("at", "title"), ("scenarios",))
        if m is None:
            continue
        fits = _strs(ctx, m.get("scenarios"), f"{path}.scenarios", limit=200)
        for name in fits:
            if name not in names:
                ctx.fail(m["scenarios"], f"{path}.scenarios", f"no scenario named {name!r} in this playbook")
        data["run_of_show"].append({"at": _when(ctx, m.get("at"), f"{path}.at") if "at" in m else None,
                                    "title": _str(ctx, m.get("title"), f"{path}.title", limit=200),
                                    "scenarios": fits})
    return data


def playbook_import(*, user, text: str) -> Event:
    """Create an event from a playbook file, all or nothing. Variants arrive as drafts:
    legal answers them like any other post once the producer sends them."""
    services._builder(user)
    if not isinstance(text, str) or not text.strip():
        raise PlaybookInvalid(["The file is empty."])
    if len(text.encode()) > MAX_BYTES:
        raise PlaybookInvalid([f"The file is larger than {MAX_BYTES // 1024} KB."])
    ctx = _Ctx(errors=[])
    data = _parse(ctx, text)
    if ctx.errors or data is None:
        raise PlaybookInvalid(ctx.errors or ["The file could not be read."])
    with transaction.atomic():
        event = services.event_create(user=user, name=data["name"], starts_at=data["starts_at"],
                                      ends_at=data["ends_at"], time_zone=data["time_zone"], hashtags=data["hashtags"],
                                      account_ids=[a.id for a in data["accounts"]], guardrails=data["guardrails"])
        for contact in data["contacts"]:
            services.contact_add(user=user, event_id=event.id, **contact)
        scenario_ids = {}
        for s in data["scenarios"]:
            scenario = services.scenario_create(user=user, event_id=event.id, name=s["name"], trigger=s["trigger"],
                                                rule_id=s["rule"].id if s["rule"] else None, keywords=s["keywords"],
                                                expires_minutes=s["expires_minutes"])
            scenario_ids[s["name"]] = scenario.id
            for v in s["variants"]:
                services.variant_create(user=user, scenario_id=scenario.id, account_id=v["account"].id, text=v["text"],
                                        media=v["media"], label=v["label"])
        for m in data["run_of_show"]:
            services.moment_add(user=user, event_id=event.id, at=m["at"], title=m["title"],
                                scenario_ids=[scenario_ids[name] for name in m["scenarios"]])
    return event


def _local(moment: datetime, tz: str) -> str:
    return moment.astimezone(ZoneInfo(tz)).isoformat()


def playbook_export(event: Event) -> str:
    """The event as playbook YAML (the variants' current text; approvals are not exported)."""
    tz = event.time_zone
    data = {
        "version": SCHEMA_VERSION,
        "event": {
            "name": event.name,
            "starts_at": _local(event.starts_at, tz),
            "ends_at": _local(event.ends_at, tz),
            "time_zone": tz,
            "hashtags": list(event.hashtags),
            "accounts": [a.handle for a in event.accounts.order_by("handle")],
            "guardrails": {key: list(event.guardrails.get(key, [])) for key in services.GUARDRAIL_KEYS},
            "contacts": [{"name": c.name, "role": c.role, "phone": c.phone, "email": c.email}
                         for c in event.contacts.all()],
            "scenarios": [],
            "run_of_show": [],
        },
    }
    for scenario in event.scenarios.select_related("rule").prefetch_related("variants__post__account"):
        item = {"name": scenario.name, "trigger": scenario.trigger}
        if scenario.rule_id:
            item["rule"] = scenario.rule.name
        item["keywords"] = list(scenario.keywords)
        item["expires_minutes"] = scenario.expires_minutes
        item["variants"] = [{"account": v.post.account.handle, "label": v.label, "text": v.post.text,
                             "media": list(v.post.media)} for v in scenario.variants.all()]
        data["event"]["scenarios"].append(item)
    for moment in event.moments.prefetch_related("scenarios"):
        data["event"]["run_of_show"].append({"at": _local(moment.at, tz), "title": moment.title,
                                             "scenarios": [s.name for s in moment.scenarios.order_by("order", "id")]})
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)
