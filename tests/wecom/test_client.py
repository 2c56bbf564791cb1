"""The WeCom client against the sandbox: tokens, retries, errcodes, every endpoint."""

import time

import pytest
import requests
from django.core.cache import cache

from core.logfilters import MaskMobileNumbers
from wecom.client import (
    WeComClient,
    WeComError,
    WeComNotConfigured,
    WeComTransientError,
    token_cache_key,
)


def control(sandbox, path, payload=None):
    response = requests.post(f"{sandbox.base_url}/sandbox/{path}", json=payload or {}, timeout=5)
    assert response.status_code == 200, response.text
    return response.json()


def fast(kind="contact", **kwargs):
    return WeComClient(kind, backoff=0.01, **kwargs)


@pytest.fixture
def seeded(wecom_sandbox):
    state = wecom_sandbox.state
    state.add_staff("zhangsan", "张三")
    state.add_staff("lisi", "李四")
    contact = state.add_contact(
        name="王客户",
        follow_user=[{"userid": "zhangsan", "remark": "王总", "remark_mobiles": ["13800000001"]}],
    )
    group = state.create_group(
        name="雷山供电服务群",
        owner="zhangsan",
        members=["lisi", contact["external_contact"]["external_userid"]],
    )
    return {"contact": contact, "group": group}


def test_it_caches_the_token_in_the_shared_cache(wecom_sandbox, seeded):
    client = fast()
    client.groupchat_get(seeded["group"].chat_id)
    client.groupchat_get(seeded["group"].chat_id)
    WeComClient.contact().groupchat_get(seeded["group"].chat_id)
    assert wecom_sandbox.state.token_requests == 1
    state = client.token_state()
    assert state.cached and state.expires_at > time.time()
    # One token per secret kind.
    assert cache.get(token_cache_key("contact")) != cache.get(token_cache_key("agent"))


def test_it_refreshes_before_expiry(wecom_sandbox, seeded):
    wecom_sandbox.state.token_ttl = 2  # refreshed a fifth of its life early: cached for 2 - 0 s
    client = fast()
    client.groupchat_get(seeded["group"].chat_id)
    time.sleep(2.1)
    client.groupchat_get(seeded["group"].chat_id)
    assert wecom_sandbox.state.token_requests == 2


def test_a_token_wecom_expired_early_is_replaced_once(wecom_sandbox, seeded):
    client = fast()
    client.groupchat_get(seeded["group"].chat_id)
    control(wecom_sandbox, "tokens/expire")
    chat = client.groupchat_get(seeded["group"].chat_id)
    assert chat["name"] == "雷山供电服务群"
    assert wecom_sandbox.state.token_requests == 2


def test_a_token_refused_twice_is_an_error_not_a_loop(wecom_sandbox, seeded):
    client = fast()
    client.access_token()
    control(wecom_sandbox, "faults", {"errcode": 40014, "count": 5, "path": "externalcontact/groupchat/get"})
    with pytest.raises(WeComError) as excinfo:
        client.groupchat_get(seeded["group"].chat_id)
    assert excinfo.value.errcode == 40014
    assert wecom_sandbox.state.token_requests == 2


def test_rate_limits_are_retried_with_backoff(wecom_sandbox, seeded):
    control(wecom_sandbox, "faults", {"errcode": 45009, "count": 2, "path": "externalcontact/groupchat/get"})
    chat = fast().groupchat_get(seeded["group"].chat_id)
    assert chat["owner"] == "zhangsan"
    assert wecom_sandbox.state.calls.count("externalcontact/groupchat/get") == 3


def test_retries_are_bounded_and_end_transient(wecom_sandbox, seeded):
    control(wecom_sandbox, "faults", {"errcode": -1, "count": 10, "path": "externalcontact/groupchat/get"})
    with pytest.raises(WeComTransientError) as excinfo:
        fast(max_attempts=3).groupchat_get(seeded["group"].chat_id)
    assert excinfo.value.errcode == -1
    assert wecom_sandbox.state.calls.count("externalcontact/groupchat/get") == 3


def test_server_errors_are_transient(wecom_sandbox, seeded):
    control(
        wecom_sandbox, "faults", {"http_status": 502, "count": 1, "path": "externalcontact/groupchat/get"}
    )
    assert fast().groupchat_get(seeded["group"].chat_id)["chat_id"] == seeded["group"].chat_id


def test_an_unreachable_wecom_is_transient(settings, wecom_sandbox):
    settings.WECOM_API_BASE = "http://127.0.0.1:1/cgi-bin"
    with pytest.raises(WeComTransientError):
        fast(max_attempts=2).access_token()


def test_permanent_errors_carry_the_errcode(wecom_sandbox, seeded):
    with pytest.raises(WeComError) as excinfo:
        fast().groupchat_get("wr-no-such-chat")
    assert excinfo.value.errcode == 40050
    assert wecom_sandbox.state.calls.count("externalcontact/groupchat/get") == 1


def test_a_wrong_secret_is_a_permanent_error(settings, wecom_sandbox):
    settings.WECOM_CONTACT_SECRET = "wrong"
    with pytest.raises(WeComError) as excinfo:
        fast().access_token()
    assert excinfo.value.errcode == 40001


def test_not_configured_is_said_before_any_call(settings, wecom_sandbox):
    settings.WECOM_CORP_ID = ""
    with pytest.raises(WeComNotConfigured):
        fast().groupchat_list()
    settings.WECOM_CORP_ID = wecom_sandbox.state.corp_id
    settings.WECOM_AGENT_SECRET = ""
    assert not WeComClient.agent().configured
    assert WeComClient.contact().configured
    assert wecom_sandbox.state.calls == []


def test_no_secret_or_token_reaches_the_log(wecom_sandbox, seeded, caplog):
    caplog.set_level("DEBUG")
    control(wecom_sandbox, "faults", {"errcode": 45009, "count": 2, "path": "externalcontact/groupchat/get"})
    client = fast(max_attempts=2)
    with pytest.raises(WeComTransientError):
        client.groupchat_get(seeded["group"].chat_id)
    client.groupchat_get(seeded["group"].chat_id)
    token = cache.get(token_cache_key("contact"))["access_token"]
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("wecom"))
    assert "busy (errcode 45009)" in ours
    assert token not in ours and "sandbox-contact-secret" not in ours
    # urllib3 logs request URLs at DEBUG: the console filter masks their credentials.
    console_filter = MaskMobileNumbers()
    library = [r for r in caplog.records if r.name.startswith("urllib3")]
    for record in library:
        console_filter.filter(record)
        assert token not in record.getMessage() and "sandbox-contact-secret" not in record.getMessage()
    assert any("access_token=***" in r.getMessage() for r in library)


def test_group_list_follows_the_cursor(wecom_sandbox, seeded):
    for number in range(4):
        wecom_sandbox.state.create_group(name=f"群{number}", owner="lisi", members=[])
    client = fast()
    first = client.groupchat_list(limit=2)
    assert len(first["group_chat_list"]) == 2 and first["next_cursor"]
    wecom_sandbox.state.groups[seeded["group"].chat_id].dismissed = True
    chats = list(client.iter_groupchats())
    assert len(chats) == 4
    assert [c["chat_id"] for c in client.iter_groupchats(owner_userids=["zhangsan"])] == []


def test_group_detail_names_staff_and_external_members(wecom_sandbox, seeded):
    chat = fast().groupchat_get(seeded["group"].chat_id)
    types = {member["userid"]: member["type"] for member in chat["member_list"]}
    external = seeded["contact"]["external_contact"]["external_userid"]
    assert types == {"zhangsan": 1, "lisi": 1, external: 2}
    assert {member["name"] for member in chat["member_list"]} == {"张三", "李四", "王客户"}
    assert all(member["join_time"] for member in chat["member_list"])


def test_external_contact_shows_remark_mobiles(wecom_sandbox, seeded):
    external = seeded["contact"]["external_contact"]["external_userid"]
    contact = fast().external_contact_get(external)
    assert contact["follow_user"][0]["remark_mobiles"] == ["13800000001"]
    with pytest.raises(WeComError) as excinfo:
        fast().external_contact_get("wm-unknown")
    assert excinfo.value.errcode == 84061


def test_group_broadcast_stays_unsent_until_the_owner_confirms(wecom_sandbox, seeded):
    client = fast()
    chat_id = seeded["group"].chat_id
    created = client.add_msg_template(sender="zhangsan", chat_ids=[chat_id, "wr-other"], text="明日停电通知")
    assert created["msgid"] and created["fail_list"] == ["wr-other"]
    msgid = created["msgid"]
    assert list(client.iter_groupmsg_tasks(msgid)) == [{"userid": "zhangsan", "status": 0, "send_time": 0}]
    assert [row["status"] for row in client.iter_groupmsg_send_results(msgid, "zhangsan")] == [0]
    for _ in range(3):
        client.remind_groupmsg_send(msgid)
    with pytest.raises(WeComError):
        client.remind_groupmsg_send(msgid)
    control(wecom_sandbox, f"groupmsg/{msgid}/confirm")
    assert [task["status"] for task in client.iter_groupmsg_tasks(msgid)] == [2]
    results = list(client.iter_groupmsg_send_results(msgid, "zhangsan"))
    assert results[0]["chat_id"] == chat_id and results[0]["status"] == 1 and results[0]["send_time"]
    with pytest.raises(WeComError):
        client.cancel_groupmsg_send(msgid)


def test_a_group_over_its_monthly_limit_does_not_receive(wecom_sandbox, seeded):
    control(wecom_sandbox, "config", {"group_monthly_limit": 1})
    client, chat_id = fast(), seeded["group"].chat_id
    first = client.add_msg_template(sender="zhangsan", chat_ids=[chat_id], text="一")["msgid"]
    second = client.add_msg_template(sender="zhangsan", chat_ids=[chat_id], text="二")["msgid"]
    control(wecom_sandbox, f"groupmsg/{first}/confirm")
    control(wecom_sandbox, f"groupmsg/{second}/confirm")
    assert [r["status"] for r in client.iter_groupmsg_send_results(second, "zhangsan")] == [3]


def test_app_message_reaches_known_users_and_names_unknown_ones(wecom_sandbox, seeded):
    client = WeComClient.agent(backoff=0.01)
    answer = client.send_textcard(
        userids=["zhangsan", "ghost"],
        title="工单即将超时",
        description="请处理",
        url="http://crm/t/1",
        btntxt="详情",
    )
    assert answer["invaliduser"] == "ghost"
    messages = requests.get(f"{wecom_sandbox.base_url}/sandbox/messages", timeout=5).json()["messages"]
    assert [(m["touser"], m["textcard"]["title"]) for m in messages] == [("zhangsan", "工单即将超时")]
    with pytest.raises(WeComError) as excinfo:
        client.send_textcard(userids=["ghost"], title="t", description="d", url="http://crm/")
    assert excinfo.value.errcode == 81013


def test_oauth_code_gives_the_userid_once(wecom_sandbox, seeded):
    client = WeComClient.agent(backoff=0.01)
    url = client.oauth_authorize_url(redirect_uri="http://crm/wecom/login/", state="abc")
    assert url.startswith("https://open.weixin.qq.com/connect/oauth2/authorize?appid=wwsandboxcorp&")
    assert url.endswith("&agentid=1000002#wechat_redirect") and "scope=snsapi_base" in url
    code = control(wecom_sandbox, "oauth/code", {"userid": "zhangsan"})["code"]
    assert client.oauth_userid(code) == "zhangsan"
    with pytest.raises(WeComError) as excinfo:
        client.oauth_userid(code)
    assert excinfo.value.errcode == 40029
