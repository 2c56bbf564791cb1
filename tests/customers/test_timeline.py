"""The 360 page's timeline: interactions, visits and group messages, newest first, bounded queries."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from customers.models import Interaction, Visit
from groups.models import GroupKind, GroupMessage, ServiceGroup
from workspace.timeline import customer_timeline


@pytest.fixture
def vip_group(manager, org_tree):
    return ServiceGroup.objects.create(
        name="雷山VIP客户群",
        kind=GroupKind.VIP,
        owner=manager,
        org_unit=org_tree["station"],
        rules="实名发言",
    )


def _fill(customer, staff, group, count: int, *, start=None):
    """`count` entries spread over interactions, visits and group messages, one minute apart."""
    start = start or timezone.now() - timedelta(days=1)
    contact = customer.contacts.first()
    for index in range(count):
        when = start + timedelta(minutes=index)
        if index % 3 == 0:
            Interaction.objects.create(
                customer=customer, staff=staff, channel="phone", occurred_at=when, summary=f"联系{index}"
            )
        elif index % 3 == 1:
            Visit.objects.create(
                customer=customer,
                staff=staff,
                purpose=Visit.Purpose.ROUTINE,
                scheduled_at=when - timedelta(hours=1),
                done_at=when,
                outcome=f"走访{index}",
            )
        else:
            GroupMessage.objects.create(
                group=group,
                sender_kind=GroupMessage.SenderKind.CUSTOMER,
                sender_contact=contact,
                sender_name=contact.name,
                text=f"群消息{index}",
                sent_at=when,
            )


def test_it_merges_the_three_sources_newest_first_and_pages_without_gaps(mine, manager, vip_group):
    _fill(mine, manager, vip_group, 7)
    same_time = timezone.now() - timedelta(hours=2)
    Interaction.objects.create(
        customer=mine, staff=manager, channel="sms", occurred_at=same_time, summary="a"
    )
    Interaction.objects.create(
        customer=mine, staff=manager, channel="sms", occurred_at=same_time, summary="b"
    )

    seen = []
    cursor = None
    while True:
        page = customer_timeline(user=manager, customer=mine, cursor=cursor, limit=2)
        seen += page.entries
        cursor = page.next_cursor
        if cursor is None:
            break

    assert len(seen) == 9
    assert len({(entry.kind, entry.pk) for entry in seen}) == 9
    times = [entry.when for entry in seen]
    assert times == sorted(times, reverse=True)
    assert {entry.kind for entry in seen} == {"interaction", "visit", "message"}
    assert [entry.obj.summary for entry in seen[:2]] == ["b", "a"]


def test_group_messages_follow_the_groups_scope(mine, manager, colleague, outsider, vip_group, admin_user):
    _fill(mine, manager, vip_group, 3)
    other_group = ServiceGroup.objects.create(
        name="凯里公共群", kind=GroupKind.PUBLIC, owner=outsider, org_unit=outsider.org_unit, rules="文明发言"
    )
    contact = mine.contacts.first()
    GroupMessage.objects.create(
        group=other_group,
        sender_kind="customer",
        customer=mine,
        sender_name=contact.name,
        text="外县群里说的",
    )

    mine_kinds = [entry.kind for entry in customer_timeline(user=manager, customer=mine).entries]
    admin_texts = [
        getattr(entry.obj, "text", "") for entry in customer_timeline(user=admin_user, customer=mine).entries
    ]

    assert mine_kinds.count("message") == 1
    assert "外县群里说的" in admin_texts


def test_the_360_page_and_its_timeline_keep_their_query_counts(login, mine, manager, vip_group):
    client = login(manager)
    detail = reverse("customers:detail", args=[mine.number])
    timeline = reverse("customer_timeline", args=[mine.number])
    counts = {}
    for total, added in ((3, 3), (30, 27)):
        _fill(mine, manager, vip_group, added, start=timezone.now() - timedelta(days=total))
        with CaptureQueriesContext(connection) as on_detail:
            assert client.get(detail).status_code == 200
        with CaptureQueriesContext(connection) as on_timeline:
            response = client.get(timeline)
        assert response.status_code == 200
        counts[total] = (len(on_detail), len(on_timeline), len(response.context["page"].entries))

    assert counts[3][2] == 3 and counts[30][2] == 20
    assert counts[3][0] == counts[30][0]
    assert counts[3][1] == counts[30][1]
    # The panel reads the customer's own row only: session, user, unread count, the
    # customer, its contacts' ids and the three sources.
    assert counts[30][1] == 8


def test_the_timeline_renders_newest_first_with_a_link_to_older_entries(login, mine, manager, vip_group):
    _fill(mine, manager, vip_group, 25)

    response = login(manager).get(reverse("customer_timeline", args=[mine.number]))

    page = response.content.decode()
    assert page.index("联系24") < page.index("走访22") < page.index("群消息20")
    assert "更早的记录" in page
    older = login(manager).get(
        reverse("customer_timeline", args=[mine.number]), {"cursor": response.context["page"].next_cursor}
    )
    assert "联系0" in older.content.decode()
    assert 'id="customer-timeline"' not in older.content.decode()


def test_the_360_page_holds_the_panel_and_an_outsider_gets_404(login, mine, manager, outsider):
    page = login(manager).get(reverse("customers:detail", args=[mine.number])).content.decode()
    assert "联系时间线" in page
    assert reverse("customers:interaction_create", args=[mine.number]) in page

    assert login(outsider).get(reverse("customer_timeline", args=[mine.number])).status_code == 404


def test_a_bad_cursor_shows_the_first_page(mine, manager, vip_group):
    _fill(mine, manager, vip_group, 2)

    assert len(customer_timeline(user=manager, customer=mine, cursor="nonsense|x|y").entries) == 2
