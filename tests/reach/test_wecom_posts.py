"""Reach follows the real WeCom group posts (sandbox): confirmed by the owner → reached;
refused by the monthly limit before the records were written → SMS, once."""

import requests

from groups.models import GroupPost, GroupPostState
from groups.services.posts import post_states_poll, post_tasks_create
from notifications.models import Notification
from outages import services as outages
from reach import services
from reach.models import Channel, ReachRecord, State


def link(sandbox, manager, group):
    manager.wecom_userid = "zhangsan"
    manager.save(update_fields=["wecom_userid"])
    requests.post(f"{sandbox.base_url}/sandbox/staff", json={"userid": "zhangsan"}, timeout=5)
    chat = requests.post(
        f"{sandbox.base_url}/sandbox/groups",
        json={"name": group.name, "owner": "zhangsan", "members": ["zhangsan"]},
        timeout=5,
    ).json()
    group.external_id = chat["chat_id"]
    group.save(update_fields=["external_id"])


def start_records(outage):
    notice = outage.notices.get(kind="start")
    return ReachRecord.objects.filter(notice__key=f"outage_notice:{notice.pk}")


def test_customers_are_reached_when_the_owner_confirms_in_wecom(
    manager, grid, populate, fault, district_group, wecom_sandbox
):
    link(wecom_sandbox, manager, district_group)
    populate(grid["d1"], 3)
    outage = outages.outage_publish(outage=fault())
    outages.fan_out_due()
    records = start_records(outage)
    assert set(records.values_list("channel", "state")) == {(Channel.GROUP, State.WAITING)}
    post_tasks_create()
    msgid = GroupPost.objects.get(group=district_group).msgid
    requests.post(f"{wecom_sandbox.base_url}/sandbox/groupmsg/{msgid}/confirm", timeout=5)
    post_states_poll()
    assert set(records.values_list("state", flat=True)) == {State.REACHED}
    assert not Notification.objects.filter(channel="sms").exists()


def test_a_post_refused_for_the_monthly_limit_falls_back_to_sms_once(
    manager, grid, populate, fault, district_group, wecom_sandbox, settings
):
    settings.WECOM_GROUP_MONTHLY_LIMIT = 0
    link(wecom_sandbox, manager, district_group)
    populate(grid["d1"], 2)
    outage = outages.outage_publish(outage=fault())
    outages.fan_out_due()
    assert GroupPost.objects.get(group=district_group).state == GroupPostState.NOT_SENT
    services.reach_refresh()
    records = start_records(outage)
    assert set(records.values_list("channel", "fallback_from")) == {(Channel.SMS, Channel.GROUP)}
    assert services.reach_refresh() == 0
    assert Notification.objects.filter(channel="sms").count() == 2
