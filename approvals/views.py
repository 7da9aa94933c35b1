"""Approvals pages: what waits for legal (and the lead), the author's composer and posts,
the calendar, and the lead's queue switch with its resume review.

One URL per page; a POST carries an `action`. htmx requests get the partial they swap,
with the status of any refusal (400, 403, 404, 409); without JavaScript a POST redirects
back, or renders the whole page with the message."""

import re
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods

from networks import registry
from warroom import live, roles
from warroom.errors import WarroomError
from warroom.roles import PAGE_ROLES, role_required
from warroom.views import render_page

from . import selectors, services
from .models import Post

TEXT_ECHO_LIMIT = 2000
ALT_ECHO_LIMIT = 2000
MAX_ACCOUNTS = 20
MAX_ATTACHED = 20
SHA256 = re.compile(r"[0-9a-f]{64}")
CARD_ID = re.compile(r"(request|check)-\d{1,18}")
EDITABLE = (Post.State.DRAFT, Post.State.PENDING, Post.State.APPROVED, Post.State.SCHEDULED,
            Post.State.REJECTED, Post.State.FAILED)
MOVABLE = (Post.State.DRAFT, Post.State.PENDING, Post.State.APPROVED, Post.State.SCHEDULED)
RESUBMITTABLE = (Post.State.DRAFT, Post.State.REJECTED, Post.State.FAILED)


class NotFound(WarroomError):
    status = 404


def _int(value) -> int | None:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if 0 < number < 2**62 else None


def _post_id(request: HttpRequest) -> int:
    post_id = _int(request.POST.get("post"))
    if post_id is None or not Post.objects.filter(id=post_id).exists():
        raise NotFound("That post does not exist.")
    return post_id


def _local_time(value: str, *, tz, label: str) -> datetime:
    """A `datetime-local` value (YYYY-MM-DDTHH:MM) read in the time zone `tz`."""
    try:
        naive = datetime.fromisoformat((value or "").strip())
    except ValueError:
        raise WarroomError(f"{label}: give a date and a time, e.g. 2026-02-08T18:30.") from None
    if naive.tzinfo is not None:
        raise WarroomError(f"{label}: give a local date and time without an offset.")
    return timezone.make_aware(naive, tz).astimezone(dt_timezone.utc)


def _not_past(moment: datetime, label: str) -> datetime:
    if moment < timezone.now() - timedelta(minutes=1):
        raise WarroomError(f"{label} is in the past; pick a time from now on.")
    return moment


def _card_id(value: str) -> str:
    return value if CARD_ID.fullmatch(value or "") else ""


def _checklist(request: HttpRequest) -> dict[str, bool]:
    ticked = set(request.POST.getlist("checklist"))
    return {question: str(n) in ticked for n, question in enumerate(services.CHECKLIST)}


def _media(request: HttpRequest) -> list[str]:
    return [line.strip() for line in request.POST.get("media", "").splitlines() if line.strip()]


# --- /approvals/ -------------------------------------------------------------------------

def _row_context() -> dict:
    """What a "My posts" row needs besides the post."""
    return {"checklist": list(enumerate(services.CHECKLIST)), "max_text": Post.MAX_TEXT,
            "editable": EDITABLE, "movable": MOVABLE, "resubmittable": RESUBMITTABLE}


def _page_context(request: HttpRequest, *, error=None, error_post=None, composer=None, composer_error=None,
                  typed_text=None) -> dict:
    user = request.user
    if composer is None:  # a brand with one account has it ticked; with several, the author chooses
        only = list(selectors.account_list()[:2])
        composer = {"accounts": [only[0].id] if len(only) == 1 else [], "text": "", "texts": {}, "media": [],
                    "when": "now"}
    approver = selectors.is_approver(user)
    author = roles.has_role(user, services.AUTHORS)
    items = selectors.approver_items(user) if approver else []
    return {
        "approver": approver,
        "author": author,
        "items": items,
        "count": len(items) if len(items) < selectors.APPROVER_LIMIT else selectors.approver_count(user),
        "posts": selectors.my_posts(user) if author else [],
        "accounts": selectors.account_list() if author else [],
        **_composer_context(composer),
        "library": selectors.media_library(limit=24) if author else [],
        "composer_error": composer_error,
        "error": error,
        "error_post": error_post,
        "typed_text": typed_text,
        "can_calendar": roles.has_role(user, PAGE_ROLES["calendar"]),
        "can_accounts": roles.has_role(user, PAGE_ROLES["accounts"]),
        **_row_context(),
    }


def _sync(request: HttpRequest, post_id: int) -> TemplateResponse:
    """What one post now looks like for this user: the approver cards it makes, their
    "My posts" row, and their count. The live layer asks for it after each post event."""
    as_of = live.latest_id()  # read first: the data below is at least this fresh
    user = request.user
    approver = selectors.is_approver(user)
    context = {
        "as_of": as_of,
        "post_id": post_id,
        "approver": approver,
        "items": selectors.approver_items(user, post_id=post_id) if approver else [],
        "count": selectors.approver_count(user) if approver else 0,
        "rows": selectors.my_posts(user, post_id=post_id) if roles.has_role(user, services.AUTHORS) else [],
        **_row_context(),
    }
    return TemplateResponse(request, "approvals/index.html#sync", context)


@require_http_methods(["GET", "POST"])
@role_required(*PAGE_ROLES["approvals"])
def index(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        post_id = _int(request.GET.get("post"))
        if request.htmx and post_id is not None:
            return _sync(request, post_id)
        if request.htmx and request.GET.get("part") == "my-posts":
            posts = selectors.my_posts(request.user) if roles.has_role(request.user, services.AUTHORS) else []
            context = {"posts": posts, **_row_context()}
            return TemplateResponse(request, "approvals/index.html#my-posts", context)
        return render_page(request, "approvals/index.html", lambda: _page_context(request))

    action = request.POST.get("action", "")
    if action == "compose":
        return _compose(request)
    handlers = {"approve": _answer, "reject": _answer, "resolve": _answer,
                "edit": _change, "resubmit": _change, "schedule": _change}
    handler = handlers.get(action)
    if handler is None:
        error = WarroomError(f"Unknown action {action[:40]!r}.")
        return render_page(request, "approvals/index.html", lambda: _page_context(request, error=error), status=400)
    return handler(request, action)


def _answer(request: HttpRequest, action: str) -> HttpResponse:
    """Yes, No, or the lead's verdict on a post that needs a check; answered on its card."""
    user, post_id, error = request.user, None, None
    try:
        post_id = _post_id(request)
        content_hash = request.POST.get("content_hash", "")
        if action == "approve":
            services.post_approve(post_id=post_id, user=user, content_hash=content_hash)
        elif action == "reject":
            services.post_reject(post_id=post_id, user=user, reason=request.POST.get("reason", ""),
                                 content_hash=content_hash)
        else:
            published = request.POST.get("published") == "1"
            platform_id = request.POST.get("platform_id", "").strip()
            if published and not platform_id:
                raise WarroomError("Post id is empty: paste the id X shows for the post that went out.")
            services.post_resolve_check(post_id=post_id, user=user, published=published, platform_id=platform_id)
    except WarroomError as exc:
        error = exc
    if error is None and not request.htmx:
        return redirect("approvals")
    if request.htmx:
        items = selectors.approver_items(user, post_id=post_id) if post_id and selectors.is_approver(user) else []
        context = {
            "items": items, "error": error, "error_post": post_id, "answered": action if error is None else "",
            "dom_id": _card_id(request.POST.get("card", "")), "post_id": post_id,
        }
        return TemplateResponse(request, "approvals/index.html#answer", context, status=error.status if error else 200)
    return render_page(request, "approvals/index.html",
                       lambda: _page_context(request, error=error, error_post=post_id), status=error.status)


def _composer_input(request: HttpRequest) -> dict:
    """What the composer sent: the accounts, the common text and each account's own, the
    attached files (by hash, with their alt text), the time and the checklist."""
    raw_accounts = request.POST.getlist("accounts") or [request.POST.get("account")]
    accounts = list(dict.fromkeys(i for i in (_int(v) for v in raw_accounts[:MAX_ACCOUNTS]) if i is not None))
    texts = {}
    for key in list(request.POST.keys())[:200]:
        account_id = _int(key[5:]) if key.startswith("text_") else None
        if account_id is not None:
            texts[account_id] = request.POST.get(key, "")[:TEXT_ECHO_LIMIT]
    media = []
    for sha256 in request.POST.getlist("media")[:MAX_ATTACHED]:
        sha256 = (sha256 or "").strip().lower()
        if SHA256.fullmatch(sha256) and all(m["sha256"] != sha256 for m in media):
            media.append({"sha256": sha256, "alt": request.POST.get(f"alt_{sha256}", "")[:ALT_ECHO_LIMIT]})
    return {
        "accounts": accounts,
        "account": accounts[0] if accounts else None,
        "text": request.POST.get("text", "")[:TEXT_ECHO_LIMIT],
        "texts": texts,
        "media": media,
        "when": "at" if request.POST.get("when") == "at" else "now",
        "publish_at": request.POST.get("publish_at", "")[:40],
        "checklist": set(request.POST.getlist("checklist")),
        "override_reason": request.POST.get("override_reason", "")[:500],
    }


def _composer_context(typed: dict) -> dict:
    accounts = [(a, a.id in typed["accounts"], typed["texts"].get(a.id, "")) for a in selectors.account_list()]
    return {"composer": typed, "composer_accounts": accounts, "attached": selectors.media_attached(typed["media"]),
            "previews": selectors.compose_previews(account_ids=typed["accounts"], text=typed["text"],
                                                   texts=typed["texts"], media=typed["media"])}


def _compose(request: HttpRequest) -> HttpResponse:
    """posts_compose in one transaction: one post per chosen account, each with its own
    text if given; a refusal for any account stores nothing, and the form comes back as typed."""
    typed = _composer_input(request)
    error, posts = None, []
    try:
        if not typed["accounts"]:
            raise WarroomError("Accounts: choose at least one of the brand's accounts.")
        first = selectors.account_get(typed["accounts"][0])
        if first is None:
            raise WarroomError("Account: choose one of the brand's accounts.")
        if typed["when"] == "at":
            publish_at = _not_past(_local_time(typed["publish_at"], tz=selectors.zone(first.time_zone),
                                               label="Publish at"), "Publish at")
        else:
            publish_at = None
        versions = [(account_id, (typed["texts"].get(account_id) or "").strip() or typed["text"])
                    for account_id in typed["accounts"]]
        legacy = [line.strip() for line in request.POST.get("media_urls", "").splitlines() if line.strip()]
        posts = services.posts_compose(author=request.user, versions=versions, media=typed["media"] + legacy,
                                       checklist=_checklist(request), publish_at=publish_at,
                                       override_reason=typed["override_reason"])
    except WarroomError as exc:
        error, posts = exc, []
    if error is None and not request.htmx:
        return redirect("approvals")
    if request.htmx:
        empty = {**typed, "text": "", "texts": {}, "media": [], "checklist": set(), "override_reason": ""}
        context = {
            **_composer_context(typed if error else empty), "composer_error": error, "sent": len(posts) if not error else 0,
            "accounts": selectors.account_list(),
            "new_rows": [row for p in posts for row in selectors.my_posts(request.user, post_id=p.id)], **_row_context(),
        }
        return TemplateResponse(request, "approvals/index.html#composer-response", context,
                                status=error.status if error else 200)
    return render_page(request, "approvals/index.html",
                       lambda: _page_context(request, composer_error=error, composer=typed), status=error.status)


def _change(request: HttpRequest, action: str) -> HttpResponse:
    """The author's edit, resubmission or new time, answered on their row."""
    user, post_id, error = request.user, None, None
    try:
        post_id = _post_id(request)
        if action == "schedule":
            post = Post.objects.select_related("account").get(id=post_id)
            if request.POST.get("now") == "1":
                publish_at = timezone.now()
            else:
                publish_at = _not_past(_local_time(request.POST.get("publish_at", ""),
                                                   tz=selectors.zone(post.account.time_zone), label="New time"), "New time")
            services.post_schedule(post_id=post_id, user=user, publish_at=publish_at)
        elif action == "edit":
            services.post_edit(post_id=post_id, user=user, text=request.POST.get("text", ""))
        else:
            with transaction.atomic():
                services.post_edit(post_id=post_id, user=user, text=request.POST.get("text", ""))
                services.post_submit(post_id=post_id, user=user, checklist=_checklist(request),
                                     override_reason=request.POST.get("override_reason", ""))
    except WarroomError as exc:
        error = exc
    if error is None and not request.htmx:
        return redirect("approvals")
    if request.htmx:
        context = {
            "rows": selectors.my_posts(user, post_id=post_id) if post_id else [], "error": error,
            "error_post": post_id, "typed_text": request.POST.get("text", "")[:TEXT_ECHO_LIMIT] if error else None,
            **_row_context(),
        }
        return TemplateResponse(request, "approvals/index.html#row-response", context,
                                status=error.status if error else 200)
    typed_text = request.POST.get("text", "")[:TEXT_ECHO_LIMIT] if action != "schedule" else None
    return render_page(request, "approvals/index.html",
                       lambda: _page_context(request, error=error, error_post=post_id, typed_text=typed_text),
                       status=error.status)


# --- /approvals/calendar/ ----------------------------------------------------------------

@require_GET
@role_required(*PAGE_ROLES["calendar"])
def calendar(request: HttpRequest) -> HttpResponse:
    view = "day" if request.GET.get("view") == "day" else "week"
    error = None
    raw = request.GET.get("date", "")
    try:
        day = parse_date(raw) if raw else None
        if raw and day is None:
            raise ValueError
    except ValueError:
        day, error = None, WarroomError(f"Date {raw[:20]!r} is not a date like 2026-02-08; showing today.")
    today = timezone.now().astimezone(dt_timezone.utc).date()
    day = day or today
    first, count = selectors.calendar_range(view, day)
    step = timedelta(days=count)

    def context() -> dict:
        return {
            "view": view, "day": day, "today": today, "first": first, "last": first + timedelta(days=count - 1),
            "prev": first - step, "next": first + step, "days": selectors.calendar_days(first=first, days=count),
            "error": error, "states": Post.State.choices,
        }

    status = error.status if error else 200
    if request.htmx and request.htmx.target == "calendar-grid":
        return TemplateResponse(request, "approvals/calendar.html#grid", context(), status=status)
    return render_page(request, "approvals/calendar.html", context, status=status)


# --- /approvals/queue/ -------------------------------------------------------------------

def _next_url(request: HttpRequest) -> str:
    target = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return target
    return reverse("approvals")


@require_http_methods(["GET", "POST"])
@role_required(*PAGE_ROLES["queue_switch"])
def queue_switch(request: HttpRequest) -> HttpResponse:
    """The lead's switch: pause everything with a reason (from any page's header), and the
    resume review of what came due meanwhile."""
    error, form = None, {}
    if request.method == "POST":
        action = request.POST.get("action", "")
        try:
            if action == "pause":
                form = {"reason": request.POST.get("reason", "")[:500],
                        "auto_resume_at": request.POST.get("auto_resume_at", "")[:40]}
                auto = None
                if form["auto_resume_at"].strip():
                    auto = _local_time(form["auto_resume_at"], tz=dt_timezone.utc, label="Auto-resume at")
                services.queue_pause(user=request.user, reason=form["reason"], auto_resume_at=auto)
            elif action == "resume":
                release = request.POST.get("release", "")
                if release == "selected":
                    chosen = [i for i in (_int(v) for v in request.POST.getlist("post")) if i is not None]
                elif release in ("all", "none"):
                    chosen = release
                else:
                    raise WarroomError("Choose what to release: the selected posts, all of them, or none.")
                services.queue_resume(user=request.user, release=chosen)
            else:
                raise WarroomError(f"Unknown action {action[:40]!r}.")
        except WarroomError as exc:
            error = exc
        if request.htmx and action == "pause":
            context = {"pause_error": error, "pause_form": form if error else {}, "paused_now": error is None,
                       "pause_next": request.POST.get("next", "")[:500]}
            return TemplateResponse(request, "approvals/_switch.html#pause-form-response", context,
                                    status=error.status if error else 200)
        if error is None:
            return redirect(_next_url(request) if action == "pause" else "queue_switch")

    def context() -> dict:
        return {"due": services.came_due_while_paused(), "error": error, "form": form}

    return render_page(request, "approvals/queue.html", context, status=error.status if error else 200)


# --- /approvals/accounts/ ------------------------------------------------------------------

ACCOUNT_FIELDS = ("name", "network", "handle", "instance_url", "time_zone", "client_id", "community")
ACCOUNT_SECRETS = ("secret", "client_secret")  # read, never echoed back


@require_http_methods(["GET", "POST"])
@role_required(*PAGE_ROLES["accounts"])
def accounts(request: HttpRequest) -> HttpResponse:
    """The channel accounts the room publishes on, each with its health, and the lead's
    form to add one (approvals.services.account_create says what each network needs). A
    token, app password or Reddit password and client secret is never sent back: not on the rows, not on a refused form."""
    error, form = None, {}
    if request.method == "POST":
        form = {field: request.POST.get(field, "")[:300] for field in ACCOUNT_FIELDS}
        form["sandbox"] = "sandbox" in request.POST
        try:
            secrets = {field: request.POST.get(field, "")[:1000] for field in ACCOUNT_SECRETS}
            account = services.account_create(user=request.user, **secrets, **form)
        except WarroomError as exc:
            error = exc
        else:
            return redirect(f"{reverse('accounts')}#account-{account.id}")
    if request.htmx and request.GET.get("part") == "rows":  # the live refresh after an account event
        return TemplateResponse(request, "approvals/accounts.html#rows", {"rows": selectors.account_rows()})

    def context() -> dict:
        return {"rows": selectors.account_rows(), "networks": registry.choices(), "error": error, "form": form}

    return render_page(request, "approvals/accounts.html", context, status=error.status if error else 200)


# --- /approvals/media/ and /approvals/preview/ ---------------------------------------------

@require_http_methods(["GET", "POST"])
@role_required(*PAGE_ROLES["media_library"])
def media_library(request: HttpRequest) -> HttpResponse:
    """The content library: files by event and use, who cleared them. A POST uploads
    (`action=upload`, also the composer's Attach, answered with its media block) or clears
    (`action=clear`, legal)."""
    error, uploaded = None, []
    if request.method == "POST":
        action = request.POST.get("media_action") or request.POST.get("action", "")
        try:
            if action == "pick":  # the composer's ticked library files: the block shows them attached
                pass
            elif action == "upload":
                files = request.FILES.getlist("upload")
                if not files:
                    raise WarroomError("Choose a file to upload (PNG, JPEG, GIF, WebP or MP4).")
                if len(files) > services.MAX_UPLOAD_FILES:
                    raise WarroomError(f"Upload at most {services.MAX_UPLOAD_FILES} files at once.")
                with transaction.atomic():
                    for upload in files:
                        name = (upload.name or "the file")[:100]
                        uploaded.append(services.media_upload(
                            user=request.user, data=upload.read(), name=name,
                            event_tag=request.POST.get("event_tag", ""), use_tag=request.POST.get("use_tag", ""),
                            title=request.POST.get("title", "")))
            elif action == "clear":
                services.media_clear(user=request.user, sha256=request.POST.get("sha256", "").strip().lower()[:64])
            else:
                raise WarroomError(f"Unknown action {action[:40]!r}.")
        except WarroomError as exc:
            error, uploaded = exc, []
        if request.htmx and request.POST.get("from") == "composer":
            typed = _composer_input(request)
            for asset in uploaded:
                if all(m["sha256"] != asset.sha256 for m in typed["media"]):
                    typed["media"].append({"sha256": asset.sha256, "alt": asset.default_alt_text})
            context = {**_composer_context(typed), "media_error": error}
            response = TemplateResponse(request, "approvals/index.html#media-block", context,
                                        status=error.status if error else 200)
            response["HX-Trigger"] = "media-changed"
            return response
        if error is None:
            return redirect("media_library")
    event = request.GET.get("event", "")[:100]

    def context() -> dict:
        return {"assets": selectors.media_library(event=event), "events": selectors.media_events(), "event": event,
                "error": error, "can_upload": roles.has_role(request.user, services.AUTHORS),
                "can_clear": roles.has_role(request.user, {roles.LEGAL})}

    return render_page(request, "approvals/media.html", context, status=error.status if error else 200)


@require_GET
@role_required(*PAGE_ROLES["media_file"])
def media_file(request: HttpRequest, sha256: str) -> HttpResponse:
    """A stored file's bytes, to signed-in people only, as what the bytes are (never
    sniffed again by the browser), in a response that can run nothing."""
    from django.core.files.storage import default_storage
    from django.http import Http404

    asset = selectors.media_get(sha256) if SHA256.fullmatch(sha256 or "") else None
    if asset is None:
        raise Http404("No such file.")
    with default_storage.open(asset.file.name, "rb") as handle:
        data = handle.read()
    response = HttpResponse(data, content_type=asset.content_type)
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Disposition"] = f'inline; filename="{asset.sha256[:16]}.{asset.kind.lower()}"'
    response["Cache-Control"] = "private, max-age=3600"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox; frame-ancestors 'none'"
    return response


@require_http_methods(["GET", "POST"])
@role_required(*PAGE_ROLES["compose_preview"])
def compose_preview(request: HttpRequest) -> HttpResponse:
    """The composer's previews, one per chosen account, counted as each network counts."""
    typed = _composer_input(request) if request.method == "POST" else {
        "accounts": [], "text": "", "texts": {}, "media": []}
    return TemplateResponse(request, "approvals/index.html#previews",
                            {"previews": selectors.compose_previews(account_ids=typed["accounts"], text=typed["text"],
                                                                    texts=typed["texts"], media=typed["media"])})


# --- /approvals/away/<token>/ --------------------------------------------------------------

@require_http_methods(["GET", "POST"])
@role_required(*PAGE_ROLES["approval_away"])
def away(request: HttpRequest, token: str) -> HttpResponse:
    """An approver on deck answers one request from the link in their notice: the card
    legal sees in the room, Yes and No. Every refusal says why, with its status."""
    token = token[:200]
    context: dict = {"token": token, "away": True}
    status = 200
    try:
        if request.method == "POST":
            answer = request.POST.get("action", "")
            post = services.approval_link_answer(token=token, user=request.user, answer=answer,
                                                 reason=request.POST.get("reason", ""))
            context.update(answered=answer, post=post)
        else:
            context["items"] = [selectors.request_item(services.approval_link_open(token=token, user=request.user).request)]
    except services.LinkRefused as exc:
        context["refused"], status = exc, exc.status
    except WarroomError as exc:  # a No without a reason: the card comes back with the message
        context["error"], status = exc, exc.status
        try:
            link = services.approval_link_open(token=token, user=request.user)
            context["items"], context["error_post"] = [selectors.request_item(link.request)], link.request.post_id
        except services.LinkRefused as refused:
            context["refused"], status = refused, refused.status
    return TemplateResponse(request, "approvals/away.html", context, status=status)
