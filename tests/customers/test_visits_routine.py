"""The daily routine-visit scan: sensitive customers left without one-to-one contact get one visit."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from customers.interactions.services import interaction_log
from customers.models import Customer, Interaction, Visit
from customers.tasks import schedule_routine_visits
from notifications.models import Notification
from tests.customers.conftest import next_number


def _sensitive(make_customer, manager, **fields):
    fields.setdefault("is_high_sensitivity", True)
    return make_customer(by=manager, number=next_number(), manager=manager, **fields)


def test_it_plans_one_visit_per_neglected_sensitive_customer_and_tells_the_manager(
    make_customer, manager, colleague
):
    neglected = _sensitive(make_customer, manager, name="雷山县人民医院")
    vip = _sensitive(make_customer, manager, name="茶叶公司", is_high_sensitivity=False, vip_tier=1)
    called = _sensitive(make_customer, manager, name="刚打过电话")
    in_group_only = _sensitive(make_customer, manager, name="只在群里聊过")
    visited = _sensitive(make_customer, manager, name="上周走访过")
    make_customer(by=manager, name="普通居民", manager=manager)
    _sensitive(make_customer, colleague, name="李四的医院")
    now = timezone.now()
    interaction_log(
        customer=called,
        staff=manager,
        channel=Interaction.Channel.PHONE,
        occurred_at=now - timedelta(days=3),
        summary="电话问候",
    )
    interaction_log(
        customer=in_group_only,
        staff=manager,
        channel=Interaction.Channel.WECHAT_GROUP,
        occurred_at=now - timedelta(days=3),
        summary="群里回复",
    )
    Visit.objects.create(
        customer=visited, staff=manager, purpose=Visit.Purpose.ROUTINE, scheduled_at=now - timedelta(days=7)
    )

    assert schedule_routine_visits() == 4

    planned = Visit.objects.filter(purpose=Visit.Purpose.ROUTINE, origin_key__startswith="routine:")
    assert {visit.customer_id for visit in planned} == {
        neglected.pk,
        vip.pk,
        in_group_only.pk,
        Customer.objects.get(name="李四的医院").pk,
    }
    assert all(visit.scheduled_at > now for visit in planned)
    assert planned.get(customer=neglected).staff == manager
    note = Notification.objects.get(recipient=manager)
    assert "例行走访" in note.subject
    assert "雷山县人民医院" in note.body and "刚打过电话" not in note.body
    assert Notification.objects.filter(recipient=colleague).count() == 1


def test_running_it_again_creates_nothing_twice(make_customer, manager):
    for _index in range(3):
        _sensitive(make_customer, manager)

    schedule_routine_visits()
    visits, notes = Visit.objects.count(), Notification.objects.count()
    assert schedule_routine_visits() == 0
    Visit.objects.update(scheduled_at=timezone.now() - timedelta(days=40))
    schedule_routine_visits()  # the same month: the origin key stops a second visit

    assert (Visit.objects.count(), Notification.objects.count()) == (visits, notes) == (3, 1)


@pytest.mark.parametrize("count", [5, 50])
def test_the_scan_runs_a_constant_number_of_queries(make_customer, manager, colleague, count):
    for index in range(count):
        _sensitive(make_customer, manager if index % 2 else colleague, name=f"重点客户{index}")

    with CaptureQueriesContext(connection) as captured:
        schedule_routine_visits()

    assert Visit.objects.count() == count
    # Candidates, visit insert, existing notification keys, notification insert (+ savepoints on SQLite).
    assert len(captured) <= 8, [query["sql"][:80] for query in captured]


def test_query_count_does_not_grow_with_customers(make_customer, manager):
    counts = []
    for batch in (5, 50):
        Visit.objects.all().delete()
        Notification.objects.all().delete()
        Customer.objects.all().update(is_high_sensitivity=False)
        for _index in range(batch):
            _sensitive(make_customer, manager)
        with CaptureQueriesContext(connection) as captured:
            schedule_routine_visits()
        counts.append(len(captured))
        assert Visit.objects.count() == batch

    assert counts[0] == counts[1]
