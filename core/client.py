"""The address a request comes from: one rule for the API throttle, the login lockout, the survey limit.

Behind reverse proxies the peer (REMOTE_ADDR) is the proxy, and the client's
address is in X-Forwarded-For, where each proxy appends the address it got
the request from. What a client writes there itself stays to the left, so
only entries appended by proxies we trust count (settings.TRUSTED_PROXIES):

- a count N: the N-th entry from the right;
- networks (CIDR): when the peer is in them, the right-most entry that is
  not, walking the chain from the right;
- nothing (0 or empty, the default): X-Forwarded-For is ignored.

An entry that is not an IP address never becomes the client's address.
"""

import ipaddress
from functools import lru_cache

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_trusted_proxies(value) -> int | tuple[Network, ...]:
    """A proxy count or a tuple of networks, from "2", "10.0.0.0/8, 192.168.1.5", 2 or a list."""
    if value is None or value == "":
        return 0
    if isinstance(value, int):
        count = value
    elif isinstance(value, str) and value.strip().isdigit():
        count = int(value.strip())
    else:
        items = value.split(",") if isinstance(value, str) else list(value)
        try:
            return tuple(
                ipaddress.ip_network(str(item).strip(), strict=False) for item in items if str(item).strip()
            )
        except ValueError as exc:
            raise ImproperlyConfigured(f"TRUSTED_PROXIES must be a count or CIDR networks: {exc}") from None
    if count < 0:
        raise ImproperlyConfigured("TRUSTED_PROXIES must be 0 or more")
    return count


@lru_cache(maxsize=8)
def _trusted(value) -> int | tuple[Network, ...]:
    return parse_trusted_proxies(value)


def _address(text: str):
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def _in(address, networks: tuple[Network, ...]) -> bool:
    return any(address.version == network.version and address in network for network in networks)


def client_address(request) -> str | None:
    """The client's IP address as text (REMOTE_ADDR unless trusted proxies are configured)."""
    meta = getattr(request, "META", {})
    peer = meta.get("REMOTE_ADDR")
    raw = getattr(settings, "TRUSTED_PROXIES", 0)
    trusted = _trusted(tuple(raw) if isinstance(raw, list) else raw)
    if not trusted:
        return peer
    hops = [hop.strip() for hop in meta.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
    if isinstance(trusted, int):
        if len(hops) < trusted:
            return peer
        chosen = _address(hops[-trusted])
        return str(chosen) if chosen is not None else peer
    peer_address = _address(peer or "")
    if peer_address is None or not _in(peer_address, trusted):
        return peer
    for hop in reversed(hops):
        address = _address(hop)
        if address is None:
            # Not written by a proxy we trust: stop here and keep the last trusted hop.
            break
        if not _in(address, trusted):
            return str(address)
        peer_address = address
    return str(peer_address)
