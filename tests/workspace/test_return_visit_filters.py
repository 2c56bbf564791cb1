"""The work-order list's return-visit filters: visited, satisfaction, visit_due_after/before,
visited_after/before (one return visit must meet them all; local days, both bounds inclusive).

The orders are those of test_dashboard's scenario, seen at NOW = 2026-11-22 12:00:
return visits due C 11-22 13:00 (made 11-22 10:00, 满意), D 11-21 16:00 (made 11-21
09:00, 基本满意), E 11-20 12:00 (made 11-20 10:00, 不满意), G 11-22 09:00 (not made).
"""

from datetime import timedelta

import pytest
from django.urls import reverse

from tests.tickets.test_pages_support import listed_numbers, text
from tests.workspace.test_dashboard import NOW, _at, build_scenario


@pytest.fixture
def scenario(org_tree, manager, supervisor, outsider):
    return build_scenario(NOW, org_tree, manager, supervisor, outsider)


def _listed(client, params) -> set[str]:
    with _at(NOW + timedelta(seconds=2)):
        response = client.get(reverse("tickets:list"), params)
    assert response.status_code == 200
    return set(listed_numbers(response))


def _numbers(scenario, names) -> set[str]:
    return {scenario[name].number for name in names}


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"visited": "yes"}, "cde"),
        ({"visited": "no"}, "g"),
        ({"satisfaction": "happy"}, "cd"),
        ({"satisfaction": "basically"}, "d"),
        ({"satisfaction": "dissatisfied"}, "e"),
        ({"visit_due_after": "2026-11-21"}, "cdg"),
        ({"visit_due_before": "2026-11-20"}, "e"),
        ({"visit_due_after": "2026-11-22", "visit_due_before": "2026-11-22"}, "cg"),
        ({"visit_due_after": "2026-11-22", "visited": "yes"}, "c"),
        ({"visited_after": "2026-11-21"}, "cd"),
        ({"visited_after": "2026-11-20", "visited_before": "2026-11-20"}, "e"),
        ({"visited_after": "2026-11-21", "satisfaction": "dissatisfied"}, ""),
        ({"visited_after": "2026-11-20", "visited": "no"}, ""),
        ({"visited": "no", "status": "resolved"}, "g"),
        ({"visited": "yes", "org_unit": "sibling_station"}, "cd"),
    ],
)
def test_each_filter_lists_exactly_the_matching_orders(
    login, scenario, supervisor, org_tree, params, expected
):
    if "org_unit" in params:
        params = {**params, "org_unit": org_tree[params["org_unit"]].pk}
    assert _listed(login(supervisor), params) == _numbers(scenario, expected)


@pytest.mark.parametrize(
    "params",
    [
        {"visited": "maybe"},
        {"satisfaction": "delighted"},
        {"visit_due_after": "yesterday", "visited_before": "2026-02-30"},
        {"visit_due_after": "0001-01-01", "visit_due_before": "9999-12-31"},
        {"visited_after": "", "satisfaction": ""},
    ],
)
def test_bad_values_are_ignored(login, scenario, supervisor, params):
    client = login(supervisor)
    assert _listed(client, params) == _listed(client, {})
    assert len(_listed(client, {})) == 8  # every order of the county


def test_a_bad_bound_leaves_the_others_in_force(login, scenario, supervisor):
    params = {"visited_after": "nonsense", "visited_before": "2026-11-20", "satisfaction": "dissatisfied"}
    assert _listed(login(supervisor), params) == _numbers(scenario, "e")


def test_an_outsider_sees_none_of_them(login, scenario, outsider):
    assert _listed(login(outsider), {"visited": "yes"}) == set()
    assert _listed(login(outsider), {"visited": "no", "visit_due_after": "2026-11-16"}) == set()


def test_the_filter_form_offers_the_return_visit_filters(login, scenario, supervisor):
    with _at(NOW + timedelta(seconds=2)):
        html = text(login(supervisor).get(reverse("tickets:list"), {"visited": "no"}))
    assert '<option value="no" selected>未回访</option>' in html
    assert '<option value="happy">满意或基本满意</option>' in html
    for name in ("visit_due_after", "visit_due_before", "visited_after", "visited_before"):
        assert f'type="date" name="{name}"' in html
    assert "回访时限自" in html and "回访日期至" in html
