"""Which network addresses the room's workers may connect to when a person typed the URL
(an RSS feed today, a Mastodon instance tomorrow): the public internet on the web's ports,
never the services inside our own network (server-side request forgery).

An IPv6 address can carry an IPv4 address inside it (IPv4-mapped `::ffff:a.b.c.d`,
IPv4-compatible `::a.b.c.d`, NAT64 `64:ff9b::a.b.c.d`, 6to4 `2002:aabb:ccdd::`, Teredo
`2001:0::`): a host that resolves to `64:ff9b::7f00:1` reaches 127.0.0.1 through a NAT64
gateway although Python calls the address global. Every embedded IPv4 address is unwrapped
and checked as itself, so the answer does not depend on which wrappers a Python version
knows."""

import ipaddress
import socket

ALLOWED_PORTS = (80, 443)

_NAT64 = ipaddress.ip_network("64:ff9b::/96")  # RFC 6052 well-known prefix: the IPv4 is the last 32 bits
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")  # RFC 8215 local-use: our own translators, never public
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")  # deprecated ::a.b.c.d (RFC 4291 2.5.5.1)
_IPV4_TRANSLATED = ipaddress.ip_network("::ffff:0:0:0/96")  # SIIT ::ffff:0:a.b.c.d (RFC 2765)

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class NotPublic(Exception):
    """The host is (or resolved to) an address, or uses a port, that is not on the public web."""


def reached(address: str) -> list[Address]:
    """The addresses a connection to `address` really reaches: the IPv4 ones embedded in
    an IPv6 wrapper (both ends of a Teredo address), else the address itself."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv4Address):
        return [ip]
    if ip.ipv4_mapped is not None:
        return [ip.ipv4_mapped]
    if ip in _NAT64 or ip in _IPV4_COMPATIBLE or ip in _IPV4_TRANSLATED:
        return [ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)]
    if ip.sixtofour is not None:
        return [ip.sixtofour]
    if ip.teredo is not None:
        return list(ip.teredo)  # (server, client): the client is where the packets end up
    return [ip]


def address_public(address: str) -> bool:
    """True when every address a connection to `address` reaches is on the public internet."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip in _NAT64_LOCAL:
        return False
    return all(inner.is_global and not inner.is_multicast for inner in reached(address))


def check_port(host: str, port: int | None) -> None:
    if port not in ALLOWED_PORTS:
        raise NotPublic(f"{host} is on port {port}; the room only connects to ports 80 and 443.")


def check_host(host: str, port: int) -> None:
    """Refuse a host that resolves to any address that is not public, or a port other than 80 or 443."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror:
        infos = []  # the HTTP client reports the name that does not resolve, as it does for any URL
    for *_, address in infos:
        if not address_public(address[0]):
            raise NotPublic(f"{host} is at {address[0]}, a private or reserved address.")
    check_port(host, port)


def check_peer(host: str, peer: str) -> None:
    """After connecting: the address the socket really reached (a DNS answer may have changed)."""
    if not address_public(peer):
        raise NotPublic(f"{host} connected to {peer}, a private or reserved address.")


def check_url(url: str) -> str:
    """A URL someone configured (a Slack webhook, say), when a worker may call it; else
    NotPublic saying why. Hosts in NETGUARD_ALLOW_HOSTS (the tests' loopback fakes; never set
    in production) skip the check."""
    from urllib.parse import urlsplit

    from django.conf import settings

    parts = urlsplit(url or "")
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise NotPublic("The URL must start with https:// and name a host.")
    host = parts.hostname
    if host in set(getattr(settings, "NETGUARD_ALLOW_HOSTS", ())):
        return url
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as error:
        raise NotPublic(f"{host} does not resolve.") from error
    check_host(host, port)
    return url
