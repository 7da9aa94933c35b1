"""Outgoing requests to addresses someone configured (a Slack webhook URL, say) reach only
the public internet: a URL at 169.254.169.254 or 10.0.0.5:6379 would make a worker read
internal services (server-side request forgery). `check_url` resolves the host and refuses
any private, loopback, link-local or reserved address, unless the host is listed in
NETGUARD_ALLOW_HOSTS (the tests' loopback fakes; never set in production)."""

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings

from .errors import InvalidInput


class NotPublic(InvalidInput):
    """The URL's host is (or resolves to) an address that is not on the public internet."""


def public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def check_url(url: str) -> str:
    """The URL, when it may be called; else NotPublic saying why."""
    parts = urlsplit(url or "")
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise NotPublic("The URL must start with https:// and name a host.")
    host = parts.hostname
    if host in set(getattr(settings, "NETGUARD_ALLOW_HOSTS", ())):
        return url
    try:
        infos = socket.getaddrinfo(host, parts.port or (443 if parts.scheme == "https" else 80), type=socket.SOCK_STREAM)
    except socket.gaierror as error:
        raise NotPublic(f"{host} does not resolve.") from error
    for *_, address in infos:
        if not public(address[0]):
            raise NotPublic(f"{host} is at {address[0]}, a private or reserved address.")
    return url
