"""One broadcast to each group from its owner, all at once (an outage notice to the groups of
the affected districts): the same rows `broadcast_create` writes group by group, the same
monthly limit, and groups the owner may not send to left out."""

import pytest
import time_machine
from django.core.exceptions import ValidationError

from groups.models import (
    Broadcast,
    BroadcastTopic,
    GroupHealth,
    GroupKind,
    GroupMessage,
    GroupPost,
    ServiceGroup,
)
from groups.services.broadcasts import broadcast_create, broadcasts_create_per_group
from groups.services.groups import group_create
from tests.groups.conftest import local

NOW = local(2026, 11, 20, 9, 0)
CONTENT = {"topic": BroadcastTopic.OUTAGE, "title": "故障停电", "body": "10kV永乐线故障停电，正在抢修。"}


@pytest.fixture
def wecom(settings):
    """WeCom configured (no request is made while posts are written)."""
    settings.WECOM_CORP_ID = "ww-test"
    settings.WECOM_CONTACT_SECRET = "secret"


@pytest.fixture
def groups(manager, colleague, grid):
    """Three groups linked to WeCom (two of the manager, who has a WeCom account, one of a
    colleague, who has none) and one kept only in the CRM."""
    manager.wecom_userid = "zhangsan"
    manager.save(update_fields=["wecom_userid"])
    made = [
        group_create(
            by=manager,
            name="永乐一号台区服务群",
            kind=GroupKind.DISTRICT,
            district=grid["district"],
            rules="x",
        ),
        group_create(by=manager, name="永乐线服务群", kind=GroupKind.LINE, line=grid["line"], rules="x"),
        group_create(by=colleague, name="同事的VIP群", kind=GroupKind.VIP, rules="x"),
        group_create(
            by=manager, name="村委会公共群", kind=GroupKind.PUBLIC, rules="x", host_organization="村委会"
        ),
    ]
    for index, group in enumerate(made[:3]):
        ServiceGroup.objects.filter(pk=group.pk).update(external_id=f"wrChat{index}")
    return list(
        ServiceGroup.objects.filter(pk__in=[g.pk for g in made])
        .select_related("owner__org_unit")
        .order_by("pk")
    )


def written(broadcast_ids: dict[int, int]) -> dict[int, tuple]:
    """Group id → what its broadcast wrote, without the ids that differ between two runs."""
    rows = {}
    for group_id, broadcast_id in broadcast_ids.items():
        broadcast = Broadcast.objects.get(pk=broadcast_id)
        message = GroupMessage.objects.get(broadcast=broadcast)
        posts = [
            (post.group_id, post.sender_id, post.sender_userid, post.state, post.reason, post.month)
            for post in GroupPost.objects.filter(broadcast=broadcast)
        ]
        rows[group_id] = (
            broadcast.topic,
            broadcast.title,
            broadcast.body,
            broadcast.scheduled_at,
            broadcast.published_at,
            broadcast.forward_to_important,
            broadcast.personal_notices,
            broadcast.org_unit_id,
            broadcast.created_by_id,
            sorted(broadcast.groups.values_list("pk", flat=True)),
            (
                message.group_id,
                message.sender_kind,
                message.sender_user_id,
                message.sender_name,
                message.text,
            ),
            message.external_id == f"broadcast:{broadcast.pk}",
            posts,
        )
    return rows


def test_it_writes_what_broadcast_create_writes_group_by_group(groups, wecom):
    with time_machine.travel(NOW, tick=False):
        at_once = broadcasts_create_per_group(groups=groups, **CONTENT)
        one_by_one = {
            group.pk: broadcast_create(
                by=group.owner, groups=[group], important_told_elsewhere=True, **CONTENT
            )
            for group in groups
        }
    assert at_once.refused == {}
    assert set(at_once.broadcasts) == {group.pk for group in groups}
    assert written({g: b.pk for g, b in at_once.broadcasts.items()}) == written(
        {g: b.pk for g, b in one_by_one.items()}
    )
    # The owner's own message counts in the group's health, as it does one by one.
    assert GroupHealth.objects.filter(group_id__in=[group.pk for group in groups]).count() == len(groups)
    states = {
        post.group.name: post.state
        for post in GroupPost.objects.filter(broadcast__in=at_once.broadcasts.values())
    }
    # No WeCom account for the colleague: refused at once; the CRM-only group gets no post.
    assert states == {"永乐一号台区服务群": "queued", "永乐线服务群": "queued", "同事的VIP群": "not_sent"}


def test_each_post_counts_against_its_groups_monthly_limit(groups, wecom, settings, manager):
    settings.WECOM_GROUP_MONTHLY_LIMIT = 2
    district_group = groups[0]
    with time_machine.travel(NOW, tick=False):
        broadcast_create(by=manager, groups=[district_group], **CONTENT)
        first = broadcasts_create_per_group(groups=groups, **CONTENT)
        second = broadcasts_create_per_group(groups=groups, **CONTENT)

    def state(sent, group):
        return GroupPost.objects.get(broadcast=sent.broadcasts[group.pk], group=group).state

    assert state(first, district_group) == "queued"
    # Its two posts this month are used up: refused at once, with the reason; the other group has one left.
    refused = GroupPost.objects.get(broadcast=second.broadcasts[district_group.pk], group=district_group)
    assert (refused.state, refused.reason) == ("not_sent", "该群本月可接收的群发已用完（每月 2 条）")
    assert state(second, groups[1]) == "queued"


def test_groups_the_owner_may_not_send_to_take_none(groups, wecom, manager, colleague):
    ServiceGroup.objects.filter(pk=groups[1].pk).update(archived_at=NOW)
    type(colleague).objects.filter(pk=colleague.pk).update(org_unit=None)
    fresh = list(
        ServiceGroup.objects.filter(pk__in=[g.pk for g in groups])
        .select_related("owner__org_unit")
        .order_by("pk")
    )
    sent = broadcasts_create_per_group(groups=fresh, **CONTENT)
    assert set(sent.refused) == {groups[1].pk, groups[2].pk}
    assert set(sent.broadcasts) == {groups[0].pk, groups[3].pk}
    assert Broadcast.objects.count() == 2
    assert GroupMessage.objects.filter(group_id__in=sent.refused).count() == 0


def test_bad_content_takes_no_group(groups, wecom):
    with pytest.raises(ValidationError) as error:
        broadcasts_create_per_group(groups=groups, **{**CONTENT, "body": "  "})
    assert "body" in error.value.message_dict
    assert Broadcast.objects.count() == 0
    assert broadcasts_create_per_group(groups=groups, **CONTENT).broadcasts.keys() == {g.pk for g in groups}
