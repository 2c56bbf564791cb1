"""The work-order list's date and urge filters: created_after/before,
resolved_after/before, urged, urged_after/before (local days, both bounds inclusive)."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.urls import reverse

from tests.tickets.test_pages_support import (  # noqa: F401
    fast_password_hashing,
    listed_numbers,
    media_root,
    text,
)
from tickets import services

LIST = reverse("tickets:list")
LOCAL = ZoneInfo("Asia/Shanghai")


def _at(*args):
    return time_machine.travel(datetime(2026, 3, *args, tzinfo=LOCAL), tick=False)


@pytest.fixture
def orders(open_ticket, manager, supervisor):
    """early: created 03-01 23:30; mid: created 03-02 00:10, resolved 03-02 23:50;
    late: created 03-03 12:00, urged 03-03 13:00, resolved 03-04 00:05."""
    with _at(1, 23, 30):
        early = open_ticket(title="三月一日")
    with _at(2, 0, 10):
        mid = services.ticket_sign(ticket=open_ticket(title="三月二日"), by=manager)
    with _at(2, 23, 50):
        services.ticket_resolve(ticket=mid, by=manager, resolution="已复电")
    with _at(3, 12):
        late = services.ticket_sign(ticket=open_ticket(title="三月三日"), by=manager)
    with _at(3, 13):
        services.ticket_urge(ticket=late, by=supervisor, note="请抓紧")
    with _at(4, 0, 5):
        services.ticket_resolve(ticket=late, by=manager, resolution="已复电")
    return {"early": early.number, "mid": mid.number, "late": late.number}


def _listed(client, params) -> set[str]:
    with _at(5, 9):
        response = client.get(LIST, params)
    assert response.status_code == 200
    return set(listed_numbers(response))


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"created_after": "2026-03-02"}, {"mid", "late"}),
        ({"created_before": "2026-03-01"}, {"early"}),
        ({"created_after": "2026-03-02", "created_before": "2026-03-02"}, {"mid"}),
        ({"created_after": "2026-03-04"}, set()),
        ({"resolved_after": "2026-03-03"}, {"late"}),
        ({"resolved_before": "2026-03-02"}, {"mid"}),
        ({"resolved_after": "2026-03-02", "resolved_before": "2026-03-04"}, {"mid", "late"}),
        ({"urged": "1"}, {"late"}),
        ({"urged": "0"}, {"early", "mid"}),
        ({"urged_after": "2026-03-03", "urged_before": "2026-03-03"}, {"late"}),
        ({"urged_after": "2026-03-04"}, set()),
        ({"urged_before": "2026-03-02"}, set()),
        ({"created_after": "2026-03-02", "urged": "0"}, {"mid"}),
    ],
)
def test_each_filter_lists_exactly_the_matching_orders(login, manager, orders, params, expected):
    assert _listed(login(manager), params) == {orders[name] for name in expected}


@pytest.mark.parametrize(
    "params",
    [
        {"created_after": "yesterday"},
        {"created_before": "2026-02-30"},
        {"resolved_after": "03/02/2026"},
        {"resolved_before": ""},
        {"urged": "2"},
        {"urged_after": "x", "urged_before": "2026-13-01"},
        {"created_after": "0001-01-01", "created_before": "9999-12-31"},
        {"resolved_before": "9999-12-31"},
        {"urged_after": "0001-01-01", "urged_before": "9999-12-31"},
    ],
)
def test_bad_values_are_ignored(login, manager, orders, params):
    assert _listed(login(manager), params) == set(orders.values())


def test_a_bad_bound_leaves_the_other_in_force(login, manager, orders):
    params = {"created_after": "nonsense", "created_before": "2026-03-01"}
    assert _listed(login(manager), params) == {orders["early"]}


def test_the_filter_form_offers_the_new_filters(login, manager, orders):
    with _at(5, 9):
        html = text(login(manager).get(LIST, {"created_after": "2026-03-02"}))
    assert 'type="date" name="created_after" value="2026-03-02"' in html
    for name in ("created_before", "resolved_after", "resolved_before", "urged_after", "urged_before"):
        assert f'type="date" name="{name}"' in html
    assert 'name="urged"' in html
    assert "受理日期自" in html and "被催办过" in html
