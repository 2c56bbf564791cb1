"""The workbench's day: the on-site visits (走访) of today and those left undone, a district's
long-outage visit included, and the follow-ups (下次跟进) whose date has come."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from customers.models import Interaction, Visit
from tests.factories import CustomerFactory, DistrictFactory

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))

pytestmark = pytest.mark.django_db


@pytest.fixture
def customer(org_tree, manager):
    return CustomerFactory(station=org_tree["station"], manager=manager, name="杨丽")


def _visit(staff, at, *, customer=None, district=None, done=False, purpose=Visit.Purpose.ROUTINE):
    return Visit.objects.create(
        staff=staff,
        customer=customer,
        district=district,
        purpose=purpose,
        scheduled_at=at,
        done_at=at if done else None,
    )


def _contact(customer, staff, at, follow_up):
    return Interaction.objects.create(
        customer=customer,
        staff=staff,
        channel=Interaction.Channel.PHONE,
        direction=Interaction.Direction.OUTBOUND,
        occurred_at=at,
        summary="电话联系客户",
        next_follow_up=follow_up,
    )


def _workbench(login, user):
    with time_machine.travel(NOW, tick=False):
        response = login(user).get("/")
    assert response.status_code == 200
    return response


def test_todays_visits_and_those_left_undone_are_on_the_workbench(
    login, manager, colleague, customer, org_tree
):
    district = DistrictFactory(station=org_tree["station"], manager=manager, name="丹江一台区")
    today = _visit(manager, NOW.replace(hour=16, minute=30), customer=customer)
    outage = _visit(manager, NOW - timedelta(hours=2), district=district, purpose=Visit.Purpose.OUTAGE)
    undone = _visit(manager, NOW - timedelta(days=2), customer=customer)
    _visit(manager, NOW + timedelta(days=1), customer=customer)  # tomorrow
    _visit(manager, NOW.replace(hour=8), customer=customer, done=True)  # done
    _visit(colleague, NOW.replace(hour=10), customer=customer)  # someone else's

    response = _workbench(login, manager)

    visits = response.context["site_visits"]
    assert [visit.pk for visit in visits.items] == [undone.pk, outage.pk, today.pk]
    assert visits.counts == {"total": 3, "overdue": 1}
    body = response.content.decode()
    assert "16:30" in body and "丹江一台区" in body and f"#visit-{today.pk}" in body
    assert "已逾期未完成" in body


def test_follow_ups_whose_date_has_come_are_on_the_workbench_until_a_contact_is_logged(
    login, manager, colleague, customer, org_tree
):
    other = CustomerFactory(station=org_tree["station"], manager=colleague, name="别人的客户")
    second = CustomerFactory(station=org_tree["station"], manager=manager, name="王强")
    due_today = _contact(customer, manager, NOW - timedelta(days=7), NOW.date())
    overdue = _contact(second, colleague, NOW - timedelta(days=9), NOW.date() - timedelta(days=2))
    _contact(other, colleague, NOW - timedelta(days=7), NOW.date())  # not mine
    later = CustomerFactory(station=org_tree["station"], manager=manager, name="已跟进客户")
    _contact(later, manager, NOW - timedelta(days=7), NOW.date() - timedelta(days=1))
    _contact(later, manager, NOW - timedelta(days=1), None)  # followed up since
    future = CustomerFactory(station=org_tree["station"], manager=manager, name="下周跟进")
    _contact(future, manager, NOW - timedelta(days=1), NOW.date() + timedelta(days=5))

    follow_ups = _workbench(login, manager).context["follow_ups"]

    assert [i.pk for i in follow_ups.items] == [overdue.pk, due_today.pk]
    assert follow_ups.counts == {"total": 2, "overdue": 1}
    # The colleague who logged the contact sees it too (their own follow-up), not the rest.
    theirs = _workbench(login, colleague).context["follow_ups"]
    assert {i.customer.name for i in theirs.items} == {"王强", "别人的客户"}


def test_the_schedule_section_refreshes_alone_and_costs_the_same_with_more_rows(login, manager, customer):
    client = login(manager)

    def queries() -> int:
        with time_machine.travel(NOW, tick=False), CaptureQueriesContext(connection) as captured:
            assert client.get("/workbench/schedule/").status_code == 200
        return len(captured)

    _visit(manager, NOW.replace(hour=11), customer=customer)
    _contact(customer, manager, NOW - timedelta(days=3), NOW.date())
    few = queries()
    for hour in range(12, 18):
        _visit(manager, NOW.replace(hour=hour), customer=customer)
        _contact(CustomerFactory(station=customer.station, manager=manager), manager, NOW, NOW.date())
    assert queries() == few
