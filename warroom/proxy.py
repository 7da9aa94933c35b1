"""Who is at the other end of a request, behind the TLS proxy.

With BEHIND_TLS_PROXY on, a request whose peer is one of TRUSTED_PROXIES comes from the
address the proxies recorded in X-Forwarded-For: each proxy appends the address it saw,
so with PROXY_COUNT proxies in front of the room the client is the PROXY_COUNT-th entry
from the right (whatever a client wrote further left is its own invention). A request
from any other peer, or with the setting off, comes from its peer address. django-axes
locks sign-ins out per user and this address (AXES_CLIENT_IP_CALLABLE), and the audit log
records it."""

import ipaddress
from functools import cache

from django.conf import settings
from django.http import HttpRequest


@cache
def _networks(trusted: tuple[str, ...]) -> tuple:
    return tuple(ipaddress.ip_network(item, strict=False) for item in trusted)


def _address(value: str):
    try:
        return ipaddress.ip_address(value.strip())
    except ValueError:
        return None


def client_address(request: HttpRequest) -> str:
    peer = request.META.get("REMOTE_ADDR", "")
    if not settings.BEHIND_TLS_PROXY:
        return peer
    peer_address = _address(peer)
    if peer_address is None or not any(peer_address in net for net in _networks(tuple(settings.TRUSTED_PROXIES))):
        return peer
    hops = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
    if len(hops) < settings.PROXY_COUNT:
        return peer  # not what the configured proxies would send: trust nothing in it
    client = _address(hops[-settings.PROXY_COUNT])
    return str(client) if client is not None else peer
