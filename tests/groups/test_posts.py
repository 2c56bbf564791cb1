"""Posts to WeCom groups (企业群发) against the sandbox: one task per owner, the owner's
confirmation polled per task, the monthly limit, reminders, the supervisor told once."""

from datetime import timedelta

import pytest
import requests
from django.utils import timezone

from groups.models import BroadcastTopic, GroupKind, GroupPost, GroupPostState
from groups.services.broadcasts import broadcast_create
from groups.services.groups import group_create
from groups.services.posts import post_states_poll, post_tasks_create
from groups.signals import group_post_state_changed
from notifications.models import Notification


def control(sandbox, path, payload=None, method="post"):
    response = getattr(requests, method)(f"{sandbox.base_url}/sandbox/{path}", json=payload, timeout=5)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture
def wecom_groups(wecom_sandbox, manager, grid):
    """Two WeCom groups of the manager (linked by chat id) and one kept only in the CRM."""
    manager.wecom_userid = "zhangsan"
    manager.save(update_fields=["wecom_userid"])
    control(wecom_sandbox, "staff", {"userid": "zhangsan", "name": "张三"})
    linked = []
    for name in ("永乐VIP群", "大客户群"):
        chat = control(wecom_sandbox, "groups", {"name": name, "owner": "zhangsan", "members": ["zhangsan"]})
        group = group_create(by=manager, name=name, kind=GroupKind.VIP, rules="文明发言。")
        group.external_id = chat["chat_id"]
        group.save(update_fields=["external_id"])
        linked.append(group)
    crm_only = group_create(
        by=manager, name="村委会公共群", kind=GroupKind.PUBLIC, rules="x", host_organization="村委会"
    )
    return {"linked": linked, "crm_only": crm_only}


@pytest.fixture
def announced():
    """The (state, reason) announcements of group_post_state_changed."""
    seen = []

    def receiver(sender, broadcast_id, group_id, state, reason, **kwargs):
        seen.append((group_id, state, reason))

    group_post_state_changed.connect(receiver)
    yield seen
    group_post_state_changed.disconnect(receiver)


def publish(manager, groups, title="计划停电通知"):
    return broadcast_create(
        by=manager, topic=BroadcastTopic.OUTAGE, title=title, body="明日8:00-12:00检修停电。", groups=groups
    )


def test_a_broadcast_becomes_one_task_per_owner_and_waits_for_confirmation(
    manager, wecom_groups, wecom_sandbox, announced
):
    broadcast = publish(manager, [*wecom_groups["linked"], wecom_groups["crm_only"]])
    posts = GroupPost.objects.filter(broadcast=broadcast)
    # The CRM-only group gets no post: nothing is sent there, and the page says so.
    assert {post.group_id for post in posts} == {group.pk for group in wecom_groups["linked"]}
    assert {post.state for post in posts} == {GroupPostState.QUEUED}

    report = post_tasks_create()
    assert report.tasks == 1 and report.waiting == 2
    tasks = control(wecom_sandbox, "groupmsg", method="get")["tasks"]
    assert len(tasks) == 1
    assert sorted(tasks[0]["chat_id_list"]) == sorted(g.external_id for g in wecom_groups["linked"])
    assert tasks[0]["sender"] == "zhangsan" and "明日8:00-12:00检修停电。" in tasks[0]["text"]
    assert set(posts.values_list("state", flat=True)) == {GroupPostState.WAITING}
    # Running again creates nothing more.
    assert post_tasks_create().tasks == 0
    assert len(control(wecom_sandbox, "groupmsg", method="get")["tasks"]) == 1

    # Not confirmed yet: still waiting, nobody announced anything.
    post_states_poll()
    assert set(posts.values_list("state", flat=True)) == {GroupPostState.WAITING}
    assert announced == []

    control(wecom_sandbox, f"groupmsg/{tasks[0]['msgid']}/confirm")
    report = post_states_poll()
    assert report.sent == 2
    assert set(posts.values_list("state", flat=True)) == {GroupPostState.SENT}
    assert all(post.sent_at for post in posts.all())
    assert sorted(state for _group, state, _reason in announced) == ["sent", "sent"]


def test_polling_costs_calls_per_task_not_per_group(manager, wecom_groups, wecom_sandbox, grid):
    groups = list(wecom_groups["linked"])
    for index in range(20):
        chat = control(
            wecom_sandbox, "groups", {"name": f"群{index}", "owner": "zhangsan", "members": ["zhangsan"]}
        )
        group = group_create(by=manager, name=f"群{index}", kind=GroupKind.VIP, rules="x")
        group.external_id = chat["chat_id"]
        group.save(update_fields=["external_id"])
        groups.append(group)
    publish(manager, groups)
    post_tasks_create()
    msgid = GroupPost.objects.values_list("msgid", flat=True).first()
    control(wecom_sandbox, f"groupmsg/{msgid}/confirm")
    before = len(control(wecom_sandbox, "calls", method="get")["calls"])
    report = post_states_poll()
    calls = control(wecom_sandbox, "calls", method="get")["calls"][before:]
    assert report.sent == 22
    assert calls == ["externalcontact/get_groupmsg_task", "externalcontact/get_groupmsg_send_result"]


def test_monthly_limit_reported_at_once(manager, wecom_groups, wecom_sandbox, settings, announced):
    settings.WECOM_GROUP_MONTHLY_LIMIT = 1
    group = wecom_groups["linked"][0]
    publish(manager, [group], title="第一条")
    second = publish(manager, [group], title="第二条")
    post = GroupPost.objects.get(broadcast=second)
    assert post.state == GroupPostState.NOT_SENT and "本月可接收的群发已用完" in post.reason
    assert (group.pk, "not_sent", post.reason) in announced
    # Only the first one becomes a task.
    post_tasks_create()
    assert len(control(wecom_sandbox, "groupmsg", method="get")["tasks"]) == 1


def test_wecom_refusing_a_group_over_its_limit_is_not_sent_with_the_reason(
    manager, wecom_groups, wecom_sandbox
):
    control(wecom_sandbox, "config", {"group_monthly_limit": 0})
    broadcast = publish(manager, wecom_groups["linked"][:1])
    post_tasks_create()
    control(wecom_sandbox, f"groupmsg/{GroupPost.objects.get(broadcast=broadcast).msgid}/confirm")
    post_states_poll()
    post = GroupPost.objects.get(broadcast=broadcast)
    assert post.state == GroupPostState.NOT_SENT and "接收上限" in post.reason


def test_owner_without_wecom_account_is_not_sent(manager, wecom_groups, wecom_sandbox):
    manager.wecom_userid = ""
    manager.save(update_fields=["wecom_userid"])
    broadcast = publish(manager, wecom_groups["linked"][:1])
    post = GroupPost.objects.get(broadcast=broadcast)
    assert post.state == GroupPostState.NOT_SENT and "未绑定企业微信" in post.reason


def test_without_wecom_configured_groups_keep_todays_behaviour(manager, grid, settings):
    settings.WECOM_CORP_ID = ""
    group = group_create(by=manager, name="VIP群", kind=GroupKind.VIP, rules="x")
    group.external_id = "wrSomeChat"
    group.save(update_fields=["external_id"])
    broadcast = publish(manager, [group])
    assert broadcast.published_at and not GroupPost.objects.exists()


def test_reminders_at_most_three_a_day_then_the_supervisor_once(
    manager, supervisor, wecom_groups, wecom_sandbox, settings
):
    settings.WECOM_POST_REMIND_AFTER_MINUTES = 60
    settings.WECOM_POST_ESCALATE_AFTER_MINUTES = 240
    broadcast = publish(manager, wecom_groups["linked"])
    post_tasks_create()
    start = timezone.now()
    assert post_states_poll(now=start + timedelta(minutes=30)).reminded == 0
    for hours in (1.1, 2.2, 3.3, 3.4, 4.5, 5.6):
        post_states_poll(now=start + timedelta(hours=hours))
    task = control(wecom_sandbox, "groupmsg", method="get")["tasks"][0]
    assert task["reminds"] == 3
    assert set(GroupPost.objects.filter(broadcast=broadcast).values_list("reminders", flat=True)) == {3}
    told = Notification.objects.filter(recipient=supervisor, dedupe_key__startswith="grouppost:")
    # One notice per group, whatever the number of polls after the escalation time.
    assert told.count() == 2
    assert "尚未在企业微信确认发送" in told.first().subject
    post_states_poll(now=start + timedelta(hours=8))
    assert told.count() == 2


def test_a_wecom_outage_while_creating_keeps_the_post_queued_then_creates_once(
    manager, wecom_groups, wecom_sandbox
):
    broadcast = publish(manager, wecom_groups["linked"][:1])
    control(
        wecom_sandbox, "faults", {"errcode": 45009, "count": 20, "path": "externalcontact/add_msg_template"}
    )
    report = post_tasks_create()
    assert report.retry == 1 and report.tasks == 0
    post = GroupPost.objects.get(broadcast=broadcast)
    assert post.state == GroupPostState.QUEUED
    # Claimed for a while: an immediate second run leaves it alone.
    assert post_tasks_create().tasks == 0
    control(wecom_sandbox, "reset")
    control(wecom_sandbox, "staff", {"userid": "zhangsan"})
    chat = control(wecom_sandbox, "groups", {"name": "x", "owner": "zhangsan", "members": ["zhangsan"]})
    post.group.external_id = chat["chat_id"]
    post.group.save(update_fields=["external_id"])
    report = post_tasks_create(now=timezone.now() + timedelta(minutes=5))
    assert report.tasks == 1
    assert GroupPost.objects.get(broadcast=broadcast).state == GroupPostState.WAITING


def test_broadcast_page_tells_what_happened_per_group(login, manager, outsider, wecom_groups, wecom_sandbox):
    broadcast = publish(manager, [*wecom_groups["linked"], wecom_groups["crm_only"]])
    post_tasks_create()
    html = login(manager).get(f"/groups/broadcasts/{broadcast.pk}/").content.decode()
    assert html.count("等待群主确认") >= 2
    assert "仅在系统中记录" in html and "该群未接入企业微信" in html
    assert login(outsider).get(f"/groups/broadcasts/{broadcast.pk}/").status_code == 404
