"""The group pages: list with health, detail, forms, reply templates, broadcasts."""

from datetime import timedelta

import pytest
import time_machine
from django.core.cache import cache
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from groups.models import Broadcast, GroupKind, GroupMessage, ReplyTemplate, ServiceGroup
from groups.services.groups import group_create
from groups.services.members import membership_add_contact, membership_add_staff
from groups.services.messages import message_post, reply_post
from groups.services.reply_templates import reply_template_create
from tests.groups.conftest import local

NOW = local(2026, 11, 20, 15, 0)


def make_groups(n: int, manager, make_customer):
    """n VIP groups, each with a customer member, an answered and an unanswered inquiry."""
    for index in range(n):
        group = group_create(by=manager, name=f"VIP群{index:02d}", kind=GroupKind.VIP, rules="x")
        contact = make_customer().contacts.get()
        membership_add_contact(group=group, contact=contact, by=manager)
        answered, _created = message_post(group=group, contact=contact, text="电费怎么算？")
        reply_post(group=group, by=manager, text="按阶梯电价。", inquiry=answered)
        message_post(group=group, contact=contact, text="什么时候来电？")


def test_the_list_costs_the_same_queries_for_3_and_30_groups(login, manager, make_customer):
    client = login(manager)

    def count_for(n: int) -> int:
        ServiceGroup.objects.all().delete()
        make_groups(n, manager, make_customer)
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(reverse("groups:list"))
        assert response.status_code == 200
        assert len(response.context["page"].items) == n
        return len(ctx.captured_queries)

    assert count_for(3) == count_for(30)


def test_the_supervisors_list_with_owner_figures_costs_the_same_for_3_and_30(
    login, manager, supervisor, make_customer
):
    client = login(supervisor)

    def count_for(n: int) -> int:
        ServiceGroup.objects.all().delete()
        make_groups(n, manager, make_customer)
        cache.clear()  # the owner table is computed, not read from the cache
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(reverse("groups:list"), {"sort": "-median"})
        assert response.context["owner_health"]()[0].groups == n
        return len(ctx.captured_queries)

    assert count_for(3) == count_for(30)


def test_the_list_sorts_by_each_figure_and_filters_zombies(login, manager, grid, ask, group):
    with time_machine.travel(NOW - timedelta(days=20), tick=False):
        quiet = group_create(by=manager, name="沉默群", kind=GroupKind.VIP, rules="x")
    with time_machine.travel(NOW - timedelta(hours=1), tick=False):
        reply_post(group=group, by=manager, text="大家好")
        ask()
        ask("电表坏了吗？")
    client = login(manager)
    with time_machine.travel(NOW, tick=False):
        names = lambda response: [g.name for g in response.context["page"].items]  # noqa: E731
        assert names(client.get(reverse("groups:list"), {"sort": "-unanswered"})) == [group.name, quiet.name]
        assert names(client.get(reverse("groups:list"), {"sort": "silent"})) == [quiet.name, group.name]
        assert names(client.get(reverse("groups:list"), {"sort": "-silent"})) == [group.name, quiet.name]
        for key in ("inquiries", "in_time", "median", "name", "bogus"):
            for sort in (key, f"-{key}"):
                assert client.get(reverse("groups:list"), {"sort": sort}).status_code == 200
        zombies = client.get(reverse("groups:list"), {"zombie": "1"})
        assert names(zombies) == [group.name, quiet.name] or set(names(zombies)) == {group.name, quiet.name}
        assert "僵尸群" in zombies.content.decode()
        healthy = client.get(reverse("groups:list"), {"zombie": "0"})
        assert names(healthy) == []
        assert names(client.get(reverse("groups:list"), {"kind": "vip"})) == [quiet.name]
        assert names(client.get(reverse("groups:list"), {"owner": manager.pk, "q": "沉默"})) == [quiet.name]


def test_the_detail_shows_rules_identities_badges_and_waiting_inquiries_first(
    login, group, manager, ask, make_customer
):
    important = make_customer(is_key_attention=True, name="永乐小学")
    membership_add_contact(group=group, contact=important.contacts.get(), by=manager)
    with time_machine.travel(NOW - timedelta(hours=2), tick=False):
        old = ask("昨天电费为什么这么高？")
    with time_machine.travel(NOW - timedelta(hours=1), tick=False):
        reply_post(group=group, by=manager, text="我来核实。", inquiry=old)
        waiting = ask("现在还停电吗？", who=important.contacts.get())
    with time_machine.travel(NOW, tick=False):
        response = login(manager).get(reverse("groups:detail", args=[group.pk]))
    html = response.content.decode()
    assert response.status_code == 200
    assert group.rules in html and group.announcement in html
    assert manager.identity_card in html
    assert "重点关注" in html
    assert "该客户需一对一联系，不可仅发群消息" in html
    log = response.context["group"].message_log
    assert log[0].pk == waiting.pk
    assert reverse("tickets:from_group_message", args=[waiting.pk]) in html


def test_the_detail_costs_a_fixed_number_of_queries(
    login, manager, make_customer, django_assert_max_num_queries
):
    make_groups(1, manager, make_customer)
    group = ServiceGroup.objects.get()
    for _ in range(20):
        contact = make_customer().contacts.get()
        membership_add_contact(group=group, contact=contact, by=manager)
        message_post(group=group, contact=contact, text="请问怎么办理过户？")
    client = login(manager)
    # Session, user, unread count, user's unit; group with figures, members, message log,
    # unlinked WeCom customers, reply choices, the contacts to log a message from (exists +
    # options), staff to add.
    with django_assert_max_num_queries(12):
        assert client.get(reverse("groups:detail", args=[group.pk])).status_code == 200


def test_creating_a_group_without_rules_shows_a_chinese_error_and_saves_nothing(login, manager, grid):
    client = login(manager)
    data = {"name": "永乐台区群", "kind": GroupKind.DISTRICT, "district": grid["district"].pk, "rules": ""}
    response = client.post(reverse("groups:create"), data)
    assert response.status_code == 200
    assert "请填写群规" in response.content.decode()
    assert ServiceGroup.objects.count() == 0

    data["rules"] = "文明发言。"
    response = client.post(reverse("groups:create"), data)
    assert response.status_code == 302
    assert ServiceGroup.objects.get().district == grid["district"]


def test_a_district_group_without_a_district_shows_a_chinese_error_and_saves_nothing(login, manager):
    response = login(manager).post(
        reverse("groups:create"), {"name": "永乐台区群", "kind": GroupKind.DISTRICT, "rules": "文明发言。"}
    )
    assert response.status_code == 200
    assert "台区群须选择所在台区。" in response.content.decode()
    assert ServiceGroup.objects.count() == 0


def test_logging_a_message_and_replying_through_the_pages(login, group, member, manager):
    client = login(manager)
    with time_machine.travel(local(2026, 11, 20, 19, 50), tick=False):
        response = client.post(
            reverse("groups:messages", args=[group.pk]),
            {"contact": member.contact_id, "text": "家里跳闸了", "is_inquiry": "auto"},
        )
    assert response.status_code == 302
    inquiry = GroupMessage.objects.get()
    assert inquiry.is_inquiry and inquiry.recorded_by == manager
    assert inquiry.response_due_at == local(2026, 11, 20, 20, 20)
    response = client.post(reverse("groups:reply", args=[group.pk]), {"inquiry": inquiry.pk, "text": ""})
    assert response.status_code == 400
    assert "请填写回复内容。" in response.content.decode()
    response = client.post(
        reverse("groups:reply", args=[group.pk]), {"inquiry": inquiry.pk, "text": "请检查漏保。"}
    )
    assert response.status_code == 302
    inquiry.refresh_from_db()
    assert inquiry.answered_at is not None


def test_a_message_from_someone_not_in_the_group_is_refused_on_the_page(login, group, manager, make_customer):
    stranger = make_customer().contacts.get()
    response = login(manager).post(
        reverse("groups:messages", args=[group.pk]),
        {"contact": stranger.pk, "text": "停电了", "is_inquiry": "yes"},
    )
    assert response.status_code == 400
    assert "不是本群成员" in response.content.decode()
    assert GroupMessage.objects.count() == 0


def test_the_district_button_adds_the_districts_customers(login, group, manager, make_customer):
    for _ in range(3):
        make_customer()
    response = login(manager).post(reverse("groups:add_district_customers", args=[group.pk]), follow=True)
    assert "已将台区内 3 位客户联系人加入本群。" in response.content.decode()


def test_template_search_fills_the_reply_box_and_counts_a_use(login, manager, supervisor, outsider):
    template = reply_template_create(
        by=supervisor, title="停电安抚", body="非常抱歉，抢修人员已出发。", category="soothing"
    )
    client = login(manager)
    response = client.get(reverse("groups:template_search"), {"q": "停电"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert "停电安抚" in response.content.decode()
    assert client.get(reverse("groups:template_search"), {"q": "电价"}).context["templates"] == []
    response = client.post(reverse("groups:template_use", args=[template.pk]), HTTP_HX_REQUEST="true")
    assert 'id="reply-text"' in response.content.decode()
    assert "非常抱歉，抢修人员已出发。" in response.content.decode()
    template.refresh_from_db()
    assert template.use_count == 1
    assert login(outsider).post(reverse("groups:template_use", args=[template.pk])).status_code == 404


def test_creating_a_template_on_the_page(login, manager):
    client = login(manager)
    response = client.post(reverse("groups:templates"), {"title": "", "body": "x", "category": "other"})
    assert response.status_code == 400
    assert "请填写标题。" in response.content.decode()
    response = client.post(
        reverse("groups:templates"),
        {
            "title": "电费查询",
            "body": "可通过南网在线App查询。",
            "category": "billing",
            "org_unit": manager.org_unit_id,
        },
    )
    assert response.status_code == 302
    assert ReplyTemplate.objects.get().org_unit == manager.org_unit


@pytest.mark.parametrize("scheduled", [False, True])
def test_the_broadcast_composer_previews_then_publishes(login, group, manager, scheduled):
    client = login(manager)
    data = {
        "topic": "safety",
        "title": "冬季安全用电",
        "body": "取暖设备请勿长时间无人看管。",
        "groups": [group.pk],
    }
    data["forward_to_important"] = "on"
    if scheduled:
        data["scheduled_at"] = "2099-01-01T09:00"
    response = client.post(reverse("groups:broadcast_create"), {**data, "preview": "1"})
    assert response.status_code == 200
    assert "冬季安全用电" in response.content.decode()
    assert Broadcast.objects.count() == 0
    response = client.post(reverse("groups:broadcast_create"), {**data, "save": "1"})
    assert response.status_code == 302
    broadcast = Broadcast.objects.get()
    assert broadcast.is_published is (not scheduled)
    assert client.get(reverse("groups:broadcasts")).status_code == 200
    assert client.get(reverse("groups:broadcast_detail", args=[broadcast.pk])).status_code == 200


def test_the_broadcast_composer_refuses_an_empty_body(login, group, manager):
    response = login(manager).post(
        reverse("groups:broadcast_create"),
        {"topic": "safety", "title": "x", "body": "", "groups": [group.pk]},
    )
    assert response.status_code == 400
    assert "请填写正文" in response.content.decode()
    assert Broadcast.objects.count() == 0


def test_editing_a_group_on_the_page(login, group, manager, grid):
    client = login(manager)
    assert client.get(reverse("groups:edit", args=[group.pk])).status_code == 200
    data = {
        "name": group.name,
        "kind": GroupKind.DISTRICT,
        "district": grid["district"].pk,
        "owner": manager.pk,
        "rules": "",
        "announcement": "新公告",
    }
    response = client.post(reverse("groups:edit", args=[group.pk]), data)
    assert response.status_code == 200
    assert "请填写群规" in response.content.decode()
    group.refresh_from_db()
    assert group.announcement != "新公告"
    data["rules"] = "文明发言，互相尊重。"
    assert client.post(reverse("groups:edit", args=[group.pk]), data).status_code == 302
    group.refresh_from_db()
    assert (group.rules, group.announcement) == ("文明发言，互相尊重。", "新公告")


def test_the_message_log_partial_and_the_archived_filter(login, group, manager, ask):
    ask()
    client = login(manager)
    response = client.get(reverse("groups:messages", args=[group.pk]), HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert "<html" not in response.content.decode()
    assert "请问今天为什么停电？" in response.content.decode()
    client.post(reverse("groups:archive", args=[group.pk]))
    assert client.get(reverse("groups:list")).context["page"].items == []
    archived = client.get(reverse("groups:list"), {"archived": "1"}).context["page"].items
    assert [g.pk for g in archived] == [group.pk]


def test_joining_a_group_shows_the_identity_card(login, group, colleague):
    response = login(colleague).post(reverse("groups:join", args=[group.pk]), follow=True)
    assert colleague.identity_card in response.content.decode()
    assert group.memberships.active().filter(user=colleague).exists()


def test_the_admin_lists_open(login, admin_user, group, ask):
    ask()
    client = login(admin_user)
    for name in ("servicegroup", "groupmessage", "broadcast", "replytemplate"):
        assert client.get(reverse(f"admin:groups_{name}_changelist")).status_code == 200
    assert client.get(reverse("admin:groups_servicegroup_change", args=[group.pk])).status_code == 200


@pytest.mark.parametrize(
    ("language", "labels", "never_spoke"),
    [
        (
            "zh-hans",
            ["群数", "僵尸群", "近期咨询", "按时回复率", "响应时长中位数", "待回复", "最近发言"],
            "从未发言",
        ),
        ("en", ["Groups", "Zombie group"], "Never spoken"),
    ],
)
def test_each_owner_row_carries_its_labels_and_a_link_to_the_owners_groups(
    language, labels, never_spoke, login, manager, colleague, supervisor, grid
):
    for owner in (manager, colleague):
        group_create(by=owner, name=f"{owner.username}的群", kind=GroupKind.VIP, rules="x")
    client = login(supervisor)
    client.cookies["django_language"] = language
    page = client.get(reverse("groups:list")).content.decode()
    table = page.split('id="owner-health-title"')[1].split("</table>")[0]
    rows = table.split("<tr data-owner=")[1:]
    assert len(rows) == 2
    for owner in (manager, colleague):
        row = next(row for row in rows if row.startswith(f'"{owner.pk}"'))
        assert f'href="{reverse("groups:list")}?owner={owner.pk}"' in row
        for label in labels:
            assert f'data-label="{label}"' in row
        assert never_spoke in row


@pytest.mark.parametrize(
    ("language", "owner", "leave", "remove", "reply", "convert", "key_attention"),
    [
        ("zh-hans", "负责人", "退群", "移出", "回复", "转为工单", "重点关注"),
        ("en", "Owner", "Leave group", "Remove", "Reply", "Convert to work order", "Key attention"),
    ],
)
def test_each_member_and_message_row_carries_its_own_labels_links_and_badges(
    language,
    owner,
    leave,
    remove,
    reply,
    convert,
    key_attention,
    login,
    group,
    manager,
    colleague,
    ask,
    make_customer,
):
    membership_add_contact(
        group=group, contact=make_customer(name="永乐小学", is_key_attention=True).contacts.get(), by=manager
    )
    membership_add_staff(group=group, user=colleague, by=manager)
    contacts = [m.contact for m in group.memberships.filter(contact__isnull=False).select_related("contact")]
    asked = [ask(f"第{index}个问题", who=contact) for index, contact in enumerate(contacts)]
    GroupMessage.objects.filter(pk=asked[0].pk).update(ticket_number="GD2026-0007")
    client = login(manager)
    client.cookies["django_language"] = language
    page = client.get(reverse("groups:detail", args=[group.pk])).content.decode()

    staff = page.split('class="list-unstyled mb-3 staff-members">')[1].split("</ul>")[0]
    rows = staff.split("<li ")[1:]
    assert len(rows) == 2
    for membership in group.memberships.filter(user__isnull=False):
        row = next(row for row in rows if f'data-member="{membership.pk}"' in row)
        if membership.user_id == manager.pk:
            assert owner in row and "<form" not in row
        else:
            assert f'action="{reverse("groups:member_leave", args=[group.pk, membership.pk])}"' in row
            assert leave in row

    customers = page.split('class="list-unstyled mb-0 customer-members">')[1].split("</ul>")[0]
    rows = customers.split("<li ")[1:]
    assert len(rows) == 2
    for membership in group.memberships.filter(contact__isnull=False).select_related("contact__customer"):
        row = next(row for row in rows if f'data-member="{membership.pk}"' in row)
        assert f'action="{reverse("groups:member_leave", args=[group.pk, membership.pk])}"' in row
        assert remove in row
        assert (key_attention in row) == membership.contact.customer.is_key_attention
        assert ("one-to-one-hint" in row) == membership.contact.customer.is_key_attention

    log = page.split('class="list-group list-group-flush small message-log">')[1].split("</ol>")[0]
    rows = log.split("<li ")[1:]
    assert len(rows) == 2
    converted, waiting = (next(row for row in rows if f'data-message="{m.pk}"' in row) for m in asked)
    assert f'href="{reverse("tickets:detail", args=["GD2026-0007"])}"' in converted
    assert "convert-to-ticket" not in converted
    assert f'href="{reverse("tickets:from_group_message", args=[asked[1].pk])}"' in waiting
    for row in rows:
        assert f">{reply}</a>" in row
    assert convert in waiting
    assert (key_attention in waiting) and "one-to-one-hint" in waiting
    assert key_attention not in converted and "one-to-one-hint" not in converted


def test_an_owner_row_escapes_the_name_and_marks_zombies(login, manager, supervisor, grid):
    manager.real_name = '<b>张"三</b>'
    manager.save(update_fields=["real_name"])
    group_create(by=manager, name="沉默群", kind=GroupKind.VIP, rules="x")
    ServiceGroup.objects.update(created_at=timezone.now() - timedelta(days=60))
    call_command("refresh_group_health")
    page = login(supervisor).get(reverse("groups:list")).content.decode()
    row = page.split(f'<tr data-owner="{manager.pk}"')[1].split("</tr>")[0]
    assert row.startswith(' class="table-warning">')
    assert "&lt;b&gt;张&quot;三&lt;/b&gt;</a>" in row
    assert '<td data-label="僵尸群"><span class="badge text-bg-danger">1</span></td>' in row


def test_the_owner_filter_lists_each_owner_escaped_and_keeps_the_one_chosen(
    login, manager, colleague, supervisor, grid
):
    colleague.real_name = "<i>李四</i>"
    colleague.save(update_fields=["real_name"])
    for owner in (manager, colleague):
        group_create(by=owner, name=f"{owner.username}的群", kind=GroupKind.VIP, rules="x")
    page = login(supervisor).get(reverse("groups:list"), {"owner": colleague.pk}).content.decode()
    select = page.split('id="filter-owner"')[1].split("</select>")[0]
    assert f'<option value="{manager.pk}">张三</option>' in select
    assert f'<option value="{colleague.pk}" selected>&lt;i&gt;李四&lt;/i&gt;</option>' in select
