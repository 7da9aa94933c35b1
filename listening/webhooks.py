"""POST /hooks/<source-token>/: mentions pushed to the room, signed with the source's
secret. Bad input gets a status and a message naming what was wrong; nothing stored is
touched by a refused request.

Payload (UTF-8 JSON, at most 1 MB), one mention or a list under "mentions":

    {"mentions": [{"id": "abc-1", "text": "...", "author": {"handle": "fan", "name": "A Fan",
      "followers": 1200}, "url": "https://...", "posted_at": "2026-02-08T23:14:00Z", "lang": "en",
      "in_reply_to": "", "conversation_id": ""}]}

Headers: X-Warroom-Timestamp: <Unix seconds when sent> and
X-Warroom-Signature: sha256=<hex HMAC-SHA256, with the source's secret, of "<timestamp>.<raw body>">.
A timestamp more than five minutes from the room's clock is refused (a replayed request).
A source marked legacy (every webhook source created before this scheme) also accepts the
old signature of the raw body alone, sent without a timestamp.
"""

import hashlib
import hmac
import json
from datetime import timezone as dt_timezone

from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from warroom import bodylimit

from . import services
from .adapters import FetchedMention
from .models import Source

MAX_BODY = bodylimit.WEBHOOK_LIMIT
MAX_MENTIONS = 1000
MAX_DEPTH = 8
MAX_SKEW_SECONDS = 300


class PayloadError(ValueError):
    pass


def _error(status: int, message: str) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


@csrf_exempt
@require_POST
def receive(request: HttpRequest, token: str) -> JsonResponse:
    declared = request.META.get("CONTENT_LENGTH") or "0"
    if not declared.isdigit() or int(declared) > MAX_BODY:
        return _error(413, f"The body is larger than {MAX_BODY} bytes.")
    body = request.read(MAX_BODY + 1)
    if len(body) > MAX_BODY:
        return _error(413, f"The body is larger than {MAX_BODY} bytes.")
    source = Source.objects.filter(webhook_token=token, kind=Source.Kind.WEBHOOK).first()
    if source is None:
        return _error(404, "No webhook source has this address.")
    if not source.enabled:
        return _error(409, "This webhook source is disabled; ask the lead to enable it.")
    refused = _signature_refused(request, source, body)
    if refused is not None:
        return refused
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        return _error(400, f"The body is not valid UTF-8 (byte {error.start}).")
    try:
        payload = json.loads(text)
    except RecursionError:
        return _error(400, "The JSON is nested too deeply.")
    except json.JSONDecodeError as error:
        return _error(400, f"The body is not valid JSON: {error.msg} at line {error.lineno}, column {error.colno}.")
    except ValueError:
        return _error(400, "The body is not valid JSON: a number has too many digits.")
    try:
        _check_depth(payload, 0)
        fetched = parse_payload(payload)
    except PayloadError as error:
        return _error(400, str(error))
    result = services.mention_ingest_batch(source_id=source.id, fetched=fetched)
    answer = {"received": result.received, "stored": result.stored,
              "duplicates": result.received - result.stored - result.refused}
    if result.refused:  # the rest of the batch is stored; the source's health says the same
        answer.update(refused=result.refused, errors=result.notes)
    return JsonResponse(answer)


def signature(secret: str, body: bytes, timestamp: str | None = None) -> str:
    """The X-Warroom-Signature of a body: over "<timestamp>.<body>", or (legacy) the body alone."""
    signed = body if timestamp is None else timestamp.encode() + b"." + body
    return "sha256=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def _signature_refused(request: HttpRequest, source: Source, body: bytes) -> JsonResponse | None:
    sent = request.headers.get("X-Warroom-Signature", "").encode()
    timestamp = request.headers.get("X-Warroom-Timestamp")
    if timestamp is None and source.webhook_legacy:
        if not hmac.compare_digest(sent, signature(source.webhook_secret, body).encode()):
            return _error(403, "X-Warroom-Signature is missing or does not match the body.")
        return None
    if timestamp is None:
        return _error(403, "X-Warroom-Timestamp is missing: send the Unix time in seconds, and sign "
                           "\"<timestamp>.<body>\" in X-Warroom-Signature.")
    timestamp = timestamp.strip()
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
        return _error(400, "X-Warroom-Timestamp must be the Unix time in whole seconds, e.g. 1770592440.")
    if not hmac.compare_digest(sent, signature(source.webhook_secret, body, timestamp).encode()):
        return _error(403, "X-Warroom-Signature is missing or does not match \"<timestamp>.<body>\".")
    skew = int(timestamp) - int(timezone.now().timestamp())
    if abs(skew) > MAX_SKEW_SECONDS:
        return _error(403, f"X-Warroom-Timestamp is {abs(skew)} seconds {'ahead of' if skew > 0 else 'behind'} the "
                           f"room's clock (at most {MAX_SKEW_SECONDS} are accepted): refused as a possible replay. "
                           "Sign each request when you send it, and check the sender's clock.")
    return None


def _check_depth(value, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise PayloadError(f"The JSON is nested more than {MAX_DEPTH} levels deep.")
    if isinstance(value, dict):
        for item in value.values():
            _check_depth(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _check_depth(item, depth + 1)


def parse_payload(payload) -> list[FetchedMention]:
    if isinstance(payload, dict) and "mentions" in payload:
        items, where = payload["mentions"], "mentions"
        if not isinstance(items, list):
            raise PayloadError("mentions must be a list of mention objects.")
    elif isinstance(payload, dict):
        items, where = [payload], ""
    else:
        raise PayloadError("The body must be a JSON object: one mention, or {\"mentions\": [...]}.")
    if not items:
        raise PayloadError("mentions is empty.")
    if len(items) > MAX_MENTIONS:
        raise PayloadError(f"mentions has {len(items)} items; send at most {MAX_MENTIONS} per request.")
    return [_mention(item, f"{where}[{index}]" if where else "") for index, item in enumerate(items)]


def _field(obj: dict, name: str, kind, where: str, required: bool = False, default=None):
    label = f"{where}.{name}" if where else name
    if name not in obj or obj[name] is None:
        if required:
            raise PayloadError(f"{label} is missing.")
        return default
    value = obj[name]
    if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise PayloadError(f"{label} must be a whole number.")
    if kind is str and not isinstance(value, str):
        raise PayloadError(f"{label} must be a string.")
    if kind is dict and not isinstance(value, dict):
        raise PayloadError(f"{label} must be an object.")
    return value


def _mention(item, where: str) -> FetchedMention:
    if not isinstance(item, dict):
        raise PayloadError(f"{where or 'The body'} must be a mention object.")
    external_id = _field(item, "id", str, where, required=True)
    if not external_id.strip():
        raise PayloadError(f"{where + '.' if where else ''}id is empty.")
    text = _field(item, "text", str, where, required=True)
    author = _field(item, "author", dict, where, default={})
    author_where = f"{where}.author" if where else "author"
    followers = _field(author, "followers", int, author_where, default=0)
    if followers < 0:
        raise PayloadError(f"{author_where}.followers must not be negative.")
    posted_raw = _field(item, "posted_at", str, where)
    posted_at = timezone.now()
    if posted_raw:
        try:
            posted_at = parse_datetime(posted_raw)
        except ValueError:
            posted_at = None
        label = f"{where + '.' if where else ''}posted_at"
        if posted_at is None:
            raise PayloadError(f"{label} must be an ISO 8601 date-time.")
        if timezone.is_naive(posted_at):
            posted_at = timezone.make_aware(posted_at, dt_timezone.utc)
        try:
            posted_at = posted_at.astimezone(dt_timezone.utc)
        except (OverflowError, ValueError):
            posted_at = None
        if posted_at is None or not services.POSTED_AT_YEARS[0] <= posted_at.year <= services.POSTED_AT_YEARS[1]:
            raise PayloadError(f"{label} must be an ISO 8601 date-time between the years {services.POSTED_AT_YEARS[0]} and {services.POSTED_AT_YEARS[1]}.")
    return FetchedMention(
        external_id=external_id,
        text=text,
        posted_at=posted_at,
        author_handle=_field(author, "handle", str, author_where, default=""),
        author_name=_field(author, "name", str, author_where, default=""),
        author_followers=followers,
        url=_field(item, "url", str, where, default=""),
        lang=_field(item, "lang", str, where, default=""),
        in_reply_to=_field(item, "in_reply_to", str, where, default=""),
        conversation_id=_field(item, "conversation_id", str, where, default=""),
    )
