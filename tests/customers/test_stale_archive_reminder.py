"""The weekly reminder of stale or incomplete archives: one in-app message per manager per week."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.utils import timezone

from customers.services import STALE_EXAMPLES_PER_MANAGER
from customers.tasks import remind_stale_archives
from notifications.models import Notification
from tests.factories import CustomerFactory, UserFactory

# A Monday morning in Asia/Shanghai, ISO week 2026-W48.
MONDAY = datetime(2026, 11, 23, 8, 30, tzinfo=ZoneInfo("Asia/Shanghai"))


def customer(manager, *, stale=False, completeness=100, **kwargs):
    verified_at = None if stale else timezone.now() - timedelta(days=10)
    return CustomerFactory(
        station=manager.org_unit,
        manager=manager,
        verified_at=verified_at,
        completeness=completeness,
        **kwargs,
    )


@pytest.fixture
def clock():
    with time_machine.travel(MONDAY, tick=False) as traveller:
        yield traveller


def test_each_manager_gets_one_reminder_per_week_however_often_it_runs(clock, manager, colleague):
    customer(manager, stale=True)
    customer(colleague, completeness=60)

    assert remind_stale_archives() == 2
    assert remind_stale_archives() == 0
    clock.shift(timedelta(days=6))  # Sunday: still the same ISO week
    assert remind_stale_archives() == 0

    reminders = Notification.objects.order_by("recipient_id")
    assert [(n.recipient, n.dedupe_key) for n in reminders] == [
        (manager, f"archive-stale:{manager.pk}:2026-W48"),
        (colleague, f"archive-stale:{colleague.pk}:2026-W48"),
    ]
    assert {n.channel for n in reminders} == {Notification.Channel.IN_APP}

    clock.shift(timedelta(days=1))  # the next Monday
    assert remind_stale_archives() == 2
    assert Notification.objects.filter(dedupe_key__endswith="2026-W49").count() == 2


def test_a_reminder_lists_only_that_managers_stale_or_incomplete_customers(clock, manager, colleague):
    customer(manager, stale=True, name="雷山县第一中学", number="5201000001")
    customer(manager, completeness=80, name="丹江镇卫生院", number="5201000002")
    customer(manager, name="永乐路商铺", number="5201000003")  # fresh and complete
    customer(colleague, stale=True, name="同事的客户", number="5201000004")
    gone = customer(manager, stale=True, name="已删除的客户", number="5201000005")
    gone.deleted_at = timezone.now()
    gone.save()

    remind_stale_archives()

    reminder = Notification.objects.get(recipient=manager)
    assert "2 户" in reminder.subject
    assert "1 户超过 365 天未核实" in reminder.body
    assert "1 户档案不完整" in reminder.body
    assert "雷山县第一中学（户号 5201000001）：未核实" in reminder.body
    assert "丹江镇卫生院（户号 5201000002）：完整度 80%" in reminder.body
    assert "永乐路商铺" not in reminder.body
    assert "同事的客户" not in reminder.body
    assert "已删除的客户" not in reminder.body
    assert reminder.link == f"/customers/?stale=1&manager={manager.pk}"
    assert reminder.status == Notification.Status.PENDING


def test_managers_with_nothing_to_do_and_inactive_ones_get_nothing(clock, manager, colleague, outsider):
    customer(manager)
    customer(colleague, stale=True)
    colleague.is_active = False
    colleague.save()
    customer(outsider, stale=True)

    assert remind_stale_archives() == 1
    assert list(Notification.objects.values_list("recipient", flat=True)) == [outsider.pk]


def test_the_list_stops_at_twenty_customers_with_the_total_still_counted(clock, manager):
    for _ in range(STALE_EXAMPLES_PER_MANAGER + 5):
        customer(manager, stale=True)

    remind_stale_archives()

    body = Notification.objects.get().body
    assert "25 户档案需要处理" in body
    assert f"其中 {STALE_EXAMPLES_PER_MANAGER} 户如下" in body
    assert body.count("户号") == STALE_EXAMPLES_PER_MANAGER


@pytest.mark.parametrize("customers_per_manager", [5, 50])
def test_the_number_of_queries_does_not_grow_with_customers_or_managers(
    clock, org_tree, customers_per_manager, django_assert_max_num_queries
):
    managers = [UserFactory(org_unit=org_tree["station"]) for _ in range(customers_per_manager // 5)]
    for index in range(customers_per_manager):
        customer(managers[index % len(managers)], stale=index % 2 == 0, completeness=50)

    # counts, examples, known keys, the insert, and the savepoint around them
    with django_assert_max_num_queries(6):
        assert remind_stale_archives() == len(managers)
