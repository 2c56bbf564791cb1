"""Following a dashboard figure's link lists exactly the orders the figure counts.

The scenario is the one of test_dashboard (seen at NOW = 2026-11-22 12:00), plus
an urge of H1 three days before NOW. The custom period 11-21 — 11-22 leaves out
D and E (created 11-20 and 11-19) and H1's urge.
"""

import re
from datetime import timedelta
from html import unescape

import pytest
from django.core.cache import cache
from django.urls import reverse

from tests.factories import CustomerFactory
from tests.tickets.test_pages_support import listed_numbers, text
from tests.workspace.test_dashboard import NOW, _at, build_scenario
from tickets import services
from tickets.models import Category, Kind

TWO_DAYS = {"period": "custom", "start": "2026-11-21", "end": "2026-11-22"}
RATES = {"sla", "coverage", "satisfaction"}


@pytest.fixture(autouse=True)
def empty_cache():
    """Figures are cached per scope and period; each test computes its own."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def scenario(org_tree, manager, supervisor, outsider):
    orders = build_scenario(NOW, org_tree, manager, supervisor, outsider)
    with _at(NOW - timedelta(days=3)):
        services.ticket_urge(ticket=orders["h1"], by=supervisor, note="请尽快回复")
    return orders


def _figures(client, params) -> dict[str, tuple[str, str]]:
    """Each figure's (value, link) on the dashboard page."""
    with _at(NOW + timedelta(seconds=1)):
        response = client.get(reverse("dashboard"), params)
    assert response.status_code == 200
    found = re.findall(
        r'id="fig-([a-z0-9_]+)" href="([^"]*)"[^>]*>.*?<div class="value">([^<]*)<', text(response), re.S
    )
    return {key: (value.strip(), unescape(link)) for key, link, value in found}


def _listed(client, link) -> set[str]:
    with _at(NOW + timedelta(seconds=2)):
        response = client.get(link)
    assert response.status_code == 200
    return set(listed_numbers(response))


def _numbers(scenario, *names) -> set[str]:
    return {scenario[name].number for name in names}


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        (
            {"period": "7d"},
            {
                "new": ("a", "b", "c", "d", "e", "g", "h1", "h2"),
                "overdue": ("a", "e"),
                "repeat": ("h2",),
                "urged": ("b", "h1"),
                "sla": ("c", "d", "g"),
                "coverage": ("c", "d", "e", "g"),
                "satisfaction": ("c", "d", "e"),
            },
        ),
        (
            TWO_DAYS,
            {
                "new": ("a", "b", "c", "g", "h1", "h2"),
                "overdue": ("a", "e"),
                "repeat": ("h2",),
                "urged": ("b",),
                "sla": ("c", "g"),
                # E's visit fell due and was made on 11-20; C's falls due today at 13:00.
                "coverage": ("c", "d", "g"),
                "satisfaction": ("c", "d"),
            },
        ),
    ],
    ids=["7d", "custom"],
)
def test_each_figure_links_to_the_orders_it_counts(login, scenario, supervisor, params, expected):
    client = login(supervisor)
    figures = _figures(client, params)
    for key, names in expected.items():
        value, link = figures[key]
        assert link.startswith("/tickets/?"), key
        assert _listed(client, link) == _numbers(scenario, *names), key
        if key not in RATES:
            assert value == str(len(names)), key


def test_the_sla_figure_counts_the_listed_resolved_orders(login, scenario, supervisor):
    client = login(supervisor)
    with _at(NOW + timedelta(seconds=1)):
        response = client.get(reverse("dashboard"), TWO_DAYS)
    assert "期间内办结 2 件，按时 2 件" in text(response)
    assert "resolved_after=2026-11-21&amp;resolved_before=2026-11-22" in text(response)


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        (
            {"period": "7d"},
            {"coverage": [("c", "d", "e"), ("g",)], "satisfaction": [("c",), ("d",), ("e",)]},
        ),
        (TWO_DAYS, {"coverage": [("c", "d"), ("g",)], "satisfaction": [("c",), ("d",), ()]}),
    ],
    ids=["7d", "custom"],
)
def test_the_return_visit_parts_link_to_the_orders_they_count(login, scenario, supervisor, params, expected):
    client = login(supervisor)
    with _at(NOW + timedelta(seconds=1)):
        board = client.get(reverse("dashboard"), params).context["board"]
    for key, parts in expected.items():
        shown = board.figure(key).parts
        assert len(shown) == len(parts), key
        for (label, count, link), names in zip(shown, parts, strict=True):
            assert _listed(client, link) == _numbers(scenario, *names), (key, label)
            assert count == len(names), (key, label)


@pytest.fixture
def repeats(scenario, org_tree, manager):
    """A customer's complaints about billing: 10-13, 10-14 (a repeat), 11-18 and 11-19 (a repeat)."""
    customer = CustomerFactory(station=org_tree["station"], manager=manager, name="重复投诉客户")
    made = {}
    ages = {
        "x1": timedelta(days=40),
        "x2": timedelta(days=39),
        "x3": timedelta(hours=100),
        "x4": timedelta(hours=80),
    }
    for name, ago in ages.items():
        with _at(NOW - ago):
            made[name], _created = services.ticket_create(
                customer=customer,
                opened_by=manager,
                assignee=manager,
                kind=Kind.COMPLAINT,
                category=Category.BILLING,
                title="电费有误",
                description="客户再次反映电费有误",
            )
    assert [made[name].is_repeat for name in ("x1", "x2", "x3", "x4")] == [False, True, False, True]
    return {**scenario, **made}


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"period": "today"}, ("h2",)),
        ({"period": "7d"}, ("h2", "x4")),
        (TWO_DAYS, ("h2",)),
        ({"period": "30d"}, ("h2", "x4")),
        ({"period": "custom", "start": "2026-10-01", "end": "2026-10-31"}, ("x2",)),
    ],
    ids=["today", "7d", "custom", "30d", "october"],
)
def test_the_repeat_figure_links_to_the_periods_repeat_complaints(
    login, repeats, supervisor, params, expected
):
    client = login(supervisor)
    value, link = _figures(client, params)["repeat"]
    assert "created_after=" in link and "created_before=" in link
    assert _listed(client, link) == _numbers(repeats, *expected)
    assert value == str(len(expected))
