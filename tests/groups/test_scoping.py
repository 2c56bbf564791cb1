"""Who sees which groups: an outsider gets 404 everywhere and an empty list."""

import pytest
from django.urls import reverse

from groups.models import Broadcast, GroupMessage, Membership, ReplyTemplate, ServiceGroup


def test_querysets_follow_owner_unit_and_subtree(
    group, ask, manager, colleague, supervisor, outsider, admin_user
):
    message = ask()
    for user in (manager, colleague, supervisor, admin_user):
        assert ServiceGroup.objects.visible_to(user).filter(pk=group.pk).exists()
        assert GroupMessage.objects.visible_to(user).filter(pk=message.pk).exists()
        assert Membership.objects.visible_to(user).filter(group=group).exists()
    assert not ServiceGroup.objects.visible_to(outsider).exists()
    assert not GroupMessage.objects.visible_to(outsider).exists()
    assert not Membership.objects.visible_to(outsider).exists()
    assert not Broadcast.objects.visible_to(outsider).exists()
    assert not ReplyTemplate.objects.visible_to(outsider).exists()


def test_the_outsider_sees_no_group_in_the_list(group, login, outsider):
    response = login(outsider).get(reverse("groups:list"))
    assert response.status_code == 200
    assert response.context["page"].items == []
    assert group.name not in response.content.decode()


@pytest.fixture
def pages(group, ask, member):
    message = ask()
    return [
        ("get", reverse("groups:detail", args=[group.pk]), {}),
        ("get", reverse("groups:edit", args=[group.pk]), {}),
        ("post", reverse("groups:edit", args=[group.pk]), {"name": "x", "kind": "vip", "rules": "x"}),
        ("post", reverse("groups:archive", args=[group.pk]), {}),
        ("post", reverse("groups:join", args=[group.pk]), {}),
        ("get", reverse("groups:messages", args=[group.pk]), {}),
        (
            "post",
            reverse("groups:messages", args=[group.pk]),
            {"contact": message.sender_contact_id, "text": "x"},
        ),
        ("post", reverse("groups:reply", args=[group.pk]), {"text": "您好", "inquiry": message.pk}),
        ("post", reverse("groups:member_add", args=[group.pk]), {"customer_number": message.customer.number}),
        ("post", reverse("groups:member_leave", args=[group.pk, member.pk]), {}),
        ("post", reverse("groups:add_district_customers", args=[group.pk]), {}),
        ("get", reverse("tickets:from_group_message", args=[message.pk]), {}),
        (
            "post",
            reverse("tickets:from_group_message", args=[message.pk]),
            {"kind": "complaint", "category": "other"},
        ),
    ]


def test_the_outsider_gets_404_on_every_group_page_and_nothing_changes(pages, group, login, outsider):
    client = login(outsider)
    before = (GroupMessage.objects.count(), Membership.objects.active().count())
    for method, url, data in pages:
        response = getattr(client, method)(url, data)
        assert response.status_code == 404, url
    group.refresh_from_db()
    assert group.archived_at is None
    assert (GroupMessage.objects.count(), Membership.objects.active().count()) == before
    from tickets.models import Ticket

    assert Ticket.objects.count() == 0


def test_the_outsider_gets_404_on_a_broadcast(group, manager, login, outsider):
    from groups.services.broadcasts import broadcast_create

    broadcast = broadcast_create(
        by=manager, topic="safety", title="安全用电", body="注意安全。", groups=[group]
    )
    client = login(outsider)
    assert client.get(reverse("groups:broadcast_detail", args=[broadcast.pk])).status_code == 404
    assert client.post(reverse("groups:broadcast_publish", args=[broadcast.pk])).status_code == 404


def test_anonymous_users_are_sent_to_the_login(group, client):
    response = client.get(reverse("groups:detail", args=[group.pk]))
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_a_colleague_sees_the_group_but_may_not_manage_it(group, login, colleague):
    client = login(colleague)
    assert client.get(reverse("groups:detail", args=[group.pk])).status_code == 200
    assert client.get(reverse("groups:edit", args=[group.pk])).status_code == 403
    assert client.post(reverse("groups:archive", args=[group.pk])).status_code == 403
    group.refresh_from_db()
    assert group.archived_at is None
