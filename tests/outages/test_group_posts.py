"""A fault outage's notice to a WeCom-linked district group becomes a 企业群发 task that
turns 已发送 when the owner confirms it in WeCom (the sandbox)."""

import requests

from groups.models import GroupPost, GroupPostState
from groups.services.posts import post_states_poll, post_tasks_create
from outages import services
from outages.models import OutageBroadcast


def test_outage_notice_to_a_wecom_group_is_sent_when_the_owner_confirms(
    manager, grid, populate, fault, district_group, wecom_sandbox
):
    sandbox = wecom_sandbox.base_url
    manager.wecom_userid = "zhangsan"
    manager.save(update_fields=["wecom_userid"])
    requests.post(f"{sandbox}/sandbox/staff", json={"userid": "zhangsan"}, timeout=5)
    chat = requests.post(
        f"{sandbox}/sandbox/groups",
        json={"name": district_group.name, "owner": "zhangsan", "members": ["zhangsan"]},
        timeout=5,
    ).json()
    district_group.external_id = chat["chat_id"]
    district_group.save(update_fields=["external_id"])
    populate(grid["d1"], 5)
    outage = services.outage_publish(outage=fault())
    assert services.fan_out_due() == 1

    broadcast_id = OutageBroadcast.objects.get(notice__outage=outage, group=district_group).broadcast_id
    post = GroupPost.objects.get(broadcast_id=broadcast_id, group=district_group)
    assert post.state == GroupPostState.QUEUED
    post_tasks_create()
    post.refresh_from_db()
    assert post.state == GroupPostState.WAITING and post.msgid
    task = requests.get(f"{sandbox}/sandbox/groupmsg", timeout=5).json()["tasks"][0]
    assert task["chat_id_list"] == [chat["chat_id"]] and "变压器故障" in task["text"]

    requests.post(f"{sandbox}/sandbox/groupmsg/{post.msgid}/confirm", timeout=5)
    post_states_poll()
    post.refresh_from_db()
    assert post.state == GroupPostState.SENT and post.sent_at is not None
