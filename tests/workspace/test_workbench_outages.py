"""The workbench's outage section: outages over my districts, now and in the next 7 days."""

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from outages import services
from outages.models import OutageKind
from outages.selectors import WORKBENCH_LIMIT
from tests.factories import CustomerFactory, DistrictFactory, LineFactory

SECTION = "/workbench/outages/"


@pytest.fixture
def grid(org_tree, manager, colleague):
    """My two districts on line 1, a colleague's district on line 2 of the same station."""
    station = org_tree["station"]
    line = LineFactory(station=station, name="10kV永乐线")
    other_line = LineFactory(station=station, name="10kV丹江线")
    return {
        "line": line,
        "mine": DistrictFactory(station=station, line=line, manager=manager, name="永乐一号台区"),
        "mine_too": DistrictFactory(station=station, line=line, manager=manager, name="永乐二号台区"),
        "colleagues": DistrictFactory(station=station, line=other_line, manager=colleague, name="丹江台区"),
    }


def _customers(district, count):
    return [
        CustomerFactory(station=district.station, district=district, line=district.line)
        for _n in range(count)
    ]


def _planned(by, days: float, **scope):
    start = timezone.now() + timedelta(days=days)
    return services.outage_create(
        by=by,
        kind=OutageKind.PLANNED,
        reason=scope.pop("reason", "线路检修"),
        planned_start=start,
        planned_end=start + timedelta(hours=8),
        **scope,
    )


def _fault(by, **scope):
    outage = services.outage_create(
        by=by,
        kind=OutageKind.FAULT,
        reason=scope.pop("reason", "变压器故障"),
        estimated_restoration=timezone.now() + timedelta(hours=3),
        **scope,
    )
    return services.outage_publish(outage=outage)


def _shown(response) -> list[int]:
    return [int(pk) for pk in re.findall(r'data-outage="(\d+)"', response.content.decode())]


def test_it_lists_ongoing_and_coming_outages_over_my_districts(login, manager, colleague, grid):
    _customers(grid["mine"], 3)
    _customers(grid["mine_too"], 2)
    _customers(grid["colleagues"], 4)
    ongoing = _fault(manager, districts=[grid["mine"]])
    soon = services.outage_publish(outage=_planned(manager, 6, lines=[grid["line"]], reason="计划检修"))
    not_published = _planned(manager, 2, districts=[grid["mine_too"]], reason="更换表箱")
    # Left out: too far off, over a colleague's district, already over or cancelled.
    far = _planned(manager, 8, districts=[grid["mine"]])
    colleagues = _fault(colleague, districts=[grid["colleagues"]])
    restored = services.outage_restore(outage=_fault(manager, districts=[grid["mine"]]))
    cancelled = services.outage_cancel(outage=_planned(manager, 1, districts=[grid["mine"]]))

    response = login(manager).get(SECTION)
    assert response.status_code == 200
    section = response.context["outages"]
    assert [o.pk for o in section.items] == [ongoing.pk, not_published.pk, soon.pk]
    assert section.counts == {"total": 3}
    # Frozen at publishing (fault, planned line outage), counted live before (district 2).
    assert {o.pk: o.affected_count for o in section.items} == {
        ongoing.pk: 3,
        soon.pk: 5,
        not_published.pk: 2,
    }
    body = response.content.decode()
    for outage in (ongoing, soon, not_published):
        assert reverse("outages:detail", args=[outage.pk]) in body
    for outage in (far, colleagues, restored, cancelled):
        assert reverse("outages:detail", args=[outage.pk]) not in body
    assert "变压器故障" in body and "故障停电" in body and "停电中" in body
    assert "计划停电" in body and "已发布" in body and "已计划" in body
    assert "影响 5 户" in body and "影响 2 户" in body
    start, end = (
        f"{timezone.localtime(moment):%m-%d %H:%M}" for moment in (soon.planned_start, soon.planned_end)
    )
    assert f"{start} — {end}" in body
    assert f"预计恢复时间 {timezone.localtime(ongoing.estimated_restoration):%m-%d %H:%M}" in body
    assert f'href="{reverse("outages:list")}"' in body
    assert 'hx-trigger="every 60s"' in body


def test_an_outage_registered_above_my_unit_shows_through_my_line(login, manager, supervisor, grid):
    _customers(grid["mine_too"], 2)
    outage = _fault(supervisor, lines=[grid["line"]], reason="线路跳闸")
    response = login(manager).get(SECTION)
    assert _shown(response) == [outage.pk]
    assert response.context["outages"].items[0].affected_count == 2


def test_the_workbench_page_holds_the_section(login, manager, grid):
    outage = _fault(manager, districts=[grid["mine"]])
    response = login(manager).get("/")
    assert response.status_code == 200
    assert 'id="wb-outages"' in response.content.decode()
    assert _shown(response) == [outage.pk]


def test_an_empty_section_says_what_it_means(login, manager, grid):
    _planned(manager, 9, districts=[grid["mine"]])
    response = login(manager).get(SECTION)
    assert _shown(response) == []
    assert "您负责的台区当前没有停电，未来7天也没有计划停电。" in response.content.decode()


def test_an_outsider_sees_none_of_my_outages(login, manager, outsider, grid):
    _fault(manager, districts=[grid["mine"]])
    _planned(manager, 1, lines=[grid["line"]])
    response = login(outsider).get(SECTION)
    assert response.status_code == 200
    assert response.context["outages"].counts == {"total": 0}
    assert _shown(response) == []


def test_a_colleague_sees_only_outages_over_their_own_districts(login, manager, colleague, grid):
    _fault(manager, districts=[grid["mine"]])
    theirs = _fault(manager, districts=[grid["colleagues"]])
    assert _shown(login(colleague).get(SECTION)) == [theirs.pk]


def test_the_section_is_bounded_and_links_to_the_outage_list(login, manager, grid):
    for n in range(WORKBENCH_LIMIT + 2):
        _planned(manager, 1 + n / 10, districts=[grid["mine"]])
    response = login(manager).get(SECTION)
    section = response.context["outages"]
    assert len(section.items) == WORKBENCH_LIMIT and section.more == 2
    assert "另有 2 次停电，查看全部" in response.content.decode()


def test_the_section_runs_the_same_queries_for_1_and_15_outages(
    login, manager, grid, django_assert_num_queries
):
    _customers(grid["mine"], 2)
    client = login(manager)
    _fault(manager, districts=[grid["mine"]])
    # Session, user, the unread badge, the total and the bounded list with the frozen counts.
    with django_assert_num_queries(5):
        assert len(_shown(client.get(SECTION))) == 1
    # An outage not published yet: its count is read live, for all of them in one query.
    _planned(manager, 0.5, districts=[grid["mine"]])
    with django_assert_num_queries(6):
        assert len(_shown(client.get(SECTION))) == 2
    with CaptureQueriesContext(connection) as page:
        assert client.get("/").status_code == 200
    for n in range(6):
        _fault(manager, lines=[grid["line"]])
        _planned(manager, 1 + n / 2, districts=[grid["mine"], grid["mine_too"]])
    _fault(manager, lines=[grid["line"]])
    with django_assert_num_queries(6):
        response = client.get(SECTION)
    assert response.context["outages"].counts == {"total": 15}
    assert len(_shown(response)) == WORKBENCH_LIMIT
    # The whole workbench too.
    with django_assert_num_queries(len(page)):
        assert client.get("/").status_code == 200
