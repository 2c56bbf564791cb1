"""WeCom's JS-SDK for pages opened inside WeCom (the chat toolbar).

A page learns the chat it is opened beside through `wx.agentConfig` followed by
`wx.invoke("getCurExternalChat")`; agentConfig needs a signature made on the
server from the app's jsapi ticket (`ticket/get?type=agent_config`):
sha1 of "jsapi_ticket=…&noncestr=…&timestamp=…&url=…" over the page's URL
without its fragment. The ticket lives 7,200 s and WeCom limits how often it
may be fetched, so it is cached in the shared cache like the token.
"""

from __future__ import annotations

import hashlib
import secrets
import time

from django.conf import settings
from django.core.cache import cache

from wecom.client import WeComClient, WeComTransientError

TICKET_REFRESH_MARGIN_SECONDS = 300


def _ticket_cache_key() -> str:
    return f"wecom:{settings.WECOM_CORP_ID}:{settings.WECOM_AGENT_ID}:agent-jsapi-ticket"


def agent_jsapi_ticket(client: WeComClient | None = None) -> str:
    """The cached agent_config ticket, or a new one from WeCom."""
    key = _ticket_cache_key()
    cached = cache.get(key)
    if cached:
        return cached
    client = client or WeComClient.agent()
    data = client.call("GET", "ticket/get", params={"type": "agent_config"})
    ticket = data.get("ticket")
    if not ticket:
        raise WeComTransientError("ticket/get answered without a ticket")
    expires_in = int(data.get("expires_in") or 7200)
    cache.set(key, ticket, timeout=max(expires_in - TICKET_REFRESH_MARGIN_SECONDS, 60))
    return ticket


def signature(*, ticket: str, noncestr: str, timestamp: int, url: str) -> str:
    """WeCom's JS-SDK signature (the parameters in this order, the URL without its #fragment)."""
    plain = f"jsapi_ticket={ticket}&noncestr={noncestr}&timestamp={timestamp}&url={url.split('#', 1)[0]}"
    return hashlib.sha1(plain.encode("utf-8")).hexdigest()


def agent_config(url: str, *, client: WeComClient | None = None) -> dict:
    """What `wx.agentConfig` takes for a page at `url`; raises the client's errors."""
    ticket = agent_jsapi_ticket(client)
    noncestr = secrets.token_hex(8)
    timestamp = int(time.time())
    return {
        "corpid": settings.WECOM_CORP_ID,
        "agentid": settings.WECOM_AGENT_ID,
        "timestamp": timestamp,
        "nonceStr": noncestr,
        "signature": signature(ticket=ticket, noncestr=noncestr, timestamp=timestamp, url=url),
    }
