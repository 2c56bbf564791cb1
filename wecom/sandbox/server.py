"""The sandbox's HTTP side: WeCom's API under /cgi-bin/, the control API under /sandbox/.

See wecom/sandbox/__init__.py for what each endpoint does.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

import requests

from wecom.crypto import CallbackCrypto
from wecom.sandbox.state import INVALID_PARAMETER, OK, SandboxError, SandboxState

logger = logging.getLogger(__name__)

API_PREFIX = "/cgi-bin/"
# Where WECOM_OAUTH_AUTHORIZE_URL points when the sandbox plays WeCom's OAuth2 page.
OAUTH_AUTHORIZE_PATH = "/connect/oauth2/authorize"
CONTROL_PREFIX = "/sandbox/"
CALLBACK_TIMEOUT = 5


def _cdata(value) -> str:
    return f"<![CDATA[{str(value).replace(']]>', ']]]]><![CDATA[>')}]]>"


def event_xml(corp_id: str, event: str, fields: dict) -> str:
    """The plaintext XML of a WeCom event, as its callback docs show it."""
    parts = [
        f"<ToUserName>{_cdata(corp_id)}</ToUserName>",
        f"<FromUserName>{_cdata('sys')}</FromUserName>",
        f"<CreateTime>{int(time.time())}</CreateTime>",
        f"<MsgType>{_cdata('event')}</MsgType>",
        f"<Event>{_cdata(event)}</Event>",
    ]
    for name, value in fields.items():
        if isinstance(value, list):
            items = "".join(f"<Item>{_cdata(item)}</Item>" for item in value)
            parts.append(f"<{name}>{items}</{name}>")
        elif isinstance(value, int):
            parts.append(f"<{name}>{value}</{name}>")
        else:
            parts.append(f"<{name}>{_cdata(value)}</{name}>")
    return "<xml>" + "".join(parts) + "</xml>"


class _Server(ThreadingHTTPServer):
    # A demo's bursts (a fan-out, a worker's retries) should queue, not be refused.
    request_queue_size = 64


class Sandbox:
    """A running sandbox: `state`, `base_url`, `api_base`; `start()` and `stop()`."""

    def __init__(self, state: SandboxState | None = None, *, host: str = "127.0.0.1", port: int = 0):
        self.state = state or SandboxState()
        self._server = _Server((host, port), _handler_for(self))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None
        self.host, self.port = self._server.server_address[:2]

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def api_base(self) -> str:
        return f"{self.base_url}/cgi-bin"

    def start(self) -> Sandbox:
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._server.serve_forever()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread:
            self._thread.join(timeout=5)

    # --- callbacks to the CRM ----------------------------------------------------

    def set_callback(self, *, url: str, token: str, aes_key: str) -> None:
        CallbackCrypto(
            token=token, encoding_aes_key=aes_key, receive_id=self.state.corp_id
        )  # validates the key
        with self.state.lock:
            self.state.callback = {"url": url, "token": token, "aes_key": aes_key}

    def signed_callback(self, event: str, fields: dict) -> dict:
        """The query string and body WeCom would POST for this event, signed and encrypted."""
        target = self.state.callback
        crypto = CallbackCrypto(
            token=target["token"], encoding_aes_key=target["aes_key"], receive_id=self.state.corp_id
        )
        timestamp, nonce = str(int(time.time())), str(secrets.randbelow(10**10))
        encrypted, signature = crypto.encrypt_and_sign(
            event_xml(self.state.corp_id, event, fields), timestamp=timestamp, nonce=nonce
        )
        body = (
            f"<xml><ToUserName>{_cdata(self.state.corp_id)}</ToUserName>"
            f"<AgentID>{_cdata(self.state.agent_id)}</AgentID><Encrypt>{_cdata(encrypted)}</Encrypt></xml>"
        )
        return {
            "query": {"msg_signature": signature, "timestamp": timestamp, "nonce": nonce},
            "body": body,
        }

    def emit(self, event: str, fields: dict) -> dict | None:
        """POST the event to the CRM's callback URL when one is set; record it either way."""
        if not self.state.callback:
            return None
        request = self.signed_callback(event, fields)
        record = {"event": event, "fields": fields, **request, "status": None}
        url = self.state.callback["url"]
        if url:
            try:
                response = requests.post(
                    f"{url}?{urlencode(request['query'])}",
                    data=request["body"].encode(),
                    headers={"Content-Type": "text/xml"},
                    timeout=CALLBACK_TIMEOUT,
                )
                record["status"] = response.status_code
            except requests.RequestException as exc:
                record["status"] = f"error: {type(exc).__name__}"
        with self.state.lock:
            self.state.callbacks.append(record)
        return record

    def emit_chat(self, chat_id: str, change_type: str, detail: str = "", **extra) -> dict | None:
        fields = {"ChatId": chat_id, "ChangeType": change_type}
        if detail:
            fields["UpdateDetail"] = detail
        fields.update(extra)
        return self.emit("change_external_chat", fields)


def _handler_for(sandbox: Sandbox):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body leave in two writes: without TCP_NODELAY a kept-alive
        # connection waits ~40 ms on the client's delayed ACK for every answer.
        disable_nagle_algorithm = True

        def log_message(self, format, *args):  # noqa: A002 - the stdlib's signature
            pass

        def _reply(self, status: int, payload: dict) -> None:
            data = json.dumps(payload, ensure_ascii=False).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _authorize(self, query: dict) -> None:
            """WeCom's OAuth2 page inside the WeCom app: for the member signed in there
            (POST /sandbox/oauth/member), straight back to redirect_uri with a code."""
            userid = sandbox.state.oauth_member
            redirect_uri = query.get("redirect_uri", "")
            if not userid or not redirect_uri or query.get("appid") != sandbox.state.corp_id:
                self._reply(403, {"error": "no member signed in to WeCom, or a wrong appid"})
                return
            code = sandbox.state.issue_code(userid)
            separator = "&" if "?" in redirect_uri else "?"
            self.send_response(302)
            self.send_header(
                "Location",
                f"{redirect_uri}{separator}{urlencode({'code': code, 'state': query.get('state', '')})}",
            )
            self.send_header("Content-Length", "0")
            self.end_headers()

        def _body(self) -> dict:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            if not raw:
                return {}
            try:
                data = json.loads(raw)
            except ValueError:
                raise SandboxError(47001, "data format error") from None
            if not isinstance(data, dict):
                raise SandboxError(47001, "data format error")
            return data

        def _dispatch(self, method: str) -> None:
            parts = urlsplit(self.path)
            query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
            try:
                body = self._body() if method == "POST" else {}
                if parts.path.startswith(API_PREFIX):
                    path = parts.path[len(API_PREFIX) :]
                    self._api(method, path, query, body)
                elif parts.path == OAUTH_AUTHORIZE_PATH and method == "GET":
                    self._authorize(query)
                elif parts.path.startswith(CONTROL_PREFIX):
                    status, payload = _control(
                        sandbox, method, parts.path[len(CONTROL_PREFIX) :].strip("/"), body
                    )
                    self._reply(status, payload)
                else:
                    self._reply(404, {"error": "not found"})
            except SandboxError as exc:
                self._reply(200, {"errcode": exc.errcode, "errmsg": exc.errmsg, **exc.extra})
            except (KeyError, TypeError, ValueError, AttributeError):
                # A malformed field (a limit that is not a number, an object where a list goes).
                self._reply(200, {"errcode": INVALID_PARAMETER, "errmsg": "invalid parameter"})

        def _api(self, method: str, path: str, query: dict, body: dict) -> None:
            state = sandbox.state
            fault = state.take_fault(path)
            if fault and fault.http_status:
                self._reply(fault.http_status, {"error": "injected"})
                return
            if fault and fault.errcode is not None:
                raise SandboxError(fault.errcode)
            if path == "gettoken":
                self._reply(
                    200,
                    {
                        "errcode": OK,
                        "errmsg": "ok",
                        **state.get_token(query.get("corpid", ""), query.get("corpsecret", "")),
                    },
                )
                return
            kind = state.check_token(query.get("access_token", ""))
            handler = _API.get((method, path))
            if handler is None:
                self._reply(404, {"errcode": 404, "errmsg": "unknown api in sandbox"})
                return
            result = handler(sandbox, kind, query, body)
            self._reply(200, {"errcode": OK, "errmsg": "ok", **result})

        def do_GET(self):
            self._dispatch("GET")

        def do_POST(self):
            self._dispatch("POST")

    return Handler


# --- WeCom's API ---------------------------------------------------------------------


def _require(body: dict, name: str, kind=str):
    value = body.get(name)
    if not isinstance(value, kind) or value in ("", []):
        raise SandboxError(INVALID_PARAMETER, f"{name} required")
    return value


def _groupchat_list(sandbox, kind, query, body):
    owners = (body.get("owner_filter") or {}).get("userid_list") or []
    return sandbox.state.list_groups(
        status_filter=int(body.get("status_filter") or 0),
        owners=owners,
        cursor=str(body.get("cursor") or ""),
        limit=int(body.get("limit") or 100),
    )


def _groupchat_get(sandbox, kind, query, body):
    group = sandbox.state.group(_require(body, "chat_id"))
    with sandbox.state.lock:
        return {"group_chat": group.as_json(bool(body.get("need_name")))}


def _external_contact_get(sandbox, kind, query, body):
    return sandbox.state.external_contact(query.get("external_userid", ""))


def _add_msg_template(sandbox, kind, query, body):
    chat_type = body.get("chat_type") or "single"  # WeCom's default
    if chat_type not in ("group", "single"):
        raise SandboxError(INVALID_PARAMETER, "chat_type must be single or group")
    return sandbox.state.add_msg_template(
        sender=_require(body, "sender"),
        chat_ids=list(body.get("chat_id_list") or []),
        text=str((body.get("text") or {}).get("content") or ""),
        attachments=list(body.get("attachments") or []),
        chat_type=chat_type,
        external_userids=[str(userid) for userid in body.get("external_userid") or []],
    )


def _page(items: list, body: dict) -> tuple[list, str]:
    limit = int(body.get("limit") or 500)
    if not 1 <= limit <= 1000:
        raise SandboxError(INVALID_PARAMETER, "limit must be 1..1000")
    start = int(body.get("cursor") or 0) if str(body.get("cursor") or "0").isdigit() else 0
    end = start + limit
    return items[start:end], (str(end) if end < len(items) else "")


def _groupmsg_task(sandbox, kind, query, body):
    task = sandbox.state.task(_require(body, "msgid"))
    with sandbox.state.lock:
        rows = [{"userid": task.sender, "status": task.status, "send_time": task.send_time}]
    page, cursor = _page(rows, body)
    return {"next_cursor": cursor, "task_list": page}


def _groupmsg_send_result(sandbox, kind, query, body):
    task = sandbox.state.task(_require(body, "msgid"))
    userid = _require(body, "userid")
    with sandbox.state.lock:
        rows = (
            [
                {task.target_key: target, "userid": userid, "status": status, "send_time": sent}
                for target, (status, sent) in task.results.items()
            ]
            if userid == task.sender
            else []
        )
    page, cursor = _page(rows, body)
    return {"next_cursor": cursor, "send_list": page}


def _remind(sandbox, kind, query, body):
    sandbox.state.remind(_require(body, "msgid"))
    return {}


def _cancel(sandbox, kind, query, body):
    sandbox.state.cancel(_require(body, "msgid"))
    return {}


def _message_send(sandbox, kind, query, body):
    if kind != "agent":
        raise SandboxError(48002, "api forbidden for this secret")
    return sandbox.state.send_app_message(body)


def _getuserinfo(sandbox, kind, query, body):
    userid = sandbox.state.redeem_code(query.get("code", ""))
    return {"userid": userid, "user_ticket": ""}


def _getuserinfo_legacy(sandbox, kind, query, body):
    userid = sandbox.state.redeem_code(query.get("code", ""))
    return {"UserId": userid, "DeviceId": ""}


_API = {
    ("POST", "externalcontact/groupchat/list"): _groupchat_list,
    ("POST", "externalcontact/groupchat/get"): _groupchat_get,
    ("GET", "externalcontact/get"): _external_contact_get,
    ("POST", "externalcontact/add_msg_template"): _add_msg_template,
    ("POST", "externalcontact/get_groupmsg_task"): _groupmsg_task,
    ("POST", "externalcontact/get_groupmsg_send_result"): _groupmsg_send_result,
    ("POST", "externalcontact/remind_groupmsg_send"): _remind,
    ("POST", "externalcontact/cancel_groupmsg_send"): _cancel,
    ("POST", "message/send"): _message_send,
    ("GET", "auth/getuserinfo"): _getuserinfo,
    ("GET", "user/getuserinfo"): _getuserinfo_legacy,
}


def _agent_ticket(sandbox, kind, query, body):
    """ticket/get?type=agent_config: the ticket that signs wx.agentConfig (chat toolbar pages)."""
    if kind != "agent":
        raise SandboxError(48002, "api forbidden for this secret")
    if query.get("type") != "agent_config":
        raise SandboxError(40004, "invalid type")
    return {"ticket": sandbox.state.agent_jsapi_ticket, "expires_in": 7200}


_API[("GET", "ticket/get")] = _agent_ticket


# --- the control API -------------------------------------------------------------------

_GROUP_ACTION = re.compile(r"groups/(?P<chat_id>[^/]+)/(?P<action>rename|notice|owner|members|dismiss)")
_TASK_ACTION = re.compile(r"groupmsg/(?P<msgid>[^/]+)/(?P<action>confirm|refuse)")


def _control(sandbox: Sandbox, method: str, path: str, body: dict) -> tuple[int, dict]:
    state = sandbox.state
    if method == "GET":
        with state.lock:
            if path == "state":
                return 200, {
                    "corp_id": state.corp_id,
                    "agent_id": state.agent_id,
                    "token_ttl": state.token_ttl,
                    "group_monthly_limit": state.group_monthly_limit,
                    "single_daily_limit": state.single_daily_limit,
                    "token_requests": state.token_requests,
                    "staff": state.staff,
                    "contacts": list(state.contacts.values()),
                    "groups": [g.as_json(True) | {"dismissed": g.dismissed} for g in state.groups.values()],
                }
            if path == "messages":
                return 200, {"messages": list(state.app_messages)}
            if path == "groupmsg":
                return 200, {"tasks": [task.as_json() for task in state.tasks.values()]}
            if path == "callbacks":
                return 200, {"callbacks": list(state.callbacks)}
            if path == "calls":
                return 200, {"calls": list(state.calls)}
        return 404, {"error": "not found"}
    try:
        return _control_post(sandbox, path, body)
    except (KeyError, TypeError, ValueError) as exc:
        return 400, {"error": f"bad request: {type(exc).__name__} {exc}"}


def _control_post(sandbox: Sandbox, path: str, body: dict) -> tuple[int, dict]:
    state = sandbox.state
    if path == "reset":
        state.reset()
        return 200, {"ok": True}
    if path == "oauth/member":
        with state.lock:
            state.oauth_member = str(body.get("userid") or "")
        return 200, {"ok": True}
    if path == "config":
        with state.lock:
            if "token_ttl" in body:
                state.token_ttl = int(body["token_ttl"])
            if "group_monthly_limit" in body:
                state.group_monthly_limit = int(body["group_monthly_limit"])
            if "single_daily_limit" in body:
                state.single_daily_limit = int(body["single_daily_limit"])
        return 200, {"ok": True}
    if path == "callback":
        sandbox.set_callback(url=body.get("url", ""), token=body["token"], aes_key=body["aes_key"])
        return 200, {"ok": True}
    if path == "tokens/expire":
        return 200, {"expired": state.expire_tokens()}
    if path == "faults":
        state.add_fault(
            errcode=body.get("errcode"),
            http_status=body.get("http_status"),
            count=int(body.get("count", 1)),
            path=body.get("path", ""),
        )
        return 200, {"ok": True}
    if path == "staff":
        state.add_staff(body["userid"], body.get("name", ""))
        return 200, {"userid": body["userid"]}
    if path == "contacts":
        contact = state.add_contact(
            name=body["name"],
            follow_user=body.get("follow_user", []),
            external_userid=body.get("external_userid", ""),
            unionid=body.get("unionid", ""),
        )
        external_userid = contact["external_contact"]["external_userid"]
        for follow in contact["follow_user"]:
            sandbox.emit(
                "change_external_contact",
                {
                    "ChangeType": "add_external_contact",
                    "UserID": follow["userid"],
                    "ExternalUserID": external_userid,
                },
            )
        return 200, contact
    if path == "groups":
        group = state.create_group(
            name=body["name"],
            owner=body["owner"],
            members=body.get("members", []),
            notice=body.get("notice", ""),
            chat_id=body.get("chat_id", ""),
        )
        sandbox.emit_chat(group.chat_id, "create")
        with state.lock:
            return 200, group.as_json(True)
    if path == "oauth/code":
        return 200, {"code": state.issue_code(body["userid"])}
    if match := _GROUP_ACTION.fullmatch(path):
        return _group_action(sandbox, match["chat_id"], match["action"], body)
    if match := _TASK_ACTION.fullmatch(path):
        task = (
            state.confirm_task(match["msgid"])
            if match["action"] == "confirm"
            else state.refuse_task(match["msgid"])
        )
        with state.lock:
            return 200, task.as_json()
    return 404, {"error": "not found"}


def _group_action(sandbox: Sandbox, chat_id: str, action: str, body: dict) -> tuple[int, dict]:
    state = sandbox.state
    group = state.group(chat_id)
    if action == "rename":
        with state.lock:
            group.name = body["name"]
        sandbox.emit_chat(chat_id, "update", "change_name")
    elif action == "notice":
        with state.lock:
            group.notice = body["notice"]
        sandbox.emit_chat(chat_id, "update", "change_notice")
    elif action == "owner":
        if body["owner"] not in state.staff:
            raise SandboxError(INVALID_PARAMETER, "owner is not staff")
        with state.lock:
            group.owner = body["owner"]
            group.members.setdefault(body["owner"], state._member(body["owner"], now=int(time.time())))
        sandbox.emit_chat(chat_id, "update", "change_owner")
    elif action == "members":
        join_scene = int(body.get("join_scene", 1))
        added, removed = state.change_members(
            chat_id, add=body.get("add", []), remove=body.get("remove", []), join_scene=join_scene
        )
        if added:
            sandbox.emit_chat(
                chat_id,
                "update",
                "add_member",
                JoinScene=join_scene,
                MemChangeCnt=len(added),
                MemChangeList=added,
            )
        if removed:
            sandbox.emit_chat(
                chat_id,
                "update",
                "del_member",
                QuitScene=int(body.get("quit_scene", 0)),
                MemChangeCnt=len(removed),
                MemChangeList=removed,
            )
    elif action == "dismiss":
        with state.lock:
            group.dismissed = True
        sandbox.emit_chat(chat_id, "dismiss")
    with state.lock:
        return 200, group.as_json(True) | {"dismissed": group.dismissed}
