"""Which pages may open a WebSocket here: the handshake's Origin must be this site's own
origin (scheme, host and port, as Django's CSRF check sees the request: the Host header
checked against ALLOWED_HOSTS, https when the TLS proxy says so) or one listed in
CSRF_TRUSTED_ORIGINS. Anything else (another port on the same host, plain http to an
https site, no Origin at all) is refused before the consumer runs."""

from urllib.parse import urlsplit

from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.http.request import is_same_domain, split_domain_port, validate_host

DEFAULT_PORTS = {"http": 80, "https": 443}


def parse_origin(value: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of an origin, the port filled in for http and https; None
    for anything that is not an http(s) origin (Chromium sends "null" from sandboxes)."""
    try:
        parts = urlsplit(value.strip().lower())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname or parts.path not in ("", "/"):
        return None
    return parts.scheme, parts.hostname, port or DEFAULT_PORTS[parts.scheme]


def _header(scope, name: bytes) -> str | None:
    values = [value for key, value in scope.get("headers", []) if key.lower() == name]
    return values[0].decode("latin1") if len(values) == 1 else None  # none, or two: not a browser


def own_origin(scope) -> tuple[str, str, int] | None:
    """This request's own origin, as Django's request.scheme and request.get_host() would
    give it, or None when the Host is missing or not in ALLOWED_HOSTS."""
    host = _header(scope, b"host")
    if settings.USE_X_FORWARDED_HOST and _header(scope, b"x-forwarded-host"):
        host = _header(scope, b"x-forwarded-host")
    if not host:
        return None
    allowed = settings.ALLOWED_HOSTS
    if settings.DEBUG and not allowed:
        allowed = [".localhost", "127.0.0.1", "[::1]"]
    domain, _ = split_domain_port(host)
    if not domain or not validate_host(domain, allowed):
        return None
    scheme = "https" if scope.get("scheme") == "wss" else "http"
    proxy_header = getattr(settings, "SECURE_PROXY_SSL_HEADER", None)
    if proxy_header:
        name, secure_value = proxy_header
        forwarded = _header(scope, name.removeprefix("HTTP_").replace("_", "-").lower().encode())
        if forwarded is not None:
            scheme = "https" if forwarded.split(",", 1)[0].strip() == secure_value else "http"
    return parse_origin(f"{scheme}://{host}")


def trusted(origin: tuple[str, str, int]) -> bool:
    """Listed in CSRF_TRUSTED_ORIGINS: exactly, or under a "https://*.example.com" entry."""
    scheme, host, port = origin
    for entry in settings.CSRF_TRUSTED_ORIGINS:
        wildcard = "://*." in entry
        pattern = parse_origin(entry.replace("://*.", "://", 1))
        if pattern is None or pattern[0] != scheme or pattern[2] != port:
            continue
        if host == pattern[1] or (wildcard and is_same_domain(host, "." + pattern[1])):
            return True
    return False


def origin_allowed(scope) -> bool:
    origin = parse_origin(_header(scope, b"origin") or "")
    return origin is not None and (origin == own_origin(scope) or trusted(origin))


class SameOriginValidator:
    """ASGI wrapper for the websocket route: refuses the handshake (403) unless
    `origin_allowed`."""

    def __init__(self, application):
        self.application = application

    async def __call__(self, scope, receive, send):
        if scope["type"] == "websocket" and not origin_allowed(scope):
            return await WebsocketDenier()(scope, receive, send)
        return await self.application(scope, receive, send)
