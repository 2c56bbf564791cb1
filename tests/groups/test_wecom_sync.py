"""Customer groups follow WeCom: new groups, renames, member churn, owner change, dismissal."""

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from groups.models import GroupKind, Membership, ServiceGroup, UnlinkedMember, WeComChat, WeComChatStatus
from groups.services.wecom_sync import chat_sync, groups_reconcile, kind_for_new_chat
from wecom.models import StatusMark

pytestmark = pytest.mark.django_db


def group_of(chat_id: str) -> ServiceGroup:
    return ServiceGroup.objects.get(external_id=chat_id)


def active_members(group: ServiceGroup) -> set:
    rows = Membership.objects.active().filter(group=group).values_list("user__username", "contact__name")
    return {user or contact for user, contact in rows}


def test_a_new_group_appears_under_its_owner_with_its_members(corp, manager, colleague, make_customer):
    customer = make_customer(name="杨丽")
    contact = customer.contacts.get()
    contact.wecom_external_userid = "wmYangli"
    contact.save()
    corp.staff("lisi")
    chat_id = corp.group(
        "VIP大客户服务群",
        "zhangsan",
        [
            "lisi",
            {"userid": "wmYangli", "join_time": 1_700_000_000},
            {"userid": "wmNobody", "name": "王先生"},
        ],
        notice="文明发言",
    )

    result = groups_reconcile()

    group = group_of(chat_id)
    assert (result.listed, result.fetched, result.created) == (1, 1, 1)
    assert group.owner == manager and group.org_unit == manager.org_unit
    assert group.kind == GroupKind.VIP and group.announcement == "文明发言"
    assert active_members(group) == {"zhangsan", "lisi", contact.name}
    joined = Membership.objects.get(group=group, contact=contact).joined_at
    assert joined == datetime.fromtimestamp(1_700_000_000, tz=UTC)
    unlinked = UnlinkedMember.objects.get(group=group)
    assert (unlinked.userid, unlinked.name, unlinked.kind) == (
        "wmNobody",
        "王先生",
        UnlinkedMember.Kind.EXTERNAL,
    )
    mark = StatusMark.objects.get(key="reconcile").values
    assert mark["created"] == 1 and mark["failed"] == 0


def test_a_second_reconcile_reads_no_group_again_and_changes_nothing(corp, django_assert_max_num_queries):
    corp.group("VIP群", "zhangsan", ["wmA", "wmB"])
    groups_reconcile()
    before = (Membership.objects.count(), UnlinkedMember.objects.count())
    calls_before = len(corp.calls())

    result = groups_reconcile()

    assert result.fetched == 0
    assert corp.calls()[calls_before:] == ["externalcontact/groupchat/list"]
    assert (Membership.objects.count(), UnlinkedMember.objects.count()) == before


def test_a_stale_group_is_read_again(corp, settings):
    chat_id = corp.group("VIP群", "zhangsan", ["wmA"])
    groups_reconcile()
    WeComChat.objects.update(
        synced_at=timezone.now() - timedelta(hours=settings.WECOM_GROUP_RESYNC_HOURS + 1)
    )
    corp.post(f"groups/{chat_id}/rename", {"name": "新名字"})

    assert groups_reconcile().fetched == 1
    assert group_of(chat_id).name == "新名字"


def test_kind_follows_the_documented_rule(manager, grid):
    assert kind_for_new_chat(name="永乐一号台区服务群", owner=manager) == (
        GroupKind.DISTRICT,
        grid["district"],
    )
    assert kind_for_new_chat(name="凯里台区群", owner=manager) == (GroupKind.VIP, None)  # not the owner's
    assert kind_for_new_chat(name="白岩村村民群", owner=manager) == (GroupKind.PUBLIC, None)
    assert kind_for_new_chat(name="大工业客户群", owner=manager) == (GroupKind.VIP, None)


def test_a_district_group_gets_its_district(corp, grid):
    chat_id = corp.group("永乐一号台区服务群", "zhangsan", [])
    groups_reconcile()
    group = group_of(chat_id)
    assert group.kind == GroupKind.DISTRICT and group.district == grid["district"]


def test_rename_and_notice_follow(corp):
    chat_id = corp.group("旧名", "zhangsan", [])
    chat_sync(chat_id=chat_id)
    corp.post(f"groups/{chat_id}/rename", {"name": "新名"})
    corp.post(f"groups/{chat_id}/notice", {"notice": "新公告"})

    chat_sync(chat_id=chat_id)

    group = group_of(chat_id)
    assert (group.name, group.announcement) == ("新名", "新公告")


def test_members_join_and_leave_with_their_times(corp, colleague):
    chat_id = corp.group("VIP群", "zhangsan", ["wmA", "wmB"])
    chat_sync(chat_id=chat_id)
    group = group_of(chat_id)
    corp.post(
        f"groups/{chat_id}/members",
        {"add": [{"userid": "lisi", "join_time": 1_800_000_000}], "remove": ["wmA"]},
    )
    seen = timezone.now().replace(microsecond=0)

    chat_sync(chat_id=chat_id, observed_at=seen)

    lisi = Membership.objects.get(group=group, user=colleague)
    assert lisi.joined_at == datetime.fromtimestamp(1_800_000_000, tz=UTC) and lisi.left_at is None
    left = UnlinkedMember.objects.get(group=group, userid="wmA")
    assert left.left_at == seen
    assert UnlinkedMember.objects.active().filter(group=group).get().userid == "wmB"

    # Rejoining makes a new row; the old one keeps its times.
    corp.post(f"groups/{chat_id}/members", {"add": ["wmA"], "remove": ["lisi"]})
    chat_sync(chat_id=chat_id)
    assert UnlinkedMember.objects.filter(group=group, userid="wmA").count() == 2
    assert Membership.objects.get(group=group, user=colleague).left_at is not None


def test_owner_change_moves_the_group(corp, colleague, org_tree):
    colleague.org_unit = org_tree["sibling_station"]
    colleague.save()
    chat_id = corp.group("VIP群", "zhangsan", ["lisi"])
    chat_sync(chat_id=chat_id)
    corp.post(f"groups/{chat_id}/owner", {"owner": "lisi"})

    chat_sync(chat_id=chat_id)

    group = group_of(chat_id)
    assert group.owner == colleague and group.org_unit == org_tree["sibling_station"]


def test_a_group_whose_owner_is_unknown_is_kept_aside_until_a_user_has_that_userid(corp, colleague):
    chat_id = corp.group("陌生人的群", "stranger", ["wmA"])

    result = groups_reconcile()

    chat = WeComChat.objects.get(chat_id=chat_id)
    assert result.owner_unknown == 1
    assert (
        chat.status == WeComChatStatus.OWNER_UNKNOWN
        and chat.group is None
        and chat.owner_userid == "stranger"
    )
    assert not ServiceGroup.objects.filter(external_id=chat_id).exists()

    colleague.wecom_userid = "stranger"
    colleague.save()
    groups_reconcile()

    chat.refresh_from_db()
    assert chat.status == WeComChatStatus.SYNCED and chat.group.owner == colleague


def test_a_dismissed_group_is_archived(corp):
    chat_id = corp.group("VIP群", "zhangsan", ["wmA"])
    groups_reconcile()
    corp.post(f"groups/{chat_id}/dismiss")

    result = groups_reconcile()

    assert result.dismissed == 1
    assert group_of(chat_id).archived_at is not None
    assert WeComChat.objects.get(chat_id=chat_id).status == WeComChatStatus.DISMISSED
    # Known as dismissed: not read again.
    assert groups_reconcile().fetched == 0


def test_a_crm_group_with_the_chat_id_is_taken_over_not_duplicated(corp, group):
    chat_id = corp.group("永乐一号台区服务群（企业微信）", "zhangsan", ["wmA"])
    ServiceGroup.objects.filter(pk=group.pk).update(external_id=chat_id)

    groups_reconcile()

    assert ServiceGroup.objects.filter(external_id=chat_id).get().pk == group.pk
    assert WeComChat.objects.get(chat_id=chat_id).group_id == group.pk


def test_a_group_kept_only_in_the_crm_is_left_alone(corp, group, member):
    corp.group("另一个群", "zhangsan", [])
    groups_reconcile()
    group.refresh_from_db()
    assert group.archived_at is None
    assert Membership.objects.active().filter(group=group).count() == 2


def test_membership_diff_costs_the_same_queries_for_3_or_150_members(corp, django_assert_max_num_queries):
    small = corp.group("小群", "zhangsan", [f"wmS{i}" for i in range(3)])
    big = corp.group("大群", "zhangsan", [f"wmB{i}" for i in range(150)])
    chat_sync(chat_id=small, remark_lookups=0)
    chat_sync(chat_id=big, remark_lookups=0)
    corp.post(f"groups/{small}/members", {"add": ["wmS9"], "remove": ["wmS0"]})
    corp.post(
        f"groups/{big}/members",
        {"add": [f"wmN{i}" for i in range(100)], "remove": [f"wmB{i}" for i in range(50)]},
    )

    with django_assert_max_num_queries(20) as small_queries:
        chat_sync(chat_id=small, remark_lookups=0)
    with django_assert_max_num_queries(len(small_queries.captured_queries)):
        chat_sync(chat_id=big, remark_lookups=0)

    assert UnlinkedMember.objects.active().filter(group__external_id=big).count() == 200
    assert UnlinkedMember.objects.filter(group__external_id=big, left_at__isnull=False).count() == 50


def test_applying_the_same_state_twice_changes_nothing(corp, make_customer):
    contact = make_customer().contacts.get()
    contact.wecom_external_userid = "wmLinked"
    contact.save()
    chat_id = corp.group("VIP群", "zhangsan", ["wmLinked", "wmA"])
    chat_sync(chat_id=chat_id)
    snapshot = (
        list(Membership.objects.values_list("pk", "joined_at", "left_at")),
        list(UnlinkedMember.objects.values_list("pk", "joined_at", "left_at")),
    )
    chat_sync(chat_id=chat_id)
    assert snapshot == (
        list(Membership.objects.values_list("pk", "joined_at", "left_at")),
        list(UnlinkedMember.objects.values_list("pk", "joined_at", "left_at")),
    )


def test_an_owner_change_to_someone_unknown_keeps_the_group_with_its_owner_and_lists_it(corp, manager):
    chat_id = corp.group("VIP群", "zhangsan", ["stranger"])
    chat_sync(chat_id=chat_id)
    corp.post(f"groups/{chat_id}/owner", {"owner": "stranger"})

    chat_sync(chat_id=chat_id)

    assert group_of(chat_id).owner == manager
    chat = WeComChat.objects.get(chat_id=chat_id)
    assert chat.status == WeComChatStatus.OWNER_UNKNOWN and chat.owner_userid == "stranger"
    # The staff member no user carries is kept as an unlinked row, not shown to link by hand.
    assert UnlinkedMember.objects.get(userid="stranger").kind == UnlinkedMember.Kind.STAFF
