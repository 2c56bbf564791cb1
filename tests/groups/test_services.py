"""Groups, members and messages through the services: the rules and what they refuse."""

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError

from groups.models import GroupKind, GroupMessage, Membership, ServiceGroup
from groups.services.groups import group_archive, group_create, group_update
from groups.services.members import membership_add_contact, membership_add_staff, membership_leave
from groups.services.messages import message_post, reply_post
from groups.services.reply_templates import reply_template_create, reply_template_use
from tests.factories import ContactFactory, CustomerFactory, UserFactory
from tests.groups.conftest import local


def create(by, **overrides):
    fields = {"name": "VIP客户服务群", "kind": GroupKind.VIP, "rules": "文明发言。"}
    fields.update(overrides)
    return group_create(by=by, **fields)


def test_a_new_group_belongs_to_its_owner_who_joins_it(manager):
    group = create(manager)
    assert group.owner == manager
    assert group.org_unit == manager.org_unit
    assert list(group.memberships.values_list("user_id", flat=True)) == [manager.pk]


@pytest.mark.parametrize("rules", ["", "   "])
def test_a_group_without_rules_is_refused_and_nothing_is_saved(manager, rules):
    with pytest.raises(ValidationError) as exc:
        create(manager, rules=rules)
    assert "群规" in exc.value.message_dict["rules"][0]
    assert ServiceGroup.objects.count() == 0
    assert Membership.objects.count() == 0
    create(manager)  # the same request with rules goes through
    assert ServiceGroup.objects.count() == 1


def test_a_district_group_needs_a_district_and_a_line_group_a_line(manager, grid):
    with pytest.raises(ValidationError) as exc:
        create(manager, kind=GroupKind.DISTRICT)
    assert exc.value.message_dict["district"] == ["台区群须选择所在台区。"]
    with pytest.raises(ValidationError) as exc:
        create(manager, kind=GroupKind.LINE)
    assert exc.value.message_dict["line"] == ["线路群须选择所在线路。"]
    with pytest.raises(ValidationError) as exc:
        create(manager, kind=GroupKind.VIP, district=grid["district"])
    assert "district" in exc.value.message_dict
    assert ServiceGroup.objects.count() == 0
    assert create(manager, kind=GroupKind.LINE, line=grid["line"]).line == grid["line"]


def test_a_district_outside_the_owners_unit_is_refused(manager, grid):
    with pytest.raises(ValidationError) as exc:
        create(manager, kind=GroupKind.DISTRICT, district=grid["foreign_district"])
    assert "不在雷山供电所的辖区内" in exc.value.message_dict["district"][0]


def test_a_public_group_names_who_set_it_up(manager):
    with pytest.raises(ValidationError) as exc:
        create(manager, kind=GroupKind.PUBLIC)
    assert "建群单位" in exc.value.message_dict["host_organization"][0]
    assert create(manager, kind=GroupKind.PUBLIC, host_organization="丹江镇人民政府").kind == GroupKind.PUBLIC


def test_a_manager_cannot_make_someone_else_owner_but_a_supervisor_can(manager, colleague, supervisor):
    with pytest.raises(ValidationError) as exc:
        create(manager, owner=colleague)
    assert "owner" in exc.value.message_dict
    group = create(supervisor, owner=colleague)
    assert group.owner == colleague
    assert group.org_unit == colleague.org_unit


def test_only_the_groups_manager_may_edit_it(group, colleague, supervisor, manager):
    with pytest.raises(PermissionDenied):
        group_update(group=group, by=colleague, announcement="x")
    group_update(group=group, by=supervisor, announcement="本周六检修停电。")
    group.refresh_from_db()
    assert group.announcement == "本周六检修停电。"
    with pytest.raises(ValidationError):
        group_update(group=group, by=manager, rules="")
    group.refresh_from_db()
    assert group.rules


def test_a_new_owner_joins_the_group(group, supervisor, colleague):
    group_update(group=group, by=supervisor, owner=colleague)
    group.refresh_from_db()
    assert group.owner == colleague
    assert group.memberships.active().filter(user=colleague).exists()


def test_membership_is_unique_while_active_and_can_be_renewed(group, contact, manager):
    first, created = membership_add_contact(group=group, contact=contact, by=manager)
    assert created
    again, created = membership_add_contact(group=group, contact=contact, by=manager)
    assert (again, created) == (first, False)
    membership_leave(membership=first, by=manager)
    renewed, created = membership_add_contact(group=group, contact=contact, by=manager)
    assert created and renewed.pk != first.pk
    assert Membership.objects.filter(group=group, contact=contact).count() == 2


def test_the_owner_cannot_leave_and_staff_show_their_identity_card(group, manager, colleague):
    owner_membership = group.memberships.get(user=manager)
    with pytest.raises(ValidationError):
        membership_leave(membership=owner_membership, by=manager)
    membership, _created = membership_add_staff(group=group, user=colleague, by=colleague)
    assert membership.user.identity_card == "李四 · 雷山供电所 客户经理 · 135****2468"
    membership_leave(membership=membership, by=colleague)


def test_an_outsider_cannot_join_a_group_they_do_not_see(group, outsider):
    with pytest.raises(PermissionDenied):
        membership_add_staff(group=group, user=outsider, by=outsider)


def test_a_customer_message_needs_the_sender_in_the_group(group, contact):
    with pytest.raises(ValidationError) as exc:
        message_post(group=group, contact=contact, text="怎么交电费？")
    assert "不是本群成员" in exc.value.message_dict["contact"][0]
    assert GroupMessage.objects.count() == 0


@pytest.mark.parametrize(
    ("text", "inquiry"),
    [
        ("请问明天会停电吗", True),
        ("电费怎么交？", True),
        ("家里又跳闸了", True),
        ("好的，谢谢！", False),
        ("收到", False),
    ],
)
def test_the_default_rule_tells_inquiries_from_other_messages(group, contact, member, text, inquiry):
    message, _created = message_post(group=group, contact=contact, text=text)
    assert message.is_inquiry is inquiry


def test_ingesting_the_same_message_twice_records_it_once(group, contact, member):
    first, created = message_post(group=group, contact=contact, text="停电了", external_id="wx-1")
    again, created_again = message_post(group=group, contact=contact, text="停电了", external_id="wx-1")
    assert (created, created_again) == (True, False)
    assert again.pk == first.pk
    assert GroupMessage.objects.count() == 1


def test_a_reply_to_a_chosen_inquiry_answers_it_and_only_it(group, manager, ask):
    with time_machine.travel(local(2026, 11, 20, 10, 0), tick=False):
        first = ask("请问今天为什么停电？")
        second = ask("什么时候来电？")
    with time_machine.travel(local(2026, 11, 20, 10, 12), tick=False):
        reply = reply_post(group=group, by=manager, text="线路检修，预计12点恢复。", inquiry=first)
    first.refresh_from_db()
    second.refresh_from_db()
    assert reply.answered == [first.pk]
    assert first.answer == reply.message
    assert first.answered_at == local(2026, 11, 20, 10, 12)
    assert first.response_seconds == 12 * 60
    assert second.answered_at is None


def test_a_reply_to_a_customer_answers_all_their_waiting_inquiries(group, manager, ask, make_customer):
    other = make_customer(name="王强").contacts.get()
    membership_add_contact(group=group, contact=other, by=manager)
    mine = [ask("停电了？"), ask("多久能来电？")]
    theirs = ask("我家也停电了吗？", who=other)
    reply = reply_post(group=group, by=manager, text="正在抢修。", customer=mine[0].customer)
    assert sorted(reply.answered) == sorted(m.pk for m in mine)
    theirs.refresh_from_db()
    assert theirs.answered_at is None


def test_only_the_first_reply_answers_an_inquiry(group, manager, colleague, ask):
    membership_add_staff(group=group, user=colleague, by=colleague)
    inquiry = ask()
    first = reply_post(group=group, by=manager, text="马上核实。", inquiry=inquiry)
    second = reply_post(group=group, by=colleague, text="已派人处理。", inquiry=inquiry)
    inquiry.refresh_from_db()
    assert inquiry.answer == first.message
    assert second.already_answered and second.answered == []
    assert GroupMessage.objects.filter(sender_kind="staff").count() == 2


def test_a_staff_member_outside_the_group_cannot_reply(group, colleague, ask):
    inquiry = ask()
    with pytest.raises(ValidationError):
        reply_post(group=group, by=colleague, text="您好", inquiry=inquiry)
    inquiry.refresh_from_db()
    assert inquiry.answered_at is None


def test_an_archived_group_takes_no_more_messages(group, manager, contact, member):
    group_archive(group=group, by=manager)
    with pytest.raises(ValidationError):
        message_post(group=group, contact=contact, text="还有人吗？")


def test_a_contact_of_a_customer_the_manager_cannot_see_is_refused(group, manager, org_tree):
    stranger = ContactFactory(customer=CustomerFactory(station=org_tree["other_station"]))
    with pytest.raises(ValidationError):
        membership_add_contact(group=group, contact=stranger, by=manager)


def test_reply_templates_are_shared_down_the_unit_tree_and_count_their_uses(
    manager, supervisor, outsider, org_tree
):
    county_template = reply_template_create(
        by=supervisor, title="停电安抚", body="非常抱歉给您带来不便……", category="soothing"
    )
    station_manager = UserFactory(org_unit=org_tree["sibling_station"])
    from groups.models import ReplyTemplate

    assert ReplyTemplate.objects.visible_to(manager).filter(pk=county_template.pk).exists()
    assert ReplyTemplate.objects.visible_to(station_manager).filter(pk=county_template.pk).exists()
    assert not ReplyTemplate.objects.visible_to(outsider).exists()
    with pytest.raises(ValidationError):
        reply_template_create(by=manager, title="x", body="y", category="other", org_unit=org_tree["county"])
    reply_template_use(template=county_template, by=manager)
    reply_template_use(template=county_template, by=station_manager)
    county_template.refresh_from_db()
    assert county_template.use_count == 2
