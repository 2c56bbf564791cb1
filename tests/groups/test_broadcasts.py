"""Broadcasts: published once, and every important customer told one-to-one."""

import threading
from datetime import timedelta

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import connection

from customers.models import Contact
from groups import tasks
from groups.models import Broadcast, BroadcastTopic, GroupKind, GroupMessage
from groups.services.broadcasts import broadcast_create, broadcast_publish, broadcasts_publish_due
from groups.services.groups import group_create
from groups.services.members import membership_add_contact
from notifications.models import Notification
from tests.groups.conftest import local

NOW = local(2026, 11, 20, 9, 0)


@pytest.fixture
def members(group, manager, make_customer):
    """Two ordinary customers, an important one with two contacts, a VIP preferring e-mail."""
    ordinary = [make_customer(), make_customer()]
    important = make_customer(contacts=2, is_important=True, name="雷山县人民医院")
    vip = make_customer(vip_tier=2, name="永乐酒店")
    Contact.objects.filter(customer=vip).update(
        preferred_channel=Contact.Channel.EMAIL, email="hotel@example.com"
    )
    for customer in [*ordinary, important, vip]:
        for contact in customer.contacts.all():
            membership_add_contact(group=group, contact=contact, by=manager)
    return {"ordinary": ordinary, "important": important, "vip": vip}


def compose(by, groups, **overrides):
    fields = {
        "topic": BroadcastTopic.OUTAGE,
        "title": "11月22日计划停电通知",
        "body": "因线路检修，永乐一号台区11月22日8:00-12:00停电，请提前做好准备。",
        "groups": groups,
    }
    fields.update(overrides)
    return broadcast_create(by=by, **fields)


def personal(broadcast) -> list[Notification]:
    return list(
        Notification.objects.filter(dedupe_key__startswith=f"broadcast:{broadcast.pk}:").order_by("id")
    )


def test_publishing_posts_in_each_group_and_tells_each_important_contact_once(group, manager, members):
    with time_machine.travel(NOW, tick=False):
        broadcast = compose(manager, [group])
    assert broadcast.published_at == NOW
    rows = personal(broadcast)
    important_contacts = list(members["important"].contacts.all()) + list(members["vip"].contacts.all())
    assert sorted(row.dedupe_key for row in rows) == sorted(
        f"broadcast:{broadcast.pk}:contact:{contact.pk}" for contact in important_contacts
    )
    by_address = {row.address: row.channel for row in rows}
    assert by_address["hotel@example.com"] == Notification.Channel.EMAIL
    assert {row.channel for row in rows if row.address != "hotel@example.com"} == {Notification.Channel.SMS}
    assert broadcast.personal_notices == 3
    posted = GroupMessage.objects.get(group=group, broadcast=broadcast)
    assert posted.sender_user == manager and "计划停电" in posted.text

    again = broadcast_publish(broadcast=broadcast, by=manager)
    assert again.published is False
    assert len(personal(broadcast)) == 3
    assert GroupMessage.objects.filter(broadcast=broadcast).count() == 1


def test_a_contact_in_two_target_groups_is_told_once(group, manager, members, grid):
    other = group_create(by=manager, name="永乐线群", kind=GroupKind.LINE, line=grid["line"], rules="x")
    for contact in members["important"].contacts.all():
        membership_add_contact(group=other, contact=contact, by=manager)
    broadcast = compose(manager, [group, other])
    assert len(personal(broadcast)) == 3
    assert GroupMessage.objects.filter(broadcast=broadcast).count() == 2


def test_switching_off_the_personal_forward_is_refused_while_important_customers_are_there(
    group, manager, members
):
    with pytest.raises(ValidationError) as exc:
        compose(manager, [group], forward_to_important=False)
    assert "3位重点客户" in exc.value.message_dict["forward_to_important"][0]
    assert Broadcast.objects.count() == 0


def test_a_caller_that_tells_important_customers_itself_posts_only_in_the_groups(group, manager, members):
    broadcast = compose(manager, [group], important_told_elsewhere=True)
    assert broadcast.published_at is not None and broadcast.forward_to_important is False
    assert personal(broadcast) == []
    assert GroupMessage.objects.filter(broadcast=broadcast).count() == 1


def test_telling_important_customers_elsewhere_is_for_immediate_broadcasts_only(group, manager, members):
    with time_machine.travel(NOW, tick=False), pytest.raises(ValidationError) as exc:
        compose(manager, [group], important_told_elsewhere=True, scheduled_at=NOW + timedelta(hours=1))
    assert "scheduled_at" in exc.value.message_dict
    assert Broadcast.objects.count() == 0


def test_a_scheduled_broadcast_waits_for_its_time_and_goes_out_once(group, manager, members):
    with time_machine.travel(NOW, tick=False):
        broadcast = compose(manager, [group], scheduled_at=NOW + timedelta(hours=2))
        assert broadcast.published_at is None
        assert tasks.publish_due_broadcasts() == 0
    with time_machine.travel(NOW + timedelta(hours=2, minutes=1), tick=False):
        assert tasks.publish_due_broadcasts() == 1
        assert tasks.publish_due_broadcasts() == 0
    broadcast.refresh_from_db()
    assert broadcast.published_at == NOW + timedelta(hours=2, minutes=1)
    assert len(personal(broadcast)) == 3


def test_a_broadcast_only_goes_to_groups_the_author_sees(group, outsider):
    with pytest.raises(ValidationError) as exc:
        compose(outsider, [group])
    assert "groups" in exc.value.message_dict


def test_a_colleague_cannot_publish_someone_elses_broadcast(group, manager, colleague, supervisor):
    from django.core.exceptions import PermissionDenied

    with time_machine.travel(NOW, tick=False):
        broadcast = compose(manager, [group], scheduled_at=NOW + timedelta(days=1))
    with pytest.raises(PermissionDenied):
        broadcast_publish(broadcast=broadcast, by=colleague)
    assert broadcast_publish(broadcast=broadcast, by=supervisor).published


@pytest.mark.django_db(transaction=True)
def test_two_publishers_at_once_publish_each_broadcast_once(group, manager, members):
    if connection.vendor != "postgresql":
        pytest.skip("row locks with SKIP LOCKED need PostgreSQL")
    with time_machine.travel(NOW, tick=False):
        broadcasts = [
            compose(manager, [group], title=f"第{i}期安全用电提示", scheduled_at=NOW + timedelta(minutes=5))
            for i in range(8)
        ]
    errors, counts, barrier = [], [], threading.Barrier(2)

    def run():
        try:
            barrier.wait()
            with time_machine.travel(NOW + timedelta(minutes=6), tick=False):
                counts.append(broadcasts_publish_due())
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sum(counts) == len(broadcasts)
    for broadcast in broadcasts:
        assert GroupMessage.objects.filter(broadcast=broadcast).count() == 1
        assert len(personal(broadcast)) == 3
