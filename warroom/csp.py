"""Content-Security-Policy on every response: scripts and styles come only from this
site's own files (no inline script or style, no eval), nothing is framed or embedded, and
the only socket a page may open is the room's, on this host. Django 5.2 has no CSP of its
own; this is the whole of ours."""

from django.core.exceptions import DisallowedHost

POLICY = (
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self'",
    "font-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
)


def policy(request) -> str:
    """The header for this request. 'self' in connect-src does not cover ws:/wss: in every
    browser, so the socket's own scheme and host are named."""
    connect = "connect-src 'self'"
    try:
        host = request.get_host()  # validated against ALLOWED_HOSTS: no spaces, no ';'
    except DisallowedHost:
        host = None
    if host:
        connect += f" {'wss' if request.is_secure() else 'ws'}://{host}"
    return "; ".join((*POLICY, connect))


class ContentSecurityPolicyMiddleware:
    """First in MIDDLEWARE, so static files (WhiteNoise) and error pages carry it too."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if "Content-Security-Policy" not in response:
            response["Content-Security-Policy"] = policy(request)
        return response
