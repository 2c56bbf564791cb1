"""The WeCom (企业微信) server API client: tokens, retries, errcodes, one method per endpoint.

Two clients, one per secret kind: `agent` (the self-built app's secret: app
messages, OAuth) and `contact` (客户联系's secret: customer groups, external
contacts, 群发). Each caches its access_token in Django's shared cache, keyed
by corp and kind, so every web process and worker uses one token; it is
refreshed a little before WeCom's expires_in runs out, and once more when
WeCom answers 40014/42001/40001 (a token revoked or expired early). WeCom
hands out the same token again while one is valid, so two processes
refreshing at once is harmless and needs no lock.

Failures come out as three exceptions:
- `WeComNotConfigured`: the deployment has not set WeCom up;
- `WeComTransientError`: may work later (45009/45033/-1, HTTP 5xx, timeouts,
  connection errors), raised after a few tries with backoff;
- `WeComError(errcode, errmsg)`: WeCom said no and will say it again.

Hand-written on `requests` rather than wechatpy: wechatpy's last release is
from 2021, its work client has none of the 群发 task and send-result
endpoints, keeps tokens in its own session stores rather than Django's
cache, and retries nothing on rate limits. The HTTP protocol is small and
documented; tests run it against wecom/sandbox.

Nothing here logs a secret, a token, a message text or a URL with its query
string: log lines name the API path and the errcode only.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlencode

import requests
from django.conf import settings
from django.core.cache import cache

logger = logging.getLogger(__name__)

AGENT = "agent"
CONTACT = "contact"
KINDS = (AGENT, CONTACT)

TOKEN_ERRCODES = frozenset({40014, 42001, 40001})
TRANSIENT_ERRCODES = frozenset({-1, 45009, 45033})
INVALID_CODE_ERRCODE = 40029
# A token is refreshed this long before WeCom says it expires (at most a fifth of its life).
TOKEN_REFRESH_MARGIN_SECONDS = 300
MAX_ATTEMPTS = 3
BACKOFF_SECONDS = 0.5
MAX_BACKOFF_SECONDS = 5.0
# WeCom's documented page sizes.
GROUPCHAT_PAGE_LIMIT = 1000
GROUPMSG_PAGE_LIMIT = 1000


class WeComException(Exception):
    """Base of the client's errors."""


class WeComNotConfigured(WeComException):
    def __init__(self, missing: str):
        super().__init__(f"WeCom not configured: {missing} is not set")
        self.missing = missing


class WeComTransientError(WeComException):
    """WeCom busy, rate-limited or unreachable: a later try may work."""

    def __init__(self, reason: str, errcode: int | None = None):
        super().__init__(reason)
        self.reason = reason
        self.errcode = errcode


class WeComError(WeComException):
    """A permanent refusal: the same request will fail the same way."""

    def __init__(self, errcode: int, errmsg: str = ""):
        # errmsg is WeCom's English text plus a hint; it never echoes what we sent.
        super().__init__(f"WeCom errcode {errcode}: {errmsg[:120]}")
        self.errcode = errcode
        self.errmsg = errmsg


def is_configured() -> bool:
    return bool(settings.WECOM_CORP_ID and (settings.WECOM_AGENT_SECRET or settings.WECOM_CONTACT_SECRET))


def app_messages_configured() -> bool:
    """Whether app messages (应用消息) can be sent: corp, agent id and the agent's secret are set."""
    return bool(settings.WECOM_CORP_ID and settings.WECOM_AGENT_ID and settings.WECOM_AGENT_SECRET)


def token_cache_key(kind: str) -> str:
    return f"wecom:token:{settings.WECOM_CORP_ID}:{kind}"


@dataclass(frozen=True)
class TokenState:
    kind: str
    cached: bool
    expires_at: float | None = None


class WeComClient:
    """One corporation's API with one secret kind's token.

    `max_attempts` and `backoff` bound the retries on transient failures; a
    Celery task above decides whether to try again later.
    """

    def __init__(
        self,
        kind: str,
        *,
        max_attempts: int = MAX_ATTEMPTS,
        backoff: float = BACKOFF_SECONDS,
        session: requests.Session | None = None,
    ):
        if kind not in KINDS:
            raise ValueError(f"unknown WeCom secret kind {kind!r}")
        self.kind = kind
        self.max_attempts = max(1, max_attempts)
        self.backoff = backoff
        self.session = session or requests.Session()

    @classmethod
    def agent(cls, **kwargs) -> WeComClient:
        return cls(AGENT, **kwargs)

    @classmethod
    def contact(cls, **kwargs) -> WeComClient:
        return cls(CONTACT, **kwargs)

    # --- configuration and token -----------------------------------------------

    @property
    def _secret_setting(self) -> str:
        return "WECOM_AGENT_SECRET" if self.kind == AGENT else "WECOM_CONTACT_SECRET"

    def _require_configured(self) -> None:
        if not settings.WECOM_CORP_ID:
            raise WeComNotConfigured("WECOM_CORP_ID")
        if not getattr(settings, self._secret_setting):
            raise WeComNotConfigured(self._secret_setting)
        if self.kind == AGENT and not settings.WECOM_AGENT_ID:
            raise WeComNotConfigured("WECOM_AGENT_ID")

    @property
    def configured(self) -> bool:
        try:
            self._require_configured()
        except WeComNotConfigured:
            return False
        return True

    def token_state(self) -> TokenState:
        cached = cache.get(token_cache_key(self.kind)) if settings.WECOM_CORP_ID else None
        if not cached:
            return TokenState(kind=self.kind, cached=False)
        return TokenState(kind=self.kind, cached=True, expires_at=cached.get("expires_at"))

    def access_token(self, *, refresh: bool = False) -> str:
        """The cached token, or a new one from `gettoken`."""
        self._require_configured()
        key = token_cache_key(self.kind)
        if not refresh:
            cached = cache.get(key)
            if cached and cached.get("expires_at", 0) > time.time():
                return cached["access_token"]
        data = self._request(
            "GET",
            "gettoken",
            params={"corpid": settings.WECOM_CORP_ID, "corpsecret": getattr(settings, self._secret_setting)},
        )
        token = data.get("access_token")
        if not token:
            raise WeComTransientError("gettoken answered without a token")
        expires_in = int(data.get("expires_in") or 7200)
        margin = min(TOKEN_REFRESH_MARGIN_SECONDS, expires_in // 5)
        lifetime = max(expires_in - margin, 1)
        cache.set(key, {"access_token": token, "expires_at": time.time() + lifetime}, timeout=lifetime)
        logger.info("WeCom %s token refreshed, valid for %ss", self.kind, lifetime)
        return token

    def forget_token(self) -> None:
        cache.delete(token_cache_key(self.kind))

    # --- transport ---------------------------------------------------------------

    def _sleep_before(self, attempt: int) -> None:
        delay = min(self.backoff * 2 ** (attempt - 1), MAX_BACKOFF_SECONDS)
        time.sleep(delay + random.uniform(0, delay / 4))

    def _request(
        self, method: str, path: str, *, params: dict | None = None, json: dict | None = None
    ) -> dict:
        """One API call with bounded retries on transient failures; the answer's JSON when errcode is 0."""
        url = f"{settings.WECOM_API_BASE}/{path}"
        last: WeComTransientError | None = None
        for attempt in range(1, self.max_attempts + 1):
            if attempt > 1:
                self._sleep_before(attempt - 1)
            try:
                response = self.session.request(
                    method, url, params=params, json=json, timeout=settings.OUTBOUND_HTTP_TIMEOUT
                )
            except requests.Timeout:
                last = WeComTransientError(f"{path}: timeout")
                continue
            except requests.RequestException as exc:
                last = WeComTransientError(f"{path}: {type(exc).__name__}")
                continue
            if response.status_code >= 500 or response.status_code == 429:
                last = WeComTransientError(f"{path}: HTTP {response.status_code}")
                continue
            try:
                data = response.json()
                errcode = int(data.get("errcode", 0))
            except (ValueError, AttributeError, TypeError):
                raise WeComError(-2, f"{path}: HTTP {response.status_code} without a JSON answer") from None
            if errcode == 0:
                return data
            if errcode in TRANSIENT_ERRCODES:
                last = WeComTransientError(f"{path}: errcode {errcode}", errcode)
                logger.info("WeCom %s busy (errcode %s), try %s", path, errcode, attempt)
                continue
            raise WeComError(errcode, str(data.get("errmsg", "")))
        logger.warning("WeCom %s failed after %s tries: %s", path, self.max_attempts, last.reason)
        raise last

    def call(self, method: str, path: str, *, params: dict | None = None, json: dict | None = None) -> dict:
        """An authenticated call; a token WeCom calls invalid is replaced once."""
        token = self.access_token()
        try:
            return self._request(method, path, params={**(params or {}), "access_token": token}, json=json)
        except WeComError as exc:
            if exc.errcode not in TOKEN_ERRCODES:
                raise
            logger.info("WeCom %s: token refused (errcode %s), fetching a new one", path, exc.errcode)
            token = self.access_token(refresh=True)
            return self._request(method, path, params={**(params or {}), "access_token": token}, json=json)

    def post(self, path: str, payload: dict) -> dict:
        return self.call("POST", path, json=payload)

    # --- 客户联系: customer groups -------------------------------------------------

    def groupchat_list(
        self,
        *,
        status_filter: int = 0,
        owner_userids: list[str] | None = None,
        cursor: str = "",
        limit: int = GROUPCHAT_PAGE_LIMIT,
    ) -> dict:
        """One page: {"group_chat_list": [{"chat_id", "status"}], "next_cursor"}."""
        payload: dict = {"status_filter": status_filter, "limit": limit}
        if owner_userids:
            payload["owner_filter"] = {"userid_list": list(owner_userids)}
        if cursor:
            payload["cursor"] = cursor
        return self.post("externalcontact/groupchat/list", payload)

    def iter_groupchats(
        self, *, status_filter: int = 0, owner_userids: list[str] | None = None
    ) -> Iterator[dict]:
        """Every {"chat_id", "status"}, following next_cursor."""
        return _follow_cursor(
            lambda cursor: self.groupchat_list(
                status_filter=status_filter, owner_userids=owner_userids, cursor=cursor
            ),
            "group_chat_list",
        )

    def groupchat_get(self, chat_id: str, *, need_name: bool = True) -> dict:
        """The group: owner, name, notice, create_time, member_list[...], admin_list."""
        data = self.post("externalcontact/groupchat/get", {"chat_id": chat_id, "need_name": int(need_name)})
        return data["group_chat"]

    def external_contact_get(self, external_userid: str) -> dict:
        """{"external_contact": {...}, "follow_user": [{"userid", "remark", "remark_mobiles", ...}]}."""
        data = self.call("GET", "externalcontact/get", params={"external_userid": external_userid})
        return {
            "external_contact": data.get("external_contact", {}),
            "follow_user": data.get("follow_user", []),
        }

    # --- 客户联系: 群发 -----------------------------------------------------------

    def add_msg_template(
        self,
        *,
        sender: str,
        chat_ids: list[str] | None = None,
        external_userids: list[str] | None = None,
        text: str,
        attachments: list[dict] | None = None,
    ) -> dict:
        """Create a 群发 the sender confirms in WeCom: to customer groups (chat_ids, chat_type
        "group") or one-to-one to external contacts (external_userids, chat_type "single").
        {"msgid", "fail_list"} — the chats or external contacts WeCom would not take."""
        if external_userids is not None:
            payload: dict = {
                "chat_type": "single",
                "sender": sender,
                "external_userid": list(external_userids),
            }
        else:
            payload = {"chat_type": "group", "sender": sender, "chat_id_list": list(chat_ids or [])}
        if text:
            payload["text"] = {"content": text}
        if attachments:
            payload["attachments"] = attachments
        data = self.post("externalcontact/add_msg_template", payload)
        return {"msgid": data.get("msgid", ""), "fail_list": data.get("fail_list", [])}

    def groupmsg_task_page(self, msgid: str, *, cursor: str = "", limit: int = GROUPMSG_PAGE_LIMIT) -> dict:
        payload: dict = {"msgid": msgid, "limit": limit}
        if cursor:
            payload["cursor"] = cursor
        return self.post("externalcontact/get_groupmsg_task", payload)

    def iter_groupmsg_tasks(self, msgid: str) -> Iterator[dict]:
        """Every {"userid", "status" (0 未发送, 2 已发送), "send_time"}."""
        return _follow_cursor(lambda cursor: self.groupmsg_task_page(msgid, cursor=cursor), "task_list")

    def groupmsg_send_result_page(
        self, msgid: str, userid: str, *, cursor: str = "", limit: int = GROUPMSG_PAGE_LIMIT
    ) -> dict:
        payload: dict = {"msgid": msgid, "userid": userid, "limit": limit}
        if cursor:
            payload["cursor"] = cursor
        return self.post("externalcontact/get_groupmsg_send_result", payload)

    def iter_groupmsg_send_results(self, msgid: str, userid: str) -> Iterator[dict]:
        """Every {"chat_id" (group) or "external_userid" (one-to-one), "userid", "status",
        "send_time"}; status 0 未发送, 1 已发送, 2 客户不是好友, 3 客户已收到其他群发."""
        return _follow_cursor(
            lambda cursor: self.groupmsg_send_result_page(msgid, userid, cursor=cursor), "send_list"
        )

    def remind_groupmsg_send(self, msgid: str) -> None:
        """Remind the owner again (WeCom allows three reminders per 群发 in 24 hours)."""
        self.post("externalcontact/remind_groupmsg_send", {"msgid": msgid})

    def cancel_groupmsg_send(self, msgid: str) -> None:
        self.post("externalcontact/cancel_groupmsg_send", {"msgid": msgid})

    # --- 应用消息 and OAuth (agent) ----------------------------------------------

    def send_textcard(
        self,
        *,
        userids: list[str],
        title: str,
        description: str,
        url: str,
        btntxt: str = "",
        duplicate_check_seconds: int = 0,
    ) -> dict:
        """Send a textcard app message; the answer names `invaliduser` ("a|b") when some were unknown.

        With `duplicate_check_seconds`, WeCom drops the same message to the same
        user sent again within that time (at most 4 hours): a send repeated
        after a crash does not reach the user twice.
        """
        self._require_configured()
        card = {"title": title, "description": description, "url": url}
        if btntxt:
            card["btntxt"] = btntxt
        payload = {
            "touser": "|".join(userids),
            "msgtype": "textcard",
            "agentid": int(settings.WECOM_AGENT_ID),
            "textcard": card,
        }
        if duplicate_check_seconds:
            payload["enable_duplicate_check"] = 1
            payload["duplicate_check_interval"] = min(duplicate_check_seconds, 4 * 3600)
        return self.post("message/send", payload)

    def oauth_authorize_url(self, *, redirect_uri: str, state: str = "") -> str:
        """Where to send a browser inside WeCom to learn who it is (scope snsapi_base)."""
        self._require_configured()
        query = urlencode(
            {
                "appid": settings.WECOM_CORP_ID,
                "redirect_uri": redirect_uri,
                "response_type": "code",
                "scope": "snsapi_base",
                "state": state,
                "agentid": settings.WECOM_AGENT_ID,
            }
        )
        return f"{settings.WECOM_OAUTH_AUTHORIZE_URL}?{query}#wechat_redirect"

    def oauth_userid(self, code: str) -> str:
        """The member's userid for an OAuth code; WeComError(40029) for a bad or used code,
        WeComError(-3) for someone who is not a member (an external user)."""
        data = self.call("GET", "auth/getuserinfo", params={"code": code})
        userid = data.get("userid") or data.get("UserId") or ""
        if not userid:
            raise WeComError(-3, "not a member of the corporation")
        return userid


def _follow_cursor(fetch, list_key: str) -> Iterator[dict]:
    cursor, seen = "", set()
    while True:
        page = fetch(cursor)
        yield from page.get(list_key, [])
        cursor = page.get("next_cursor") or ""
        # A cursor seen before would loop for ever.
        if not cursor or cursor in seen:
            return
        seen.add(cursor)
