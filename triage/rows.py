"""The Queue's rows, rendered once per version of a case and shared by everyone who sees
the same row: a room of people watching the same queue, and the Queue at a million
mentions, would otherwise re-render the same 200 rows on every load.

A row depends on the case (its `version` moves on every change), the viewer's abilities
(may work cases, is it theirs) and who is viewing or replying (presence, kept outside the
database). The key holds all of them. The only per-request part of a row, the CSRF token
of its no-JavaScript forms, is rendered as a marker that is replaced on the way out."""

import hashlib
import hmac
import json

from django.conf import settings
from django.core.cache import cache
from django.template.loader import get_template
from django.utils.html import escape
from django.utils.safestring import mark_safe

ROW_TEMPLATE = "triage/partials/case_row.html"
ROW_SECONDS = 300  # bounds staleness of what no version covers (a renamed source or person)


def _marker() -> str:
    # The same in every process (rows are shared through Redis) and not guessable from
    # outside, so text in a mention can never be turned into someone's token.
    return "csrf-" + hmac.new(settings.SECRET_KEY.encode(), b"triage-row-csrf", hashlib.sha256).hexdigest()[:32]


def _key(case, viewer: dict) -> str:
    present = json.dumps([(e["uid"], e["who"], e["doing"], e["show_until"]) for e in case.present], sort_keys=True)
    flags = f"{int(viewer['can_work'])}{int(viewer['can_assign'])}{int(case.assignee_id == viewer['me'])}"
    # opened_at tells a case from an older one that had its id (a database restored or reset
    # under a running cache), which a version number alone would not.
    opened = int(case.opened_at.timestamp() * 1_000_000)
    return f"triage:row:{case.id}:{case.version}:{opened}:{flags}:{hashlib.sha1(present.encode()).hexdigest()[:12]}"


def rows_attach(cases: list, *, viewer: dict, csrf_token: str) -> None:
    """Set `case.html` on each case: its row, from the cache or rendered now (and cached)."""
    if not cases:
        return
    keys = {case.id: _key(case, viewer) for case in cases}
    cached = cache.get_many(list(keys.values()))
    marker, template, fresh = _marker(), get_template(ROW_TEMPLATE), {}
    for case in cases:
        html = cached.get(keys[case.id])
        if html is None:
            html = template.render({"c": case, "csrf_token": marker, **viewer})
            fresh[keys[case.id]] = html
        # Safe: this is our row template's output (mention text and names were escaped when it
        # rendered), with the marker replaced by the escaped token and nothing else.
        case.html = mark_safe(html.replace(marker, escape(str(csrf_token))))
    if fresh:
        cache.set_many(fresh, ROW_SECONDS)
