"""The sandbox's memory: one corporation's staff, contacts, groups, 群发 tasks and tokens.

Every method takes the state's lock, so the threaded server may call them from
any request thread. Times are Unix seconds, as WeCom's JSON has them.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, field

# WeCom's error codes, as its server API answers them.
OK = 0
SYSTEM_BUSY = -1
INVALID_CREDENTIAL = 40001
INVALID_ACCESS_TOKEN = 40014
INVALID_CODE = 40029
INVALID_CHAT_ID = 40050
INVALID_AGENT_ID = 40056
INVALID_PARAMETER = 40058
ACCESS_TOKEN_EXPIRED = 42001
API_FREQ_OUT_OF_LIMIT = 45009
INVALID_USERID = 60111
ALL_RECEIVERS_INVALID = 81013
NOT_EXTERNAL_CONTACT = 84061
# WeCom documents "at most three reminders per 群发 in 24 hours" without naming the
# code it answers past that; the sandbox answers this one (the client treats it as
# permanent, like any code that is not a rate limit).
REMIND_LIMIT_REACHED = 41063

ERRMSG = {
    OK: "ok",
    SYSTEM_BUSY: "system busy",
    INVALID_CREDENTIAL: "invalid credential",
    INVALID_ACCESS_TOKEN: "invalid access_token",
    INVALID_CODE: "invalid code",
    INVALID_CHAT_ID: "invalid group id",
    INVALID_AGENT_ID: "invalid agentid",
    INVALID_PARAMETER: "invalid parameter",
    ACCESS_TOKEN_EXPIRED: "access_token expired",
    API_FREQ_OUT_OF_LIMIT: "api freq out of limit",
    INVALID_USERID: "invalid userid",
    ALL_RECEIVERS_INVALID: "user & party & tag all invalid",
    NOT_EXTERNAL_CONTACT: "not external contact",
    REMIND_LIMIT_REACHED: "remind times out of limit",
}

STAFF, EXTERNAL = 1, 2
# get_groupmsg_task statuses and get_groupmsg_send_result statuses.
TASK_UNSENT, TASK_SENT = 0, 2
SEND_UNSENT, SEND_SENT, SEND_NOT_FRIEND, SEND_RECEIVED_OTHER = 0, 1, 2, 3
REMINDS_PER_DAY = 3


class SandboxError(Exception):
    def __init__(self, errcode: int, errmsg: str = ""):
        super().__init__(errmsg or ERRMSG.get(errcode, "error"))
        self.errcode = errcode
        self.errmsg = errmsg or ERRMSG.get(errcode, "error")
        # Fields WeCom adds to an error answer (invaliduser ...).
        self.extra: dict = {}


def _id(prefix: str) -> str:
    return prefix + secrets.token_hex(8)


@dataclass
class Member:
    userid: str
    type: int
    join_time: int
    join_scene: int = 1
    unionid: str = ""
    group_nickname: str = ""
    name: str = ""
    invitor: str = ""

    def as_json(self, need_name: bool) -> dict:
        data = {
            "userid": self.userid,
            "type": self.type,
            "join_time": self.join_time,
            "join_scene": self.join_scene,
            "group_nickname": self.group_nickname,
        }
        if self.type == EXTERNAL and self.unionid:
            data["unionid"] = self.unionid
        if self.invitor:
            data["invitor"] = {"userid": self.invitor}
        if need_name:
            data["name"] = self.name
        return data


@dataclass
class Group:
    chat_id: str
    name: str
    owner: str
    notice: str = ""
    create_time: int = 0
    members: dict[str, Member] = field(default_factory=dict)
    dismissed: bool = False
    # Posts received per month ("YYYY-MM" → count), against the monthly limit.
    received: dict[str, int] = field(default_factory=dict)

    def as_json(self, need_name: bool) -> dict:
        return {
            "chat_id": self.chat_id,
            "name": self.name,
            "owner": self.owner,
            "create_time": self.create_time,
            "notice": self.notice,
            "member_list": [member.as_json(need_name) for member in self.members.values()],
            "admin_list": [],
        }


@dataclass
class GroupMsgTask:
    msgid: str
    sender: str
    chat_ids: list[str]
    text: str
    attachments: list
    create_time: int
    # "group": chat_ids are customer groups; "single": external_userids are contacts, one-to-one.
    chat_type: str = "group"
    external_userids: list[str] = field(default_factory=list)
    status: int = TASK_UNSENT
    send_time: int = 0
    refused: bool = False
    cancelled: bool = False
    # chat_id (group) or external_userid (single) → (status, send_time)
    results: dict[str, tuple[int, int]] = field(default_factory=dict)
    reminds: list[float] = field(default_factory=list)

    def as_json(self) -> dict:
        return {
            "msgid": self.msgid,
            "chat_type": self.chat_type,
            "sender": self.sender,
            "chat_id_list": self.chat_ids,
            "external_userid": self.external_userids,
            "text": self.text,
            "attachments": self.attachments,
            "create_time": self.create_time,
            "status": self.status,
            "send_time": self.send_time,
            "refused": self.refused,
            "cancelled": self.cancelled,
            "reminds": len(self.reminds),
            "results": [
                {self.target_key: target, "status": status, "send_time": sent}
                for target, (status, sent) in self.results.items()
            ],
        }

    @property
    def target_key(self) -> str:
        return "external_userid" if self.chat_type == "single" else "chat_id"


@dataclass
class Fault:
    errcode: int | None
    http_status: int | None
    remaining: int
    path: str = ""


class SandboxState:
    def __init__(
        self,
        *,
        corp_id: str = "wwsandboxcorp",
        agent_id: str = "1000002",
        agent_secret: str = "sandbox-agent-secret",
        contact_secret: str = "sandbox-contact-secret",
        token_ttl: int = 7200,
        group_monthly_limit: int = 4,
        single_daily_limit: int = 1,
    ):
        self.lock = threading.RLock()
        self.corp_id = corp_id
        self.agent_id = agent_id
        self.secrets = {"agent": agent_secret, "contact": contact_secret}
        self.token_ttl = token_ttl
        self.group_monthly_limit = group_monthly_limit
        # One-to-one 群发 a customer may receive from the corporation per day.
        self.single_daily_limit = single_daily_limit
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.tokens: dict[str, tuple[str, float]] = {}
            self.current_token: dict[str, str] = {}
            self.staff: dict[str, str] = {}
            self.contacts: dict[str, dict] = {}
            self.groups: dict[str, Group] = {}
            self.tasks: dict[str, GroupMsgTask] = {}
            # (external_userid, "YYYY-MM-DD") → one-to-one 群发 received that day.
            self.single_received: dict[tuple[str, str], int] = {}
            self.app_messages: list[dict] = []
            self.oauth_codes: dict[str, str] = {}
            # The member signed in to the WeCom app, whom the OAuth2 page sends back silently.
            self.oauth_member = ""
            self.faults: list[Fault] = []
            self.calls: list[str] = []
            self.token_requests = 0
            self.callback: dict | None = None
            self.callbacks: list[dict] = []

    # --- tokens and faults --------------------------------------------------

    def get_token(self, corpid: str, corpsecret: str) -> dict:
        with self.lock:
            self.token_requests += 1
            kind = next((kind for kind, secret in self.secrets.items() if secret == corpsecret), None)
            if corpid != self.corp_id or kind is None:
                raise SandboxError(INVALID_CREDENTIAL, "invalid corpid or corpsecret")
            now = time.time()
            token = self.current_token.get(kind)
            # Like WeCom: the same token again while it is valid.
            if not token or self.tokens.get(token, ("", 0))[1] <= now:
                token = secrets.token_urlsafe(32)
                self.tokens[token] = (kind, now + self.token_ttl)
                self.current_token[kind] = token
            return {"access_token": token, "expires_in": int(self.tokens[token][1] - now)}

    def check_token(self, token: str) -> str:
        with self.lock:
            kind, expires_at = self.tokens.get(token or "", ("", 0))
            if not kind:
                raise SandboxError(INVALID_ACCESS_TOKEN)
            if expires_at <= time.time():
                raise SandboxError(ACCESS_TOKEN_EXPIRED)
            return kind

    def expire_tokens(self) -> int:
        with self.lock:
            for token, (kind, _expires) in list(self.tokens.items()):
                self.tokens[token] = (kind, 0)
            return len(self.tokens)

    def add_fault(
        self, *, errcode: int | None = None, http_status: int | None = None, count: int = 1, path: str = ""
    ) -> None:
        with self.lock:
            self.faults.append(Fault(errcode=errcode, http_status=http_status, remaining=count, path=path))

    def take_fault(self, path: str) -> Fault | None:
        with self.lock:
            self.calls.append(path)
            for fault in self.faults:
                if fault.remaining > 0 and (not fault.path or fault.path == path):
                    fault.remaining -= 1
                    return fault
            return None

    # --- people ---------------------------------------------------------------

    def add_staff(self, userid: str, name: str = "") -> None:
        with self.lock:
            self.staff[userid] = name or userid

    def add_contact(
        self, *, name: str, follow_user: list[dict], external_userid: str = "", unionid: str = ""
    ) -> dict:
        with self.lock:
            external_userid = external_userid or _id("wm")
            now = int(time.time())
            follows = []
            for follow in follow_user:
                if follow.get("userid") not in self.staff:
                    raise SandboxError(INVALID_USERID, f"unknown staff userid {follow.get('userid')!r}")
                follows.append(
                    {
                        "userid": follow["userid"],
                        "remark": follow.get("remark", ""),
                        "description": follow.get("description", ""),
                        "createtime": follow.get("createtime", now),
                        "remark_mobiles": list(follow.get("remark_mobiles", [])),
                        "add_way": follow.get("add_way", 1),
                    }
                )
            self.contacts[external_userid] = {
                "external_contact": {
                    "external_userid": external_userid,
                    "name": name,
                    "type": 1,
                    "gender": 0,
                    "unionid": unionid,
                },
                "follow_user": follows,
            }
            return self.contacts[external_userid]

    def external_contact(self, external_userid: str) -> dict:
        with self.lock:
            contact = self.contacts.get(external_userid)
            if contact is None:
                raise SandboxError(NOT_EXTERNAL_CONTACT)
            return contact

    def member_type(self, userid: str) -> int:
        return STAFF if userid in self.staff else EXTERNAL

    def _member(self, spec, *, now: int, join_scene: int = 1) -> Member:
        spec = {"userid": spec} if isinstance(spec, str) else dict(spec)
        userid = spec["userid"]
        kind = int(spec.get("type") or self.member_type(userid))
        name = spec.get("name") or (
            self.staff.get(userid)
            if kind == STAFF
            else self.contacts.get(userid, {}).get("external_contact", {}).get("name", "")
        )
        return Member(
            userid=userid,
            type=kind,
            join_time=int(spec.get("join_time") or now),
            join_scene=int(spec.get("join_scene") or join_scene),
            unionid=spec.get("unionid")
            or self.contacts.get(userid, {}).get("external_contact", {}).get("unionid", ""),
            group_nickname=spec.get("group_nickname", ""),
            name=name or "",
            invitor=spec.get("invitor", ""),
        )

    # --- groups -----------------------------------------------------------------

    def create_group(
        self, *, name: str, owner: str, members: list, notice: str = "", chat_id: str = ""
    ) -> Group:
        with self.lock:
            if owner not in self.staff:
                raise SandboxError(INVALID_USERID, f"owner {owner!r} is not staff")
            now = int(time.time())
            group = Group(
                chat_id=chat_id or _id("wr"), name=name, owner=owner, notice=notice, create_time=now
            )
            group.members[owner] = self._member(owner, now=now)
            for spec in members:
                member = self._member(spec, now=now)
                group.members[member.userid] = member
            self.groups[group.chat_id] = group
            return group

    def group(self, chat_id: str, *, live: bool = True) -> Group:
        with self.lock:
            group = self.groups.get(chat_id)
            if group is None or (live and group.dismissed):
                raise SandboxError(INVALID_CHAT_ID)
            return group

    def change_members(
        self, chat_id: str, *, add: list, remove: list[str], join_scene: int = 1
    ) -> tuple[list[str], list[str]]:
        with self.lock:
            group = self.group(chat_id)
            now = int(time.time())
            added, removed = [], []
            for spec in add:
                member = self._member(spec, now=now, join_scene=join_scene)
                if member.userid not in group.members:
                    group.members[member.userid] = member
                    added.append(member.userid)
            for userid in remove:
                if userid != group.owner and group.members.pop(userid, None):
                    removed.append(userid)
            return added, removed

    def list_groups(self, *, status_filter: int, owners: list[str], cursor: str, limit: int) -> dict:
        with self.lock:
            if not 1 <= limit <= 1000:
                raise SandboxError(INVALID_PARAMETER, "limit must be 1..1000")
            chats = [g for g in self.groups.values() if not g.dismissed and (not owners or g.owner in owners)]
            try:
                start = int(cursor) if cursor else 0
            except ValueError:
                raise SandboxError(INVALID_PARAMETER, "invalid cursor") from None
            page = chats[start : start + limit]
            data = {"group_chat_list": [{"chat_id": g.chat_id, "status": 0} for g in page]}
            if start + limit < len(chats):
                data["next_cursor"] = str(start + limit)
            return data

    # --- 群发 -------------------------------------------------------------------

    def add_msg_template(
        self,
        *,
        sender: str,
        chat_ids: list[str],
        text: str,
        attachments: list,
        chat_type: str = "group",
        external_userids: list[str] | None = None,
    ) -> dict:
        with self.lock:
            if sender not in self.staff:
                raise SandboxError(INVALID_USERID, "sender is not staff")
            if not text and not attachments:
                raise SandboxError(INVALID_PARAMETER, "text or attachments required")
            if chat_type == "single":
                wanted = list(external_userids or [])
                followed = [
                    external_userid
                    for external_userid, contact in self.contacts.items()
                    if any(follow["userid"] == sender for follow in contact["follow_user"])
                ]
                targets = [userid for userid in wanted if userid in followed] if wanted else followed
                fail_list = [userid for userid in wanted if userid not in followed]
                if not targets:
                    raise SandboxError(
                        NOT_EXTERNAL_CONTACT, "no external contact of the sender's in external_userid"
                    )
            else:
                owned = [g.chat_id for g in self.groups.values() if g.owner == sender and not g.dismissed]
                targets = [chat_id for chat_id in chat_ids if chat_id in owned] if chat_ids else owned
                fail_list = [chat_id for chat_id in chat_ids if chat_id not in owned]
                if not targets:
                    raise SandboxError(INVALID_CHAT_ID, "no group of the sender's in chat_id_list")
            task = GroupMsgTask(
                msgid=_id("msg"),
                sender=sender,
                chat_ids=targets if chat_type != "single" else [],
                text=text,
                attachments=attachments,
                create_time=int(time.time()),
                chat_type=chat_type,
                external_userids=targets if chat_type == "single" else [],
                results={target: (SEND_UNSENT, 0) for target in targets},
            )
            self.tasks[task.msgid] = task
            return {"msgid": task.msgid, "fail_list": fail_list}

    def task(self, msgid: str) -> GroupMsgTask:
        with self.lock:
            task = self.tasks.get(msgid)
            if task is None:
                raise SandboxError(INVALID_PARAMETER, "invalid msgid")
            return task

    def confirm_task(self, msgid: str) -> GroupMsgTask:
        """The sender presses 发送 in WeCom: each group (or contact) gets it, unless over its limit."""
        with self.lock:
            task = self.task(msgid)
            if task.cancelled or task.refused or task.status == TASK_SENT:
                raise SandboxError(INVALID_PARAMETER, "task cannot be sent any more")
            now = int(time.time())
            if task.chat_type == "single":
                self._confirm_single(task, now)
            else:
                self._confirm_group(task, now)
            task.status, task.send_time = TASK_SENT, now
            return task

    def _confirm_group(self, task: GroupMsgTask, now: int) -> None:
        month = time.strftime("%Y-%m", time.localtime(now))
        for chat_id in task.chat_ids:
            group = self.groups.get(chat_id)
            if group is None or group.dismissed:
                task.results[chat_id] = (SEND_UNSENT, 0)
            elif group.received.get(month, 0) >= self.group_monthly_limit:
                task.results[chat_id] = (SEND_RECEIVED_OTHER, 0)
            else:
                group.received[month] = group.received.get(month, 0) + 1
                task.results[chat_id] = (SEND_SENT, now)

    def _confirm_single(self, task: GroupMsgTask, now: int) -> None:
        """Each contact gets it, unless no longer the sender's contact or over the daily limit."""
        day = time.strftime("%Y-%m-%d", time.localtime(now))
        for external_userid in task.external_userids:
            contact = self.contacts.get(external_userid)
            key = (external_userid, day)
            if contact is None or not any(f["userid"] == task.sender for f in contact["follow_user"]):
                task.results[external_userid] = (SEND_NOT_FRIEND, 0)
            elif self.single_received.get(key, 0) >= self.single_daily_limit:
                task.results[external_userid] = (SEND_RECEIVED_OTHER, 0)
            else:
                self.single_received[key] = self.single_received.get(key, 0) + 1
                task.results[external_userid] = (SEND_SENT, now)

    def refuse_task(self, msgid: str) -> GroupMsgTask:
        with self.lock:
            task = self.task(msgid)
            if task.status == TASK_SENT:
                raise SandboxError(INVALID_PARAMETER, "task already sent")
            task.refused = True
            return task

    def remind(self, msgid: str) -> None:
        with self.lock:
            task = self.task(msgid)
            now = time.time()
            task.reminds = [at for at in task.reminds if at > now - 24 * 3600]
            if len(task.reminds) >= REMINDS_PER_DAY:
                raise SandboxError(REMIND_LIMIT_REACHED)
            task.reminds.append(now)

    def cancel(self, msgid: str) -> None:
        with self.lock:
            task = self.task(msgid)
            if task.status == TASK_SENT:
                raise SandboxError(INVALID_PARAMETER, "task already sent")
            task.cancelled = True

    # --- app messages and OAuth -------------------------------------------------

    def send_app_message(self, payload: dict) -> dict:
        with self.lock:
            if str(payload.get("agentid")) != str(self.agent_id):
                raise SandboxError(INVALID_AGENT_ID)
            if payload.get("msgtype") != "textcard" or not isinstance(payload.get("textcard"), dict):
                raise SandboxError(INVALID_PARAMETER, "msgtype textcard with a textcard object expected")
            card = payload["textcard"]
            if not card.get("title") or not card.get("description") or not card.get("url"):
                raise SandboxError(INVALID_PARAMETER, "textcard needs title, description and url")
            users = [userid for userid in str(payload.get("touser", "")).split("|") if userid]
            valid = [userid for userid in users if userid in self.staff]
            invalid = [userid for userid in users if userid not in self.staff]
            if not valid:
                raise AllReceiversInvalid(invalid)
            msgid = _id("app")
            now = time.time()
            interval = int(payload.get("duplicate_check_interval") or 1800)
            for userid in valid:
                if payload.get("enable_duplicate_check") and any(
                    m["touser"] == userid and m["textcard"] == card and m["at"] > now - interval
                    for m in self.app_messages
                ):
                    continue  # WeCom's duplicate check: the same card again is dropped
                self.app_messages.append(
                    {
                        "msgid": msgid,
                        "touser": userid,
                        "msgtype": "textcard",
                        "textcard": dict(card),
                        "at": time.time(),
                    }
                )
            return {"invaliduser": "|".join(invalid), "invalidparty": "", "invalidtag": "", "msgid": msgid}

    @property
    def agent_jsapi_ticket(self) -> str:
        """One ticket per sandbox, as WeCom hands out the same one while it is valid."""
        with self.lock:
            if not getattr(self, "_agent_ticket", ""):
                self._agent_ticket = secrets.token_hex(16)
            return self._agent_ticket

    def issue_code(self, userid: str) -> str:
        with self.lock:
            code = secrets.token_hex(16)
            self.oauth_codes[code] = userid
            return code

    def redeem_code(self, code: str) -> str:
        with self.lock:
            userid = self.oauth_codes.pop(code or "", None)
            if userid is None:
                raise SandboxError(INVALID_CODE)
            return userid


class AllReceiversInvalid(SandboxError):
    def __init__(self, invalid: list[str]):
        super().__init__(ALL_RECEIVERS_INVALID)
        self.extra = {"invaliduser": "|".join(invalid)}
