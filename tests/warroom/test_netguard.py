"""warroom/netguard.py: an IPv6 address that carries an IPv4 one is judged by the IPv4
address it reaches, and only ports 80 and 443 are allowed. No network: literal addresses
resolve to themselves."""

import pytest

from warroom import netguard

# Each wrapper around 127.0.0.1 (loopback), 10.0.0.5 (private) and 169.254.169.254 (cloud metadata).
HIDDEN = {
    "IPv4-mapped": ["::ffff:127.0.0.1", "::ffff:10.0.0.5", "::ffff:169.254.169.254"],
    "IPv4-compatible": ["::127.0.0.1", "::10.0.0.5", "::169.254.169.254"],
    "IPv4-translated": ["::ffff:0:127.0.0.1", "::ffff:0:10.0.0.5"],
    "NAT64 64:ff9b::/96": ["64:ff9b::127.0.0.1", "64:ff9b::a00:5", "64:ff9b::a9fe:a9fe"],
    "6to4 2002::/16": ["2002:7f00:1::", "2002:a00:5::1", "2002:a9fe:a9fe::"],
    # Teredo: server 65.54.227.120, client 127.0.0.1 / 10.0.0.5 stored inverted (xor 0xffffffff).
    "Teredo 2001::/32": ["2001:0:4136:e378:8000:63bf:80ff:fffe", "2001:0:4136:e378:8000:63bf:f5ff:fffa"],
}


@pytest.mark.parametrize(
    "address", [a for forms in HIDDEN.values() for a in forms], ids=[f"{k}:{a}" for k, v in HIDDEN.items() for a in v]
)
def test_an_internal_ipv4_address_inside_an_ipv6_wrapper_is_not_public(address):
    assert not netguard.address_public(address)
    with pytest.raises(netguard.NotPublic, match="private or reserved address"):
        netguard.check_host(address, 443)


def test_the_wrappers_unwrap_to_the_address_they_reach():
    assert [str(a) for a in netguard.reached("64:ff9b::7f00:1")] == ["127.0.0.1"]
    assert [str(a) for a in netguard.reached("::10.0.0.5")] == ["10.0.0.5"]
    assert [str(a) for a in netguard.reached("2002:a00:5::1")] == ["10.0.0.5"]
    assert [str(a) for a in netguard.reached("2001:0:4136:e378:8000:63bf:80ff:fffe")] == ["65.54.227.120", "127.0.0.1"]


def test_the_local_use_nat64_prefix_is_never_public():
    # RFC 8215: 64:ff9b:1::/48 is for an operator's own translators; where the IPv4 sits depends on their prefix length.
    assert not netguard.address_public("64:ff9b:1::808:808")
    assert not netguard.address_public("64:ff9b:1:808:8:800::")


@pytest.mark.parametrize("address", ["8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808",
                                     "2002:808:808::1", "2001:0:4136:e378:8000:63bf:f7f7:f7f7"])
def test_a_public_address_passes_in_any_form(address):
    assert netguard.address_public(address)
    netguard.check_host(address, 443)
    netguard.check_host(address, 80)
    netguard.check_peer("feeds.example", address)


@pytest.mark.parametrize("address", ["127.0.0.1", "::1", "10.1.2.3", "fd00::1", "fe80::1%eth0", "100.64.0.1", "0.0.0.0",
                                     "::", "224.0.0.1", "ff02::1", "2001:db8::1"])
def test_plain_private_loopback_reserved_and_multicast_addresses_are_not_public(address):
    assert not netguard.address_public(address)


@pytest.mark.parametrize("port", [22, 6379, 8000, 8080, 8443, 0, 65535])
def test_only_ports_80_and_443_are_allowed(port):
    with pytest.raises(netguard.NotPublic, match=f"port {port}; the room only connects to ports 80 and 443"):
        netguard.check_host("93.184.216.34", port)


def test_the_peer_is_checked_after_connecting():
    with pytest.raises(netguard.NotPublic, match="connected to 64:ff9b::7f00:1"):
        netguard.check_peer("feeds.example", "64:ff9b::7f00:1")
