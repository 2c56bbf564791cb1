"""The sandbox's control API: what other tests build on behaves as documented."""

import pytest
import requests

from wecom.client import WeComClient, WeComError


def control(sandbox, path, payload=None, method="POST"):
    url = f"{sandbox.base_url}/sandbox/{path}"
    response = requests.request(method, url, json=payload if method == "POST" else None, timeout=5)
    return response


@pytest.fixture
def group(wecom_sandbox):
    control(wecom_sandbox, "staff", {"userid": "zhangsan", "name": "张三"})
    contact = control(
        wecom_sandbox,
        "contacts",
        {"name": "王客户", "follow_user": [{"userid": "zhangsan", "remark_mobiles": ["13800000001"]}]},
    ).json()
    external = contact["external_contact"]["external_userid"]
    return control(
        wecom_sandbox,
        "groups",
        {"name": "服务群", "owner": "zhangsan", "members": [{"userid": external, "join_scene": 3}]},
    ).json()


def test_a_dismissed_group_is_unknown_to_the_api(wecom_sandbox, group):
    client = WeComClient.contact(backoff=0.01)
    assert client.groupchat_get(group["chat_id"])["member_list"][1]["join_scene"] == 3
    assert control(wecom_sandbox, f"groups/{group['chat_id']}/dismiss").status_code == 200
    with pytest.raises(WeComError) as excinfo:
        client.groupchat_get(group["chat_id"])
    assert excinfo.value.errcode == 40050
    assert list(client.iter_groupchats()) == []


def test_a_refused_broadcast_stays_unsent_and_can_be_cancelled(wecom_sandbox, group):
    client = WeComClient.contact(backoff=0.01)
    msgid = client.add_msg_template(sender="zhangsan", chat_ids=[group["chat_id"]], text="通知")["msgid"]
    assert control(wecom_sandbox, f"groupmsg/{msgid}/refuse").status_code == 200
    assert [t["status"] for t in client.iter_groupmsg_tasks(msgid)] == [0]
    # The owner cannot send it any more.
    answer = control(wecom_sandbox, f"groupmsg/{msgid}/confirm").json()
    assert answer["errcode"] == 40058
    client.cancel_groupmsg_send(msgid)
    tasks = control(wecom_sandbox, "groupmsg", method="GET").json()["tasks"]
    assert tasks[0]["refused"] and tasks[0]["cancelled"]


def test_a_broadcast_from_someone_not_owning_the_groups_is_refused(wecom_sandbox, group):
    control(wecom_sandbox, "staff", {"userid": "lisi"})
    with pytest.raises(WeComError) as excinfo:
        WeComClient.contact(backoff=0.01).add_msg_template(
            sender="lisi", chat_ids=[group["chat_id"]], text="x"
        )
    assert excinfo.value.errcode == 40050


def test_a_one_to_one_broadcast_reaches_the_senders_contacts_once_a_day(wecom_sandbox, group):
    client = WeComClient.contact(backoff=0.01)
    mine = control(wecom_sandbox, "state", method="GET").json()["contacts"][0]["external_contact"][
        "external_userid"
    ]
    created = client.add_msg_template(
        sender="zhangsan", external_userids=[mine, "wmStranger"], text="明日停电"
    )
    assert created["fail_list"] == ["wmStranger"]
    again = client.add_msg_template(sender="zhangsan", external_userids=[mine], text="再次通知")
    [task] = [
        t
        for t in control(wecom_sandbox, "groupmsg", method="GET").json()["tasks"]
        if t["msgid"] == created["msgid"]
    ]
    assert (task["chat_type"], task["external_userid"], task["chat_id_list"]) == ("single", [mine], [])

    for msgid in (created["msgid"], again["msgid"]):
        assert control(wecom_sandbox, f"groupmsg/{msgid}/confirm").status_code == 200

    first = list(client.iter_groupmsg_send_results(created["msgid"], "zhangsan"))
    second = list(client.iter_groupmsg_send_results(again["msgid"], "zhangsan"))
    assert [(row["external_userid"], row["status"]) for row in first] == [(mine, 1)]
    # One one-to-one 群发 per contact a day: the second is reported as "received another".
    assert [(row["external_userid"], row["status"]) for row in second] == [(mine, 3)]
    with pytest.raises(WeComError) as excinfo:
        client.add_msg_template(sender="zhangsan", external_userids=["wmStranger"], text="x")
    assert excinfo.value.errcode == 84061


def test_members_come_and_go_with_callbacks_recorded(wecom_sandbox, group):
    chat_id = group["chat_id"]
    control(wecom_sandbox, f"groups/{chat_id}/members", {"add": ["wmNew"], "remove": []})
    control(wecom_sandbox, f"groups/{chat_id}/owner", {"owner": "zhangsan"})
    callbacks = control(wecom_sandbox, "callbacks", method="GET").json()["callbacks"]
    assert [(c["event"], c["fields"].get("UpdateDetail")) for c in callbacks] == [
        ("change_external_contact", None),
        ("change_external_chat", None),
        ("change_external_chat", "add_member"),
        ("change_external_chat", "change_owner"),
    ]
    members = WeComClient.contact(backoff=0.01).groupchat_get(chat_id)["member_list"]
    assert {m["userid"] for m in members} >= {"zhangsan", "wmNew"}


def test_bad_control_requests_are_400_not_a_crash(wecom_sandbox):
    assert control(wecom_sandbox, "groups", {"name": "no owner"}).status_code == 400
    assert control(wecom_sandbox, "nowhere").status_code == 404


def test_malformed_api_fields_get_wecoms_invalid_parameter(wecom_sandbox, group):
    client = WeComClient.contact(backoff=0.01)
    with pytest.raises(WeComError) as excinfo:
        client.post("externalcontact/groupchat/list", {"limit": "many"})
    assert excinfo.value.errcode == 40058
