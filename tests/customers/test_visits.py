"""Visits (走访): planning, preparation, confirm and complete, the weekly planner, scoping."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from customers.models import Visit
from customers.visits.selectors import week_bounds
from customers.visits.services import visit_complete, visit_confirm, visit_prepare, visit_schedule


def _schedule(customer, staff, **fields):
    values = {
        "purpose": Visit.Purpose.COMPLAINT_FOLLOW_UP,
        "scheduled_at": timezone.now() + timedelta(hours=2),
    }
    values.update(fields)
    return visit_schedule(customer=customer, staff=staff, created_by=staff, **values)


def test_it_plans_confirms_and_completes_a_visit(mine, manager):
    visit = _schedule(mine, manager, prep_cause="投诉电压不稳")
    visit = visit_prepare(visit=visit, user=manager, prep_basics_reviewed=True, prep_solution="调整分接头")
    assert visit.is_prepared

    visit = visit_confirm(visit=visit, user=manager)
    assert visit.appointment_confirmed and visit.confirmed_at

    visit = visit_complete(visit=visit, user=manager, outcome="已调整，客户满意。")
    stored = Visit.objects.get(pk=visit.pk)
    assert stored.done_at and stored.outcome == "已调整，客户满意。"


def test_completing_needs_an_outcome_and_changes_nothing_without_one(mine, manager):
    visit = _schedule(mine, manager)

    with pytest.raises(ValidationError) as caught:
        visit_complete(visit=visit, user=manager, outcome="  ")

    assert caught.value.message_dict["outcome"] == ["请填写走访结果。"]
    assert Visit.objects.get(pk=visit.pk).done_at is None
    visit_complete(visit=visit, user=manager, outcome="完成")
    with pytest.raises(ValidationError, match="该走访已完成"):
        visit_complete(visit=visit, user=manager, outcome="再次完成")


def test_it_rejects_a_time_in_the_past_and_a_visitor_who_cannot_see_the_customer(mine, manager, outsider):
    with pytest.raises(ValidationError) as caught:
        _schedule(mine, manager, scheduled_at=timezone.now() - timedelta(days=1))
    assert caught.value.message_dict["scheduled_at"] == ["计划走访时间不能早于当前时间。"]

    with pytest.raises(ValidationError) as caught:
        _schedule(mine, outsider)
    assert "无权查看该客户" in caught.value.message_dict["staff"][0]
    assert not Visit.objects.exists()


def test_the_planner_shows_this_weeks_visits_in_order(login, make_customer, manager, colleague, mine):
    start, end = week_bounds(timezone.localdate())
    other = make_customer(by=manager, name="永乐村委会", manager=manager)
    late = Visit.objects.create(
        customer=mine, staff=manager, purpose=Visit.Purpose.ROUTINE, scheduled_at=end - timedelta(hours=1)
    )
    early = Visit.objects.create(
        customer=other,
        staff=manager,
        purpose=Visit.Purpose.ARCHIVE_CHECK,
        scheduled_at=start + timedelta(hours=1),
    )
    Visit.objects.create(
        customer=mine, staff=manager, purpose=Visit.Purpose.ROUTINE, scheduled_at=end + timedelta(days=1)
    )
    Visit.objects.create(
        customer=mine, staff=colleague, purpose=Visit.Purpose.ROUTINE, scheduled_at=start + timedelta(hours=2)
    )

    response = login(manager).get(reverse("customers:visit_planner"))

    assert response.status_code == 200
    assert [visit.pk for visit in response.context["visits"]] == [early.pk, late.pk]
    page = response.content.decode()
    assert page.index("永乐村委会") < page.index("雷山县永乐酒店")
    assert "已掌握客户基本信息" in page


def test_confirm_and_complete_from_the_planner(login, mine, manager):
    visit = _schedule(mine, manager)
    client = login(manager)

    client.post(reverse("customers:visit_confirm", args=[visit.pk]))
    client.post(reverse("customers:visit_complete", args=[visit.pk]), {"outcome": ""})
    assert Visit.objects.get(pk=visit.pk).done_at is None
    client.post(reverse("customers:visit_complete", args=[visit.pk]), {"outcome": "现场核实完毕"})

    stored = Visit.objects.get(pk=visit.pk)
    assert stored.appointment_confirmed and stored.outcome == "现场核实完毕"


def test_a_visit_is_planned_from_the_360_page(login, mine, manager):
    when = timezone.localtime(timezone.now() + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")

    response = login(manager).post(
        reverse("customers:visit_create", args=[mine.number]),
        {"purpose": "archive_check", "scheduled_at": when, "prep_cause": "核实用电地址"},
    )

    assert response.status_code == 302
    visit = Visit.objects.get()
    assert (visit.customer, visit.staff, visit.prep_cause) == (mine, manager, "核实用电地址")


def test_an_outsider_gets_404_on_visit_pages_and_actions(login, mine, manager, outsider):
    visit = _schedule(mine, manager)
    client = login(outsider)

    assert client.get(reverse("customers:visit_create", args=[mine.number])).status_code == 404
    assert client.post(reverse("customers:visit_confirm", args=[visit.pk])).status_code == 404
    assert (
        client.post(reverse("customers:visit_prepare", args=[visit.pk]), {"prep_cause": "x"}).status_code
        == 404
    )
    response = client.post(reverse("customers:visit_complete", args=[visit.pk]), {"outcome": "x"})
    assert response.status_code == 404
    assert list(client.get(reverse("customers:visit_planner")).context["visits"]) == []
    stored = Visit.objects.get(pk=visit.pk)
    assert not stored.appointment_confirmed and stored.done_at is None
