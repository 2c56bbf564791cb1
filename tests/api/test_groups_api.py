"""/api/v1/groups/: the list with health figures, one group, its members and its message log."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from groups.models import GroupKind, GroupMessage, Membership, ServiceGroup
from groups.services.groups import group_archive, group_create
from groups.services.members import membership_add_contact, membership_add_staff
from groups.services.messages import message_post, reply_post
from tests.api_errors import field_messages

GROUPS = "/api/v1/groups/"
RULES = "文明发言，不发广告；用电问题@客户经理。"


def detail(group) -> str:
    return f"{GROUPS}{group.pk}/"


def members(group) -> str:
    return f"{GROUPS}{group.pk}/members/"


def messages(group) -> str:
    return f"{GROUPS}{group.pk}/messages/"


@pytest.fixture
def group(manager, grid) -> ServiceGroup:
    return group_create(
        by=manager, name="永乐一号台区服务群", kind=GroupKind.DISTRICT, district=grid["district"], rules=RULES
    )


@pytest.fixture
def contact(mine):
    return mine.contacts.get()


@pytest.fixture
def member(group, contact, manager) -> Membership:
    membership, _created = membership_add_contact(group=group, contact=contact, by=manager)
    return membership


def ask(group, contact, *, ago: timedelta, text: str = "请问今天为什么停电？") -> GroupMessage:
    message, _created = message_post(
        group=group, contact=contact, text=text, sent_at=timezone.now() - ago, is_inquiry=True
    )
    return message


def ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


# --- Scoping ---------------------------------------------------------------------------------


def test_it_shows_the_outsider_no_group_and_answers_404_everywhere(api, outsider, group, member, contact):
    client = api(outsider)
    ask(group, contact, ago=timedelta(minutes=5))
    before = GroupMessage.objects.count(), Membership.objects.count()

    assert ids(client.get(GROUPS)) == []
    assert client.get(detail(group)).status_code == 404
    assert client.patch(detail(group), {"name": "改名"}, format="json").status_code == 404
    assert client.get(members(group)).status_code == 404
    assert client.post(members(group), {"user": outsider.username}, format="json").status_code == 404
    assert client.delete(f"{members(group)}{member.pk}/").status_code == 404
    assert client.post(f"{members(group)}{member.pk}/leave/").status_code == 404
    assert client.get(messages(group)).status_code == 404
    batch = [
        {"external_id": "x1", "contact": contact.pk, "text": "你好", "sent_at": timezone.now().isoformat()}
    ]
    assert client.post(messages(group), batch, format="json").status_code == 404
    assert (GroupMessage.objects.count(), Membership.objects.count()) == before
    assert ServiceGroup.objects.get(pk=group.pk).name == "永乐一号台区服务群"


def test_it_answers_401_to_anonymous_clients(api, group):
    client = api()

    for response in (
        client.get(GROUPS),
        client.get(detail(group)),
        client.get(members(group)),
        client.get(messages(group)),
        client.post(messages(group), [], format="json"),
    ):
        assert response.status_code == 401
        assert "detail" in response.json()


def test_the_colleague_and_the_supervisor_see_the_group(api, colleague, supervisor, group):
    assert ids(api(colleague).get(GROUPS)) == [group.pk]
    assert ids(api(supervisor).get(GROUPS)) == [group.pk]


# --- The list and its health -------------------------------------------------------------------


def test_the_list_carries_each_groups_health(api, manager, group, member, contact):
    ask(group, contact, ago=timedelta(days=2))
    ask(group, contact, ago=timedelta(minutes=1), text="谢谢")

    row = api(manager).get(GROUPS).json()["results"][0]

    health = row["health"]
    assert (health["unanswered_now"], health["overdue_now"], health["is_zombie"]) == (2, 1, True)
    assert health["inquiries_recent"] == 2
    assert health["zombie_reasons"] == ["1条咨询超时未回复"]
    assert health["owner_last_spoke_at"] is None
    assert {"in_time_share", "median_response_seconds", "answered_in_time", "silent_since"} <= set(health)
    assert row["owner"]["username"] == manager.username
    assert row["district"]["code"] == "TQ-LS-1"


def test_a_reply_shows_in_the_figures(api, manager, group, member, contact):
    inquiry = ask(group, contact, ago=timedelta(minutes=10))
    reply_post(group=group, by=manager, text="已安排抢修。", inquiry=inquiry)

    health = api(manager).get(detail(group)).json()["health"]

    assert (health["unanswered_now"], health["answered_in_time"], health["in_time_share"]) == (0, 1, 1.0)
    assert health["median_response_seconds"] is not None
    assert health["is_zombie"] is False


def test_the_list_filters_by_kind_owner_and_zombie(
    api, manager, supervisor, colleague, group, member, contact
):
    vip = group_create(by=colleague, name="大工业客户群", kind=GroupKind.VIP, rules=RULES)
    ask(group, contact, ago=timedelta(days=2))
    client = api(supervisor)

    assert ids(client.get(GROUPS, {"kind": "vip"})) == [vip.pk]
    assert ids(client.get(GROUPS, {"kind": "vip,district"})) == [vip.pk, group.pk]
    assert ids(client.get(GROUPS, {"owner": manager.pk})) == [group.pk]
    assert ids(client.get(GROUPS, {"zombie": "true"})) == [group.pk]
    assert ids(client.get(GROUPS, {"zombie": "false"})) == [vip.pk]
    assert client.get(GROUPS, {"kind": "nonsense"}).status_code == 400


def test_archived_groups_leave_the_list_unless_asked_for(api, manager, group):
    group_archive(group=group, by=manager)
    client = api(manager)

    assert ids(client.get(GROUPS)) == []
    assert ids(client.get(GROUPS, {"archived": "true"})) == [group.pk]


def list_queries(client) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(GROUPS, {"limit": 100})
    assert response.status_code == 200
    return len(queries), len(response.json()["results"])


@pytest.mark.parametrize("user", ["manager", "supervisor"])
def test_the_list_costs_the_same_queries_for_3_and_30_groups(api, request, manager, grid, mine, user):
    contact = mine.contacts.get()
    client = api(request.getfixturevalue(user))

    def make(count: int) -> None:
        for n in range(count):
            group = group_create(by=manager, name=f"群{n}", kind=GroupKind.VIP, rules=RULES)
            membership_add_contact(group=group, contact=contact, by=manager)
            inquiry = ask(group, contact, ago=timedelta(hours=n + 1))
            reply_post(group=group, by=manager, text="收到", inquiry=inquiry)

    make(3)
    few, rows = list_queries(client)
    assert rows == 3
    make(27)
    many, rows = list_queries(client)
    assert rows == 30

    assert many == few
    assert few <= 4


# --- One group: create and change -----------------------------------------------------------


def test_a_group_is_created_with_its_rules(api, manager, grid):
    response = api(manager).post(
        GROUPS,
        {"name": "永乐线路群", "kind": "line", "line": "XL-LS-1", "rules": RULES, "external_id": "wrOg1"},
        format="json",
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["line"]["code"] == "XL-LS-1"
    assert body["owner"]["username"] == manager.username
    assert body["health"]["unanswered_now"] == 0
    group = ServiceGroup.objects.get(pk=body["id"])
    assert Membership.objects.active().filter(group=group, user=manager).exists()


def test_a_group_without_rules_or_area_is_refused_by_field(api, manager, grid):
    client = api(manager)

    response = client.post(GROUPS, {"name": "台区群", "kind": "district", "rules": " "}, format="json")

    assert response.status_code == 400
    assert set(field_messages(response)) >= {"rules", "district"}
    assert not ServiceGroup.objects.exists()
    unknown = client.post(
        GROUPS, {"name": "群", "kind": "vip", "rules": RULES, "colour": "red"}, format="json"
    )
    assert unknown.status_code == 400
    assert "colour" in field_messages(unknown)
    valid = client.post(GROUPS, {"name": "台区群", "kind": "vip", "rules": RULES}, format="json")
    assert valid.status_code == 201


def test_the_owner_changes_the_group_and_a_colleague_may_not(api, manager, colleague, group):
    response = api(manager).patch(detail(group), {"announcement": "周六检修。"}, format="json")

    assert response.status_code == 200, response.content
    assert response.json()["announcement"] == "周六检修。"
    assert api(colleague).patch(detail(group), {"name": "改名"}, format="json").status_code == 403
    assert api(manager).patch(detail(group), {"rules": ""}, format="json").status_code == 400
    assert api(manager).patch(detail(group), {"external_id": "other"}, format="json").status_code == 400
    assert ServiceGroup.objects.get(pk=group.pk).name == "永乐一号台区服务群"


# --- Members -----------------------------------------------------------------------------------


def test_members_are_added_by_contact_id_or_username_and_listed(api, manager, colleague, group, contact):
    client = api(manager)

    added = client.post(members(group), {"contact": contact.pk}, format="json")
    again = client.post(members(group), {"contact": contact.pk}, format="json")
    joined = api(colleague).post(members(group), {"user": colleague.username}, format="json")

    assert (added.status_code, again.status_code, joined.status_code) == (201, 200, 201)
    assert added.json()["contact"]["customer"]["number"] == contact.customer.number
    listed = client.get(members(group)).json()["results"]
    assert [(row["kind"], (row["user"] or row["contact"])["id"]) for row in listed] == [
        ("staff", manager.pk),
        ("contact", contact.pk),
        ("staff", colleague.pk),
    ]


def test_adding_a_member_needs_exactly_one_known_person(api, manager, outsider, group, foreign):
    client = api(manager)

    assert client.post(members(group), {}, format="json").status_code == 400
    both = client.post(members(group), {"contact": 1, "user": manager.username}, format="json")
    assert both.status_code == 400
    hidden = client.post(members(group), {"contact": foreign.contacts.get().pk}, format="json")
    assert hidden.status_code == 400
    assert "contact" in field_messages(hidden)
    assert client.post(members(group), {"user": "nobody"}, format="json").status_code == 400
    assert Membership.objects.filter(group=group).count() == 1


def test_a_member_leaves_and_the_owner_cannot(api, manager, colleague, group, member):
    client = api(manager)
    owner = Membership.objects.get(group=group, user=manager)
    staff, _created = membership_add_staff(group=group, user=colleague, by=colleague)

    assert client.delete(f"{members(group)}{member.pk}/").status_code == 204
    left = api(colleague).post(f"{members(group)}{staff.pk}/leave/")
    assert left.status_code == 200
    assert left.json()["left_at"] is not None
    refused = client.delete(f"{members(group)}{owner.pk}/")
    assert refused.status_code == 400
    assert Membership.objects.active().filter(group=group).count() == 1
    assert client.delete(f"{members(group)}{member.pk}/").status_code == 404


# --- The message log ---------------------------------------------------------------------------


def test_the_log_is_newest_first_and_keyset_paginated(api, manager, group, member, contact):
    sent = [ask(group, contact, ago=timedelta(minutes=50 - n), text=f"第{n}条？") for n in range(5)]
    client = api(manager)

    first = client.get(messages(group), {"limit": 3}).json()
    second = client.get(first["next"]).json()

    assert [row["id"] for row in first["results"] + second["results"]] == [m.pk for m in reversed(sent)]
    assert second["next"] is None
    assert first["results"][0]["customer"]["number"] == contact.customer.number
    unanswered = client.get(messages(group), {"unanswered": "true"}).json()["results"]
    assert len(unanswered) == 5


def log_queries(client, group) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(messages(group), {"limit": 100})
    assert response.status_code == 200
    return len(queries)


def test_the_log_and_the_members_cost_the_same_queries_for_3_and_30_rows(
    api, manager, supervisor, group, member, contact, make_customer
):
    client = api(supervisor)
    for n in range(3):
        ask(group, contact, ago=timedelta(minutes=60 - n))
    few = log_queries(client, group)
    for n in range(27):
        inquiry = ask(group, contact, ago=timedelta(minutes=30 - n))
        reply_post(group=group, by=manager, text="收到", inquiry=inquiry)
        other = make_customer(
            number=f"52019000{n:02d}", contact={"name": f"联系人{n}", "mobile": f"139000000{n:02d}"}
        )
        membership_add_contact(group=group, contact=other.contacts.get(), by=manager)

    assert log_queries(client, group) == few <= 4
    with CaptureQueriesContext(connection) as queries:
        response = client.get(members(group), {"limit": 100})
    assert len(response.json()["results"]) == 29
    assert len(queries) <= 4


def test_a_second_group_with_the_same_wechat_id_is_refused(api, manager, grid):
    client = api(manager)
    body = {"name": "大客户群", "kind": "vip", "rules": RULES, "external_id": "wrOg1"}

    assert client.post(GROUPS, body, format="json").status_code == 201
    again = client.post(GROUPS, {**body, "name": "另一个群"}, format="json")
    assert again.status_code == 400
    assert "external_id" in field_messages(again)
