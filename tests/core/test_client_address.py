"""The client's address: X-Forwarded-For only past the proxies settings.TRUSTED_PROXIES names."""

from types import SimpleNamespace

import pytest
from django.core.exceptions import ImproperlyConfigured

from core.client import client_address, parse_trusted_proxies


def request(peer: str, forwarded: str | None = None):
    meta = {"REMOTE_ADDR": peer}
    if forwarded is not None:
        meta["HTTP_X_FORWARDED_FOR"] = forwarded
    return SimpleNamespace(META=meta)


@pytest.mark.parametrize(
    ("trusted", "peer", "forwarded", "expected"),
    [
        # Nothing trusted: the peer, whatever the header says.
        (0, "10.0.0.1", "6.6.6.6", "10.0.0.1"),
        # A count: the N-th entry from the right; a client's own entries stay to the left.
        (1, "10.0.0.1", "6.6.6.6, 198.51.100.7", "198.51.100.7"),
        (2, "10.0.0.1", "6.6.6.6, 198.51.100.7, 10.0.0.9", "198.51.100.7"),
        (2, "10.0.0.1", "198.51.100.7", "10.0.0.1"),
        (1, "10.0.0.1", "not-an-address", "10.0.0.1"),
        (1, "10.0.0.1", None, "10.0.0.1"),
        # Networks: right-most entry outside them, and only when the peer is one of them.
        (("10.0.0.0/8",), "10.0.0.1", "6.6.6.6, 198.51.100.7, 10.0.0.9", "198.51.100.7"),
        (("10.0.0.0/8",), "192.0.2.1", "198.51.100.7", "192.0.2.1"),
        (("10.0.0.0/8",), "10.0.0.1", "10.0.0.7, 10.0.0.9", "10.0.0.7"),
        (("10.0.0.0/8",), "10.0.0.1", "6.6.6.6, junk, 10.0.0.9", "10.0.0.9"),
        (("10.0.0.0/8", "2001:db8::/32"), "2001:db8::1", "2001:db8::5, 2400:cb00::1", "2400:cb00::1"),
    ],
)
def test_the_client_address(settings, trusted, peer, forwarded, expected):
    settings.TRUSTED_PROXIES = trusted

    assert client_address(request(peer, forwarded)) == expected


def test_the_setting_reads_a_count_or_networks():
    assert parse_trusted_proxies("") == 0
    assert parse_trusted_proxies("2") == 2
    assert [str(n) for n in parse_trusted_proxies("10.0.0.0/8, 192.168.1.5")] == [
        "10.0.0.0/8",
        "192.168.1.5/32",
    ]
    with pytest.raises(ImproperlyConfigured):
        parse_trusted_proxies("10.0.0.0/8, proxy.example")
    with pytest.raises(ImproperlyConfigured):
        parse_trusted_proxies(-1)
