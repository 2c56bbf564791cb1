"""Following a dashboard figure's link lists exactly the orders the figure counts.

The scenario is the one of test_dashboard (seen at NOW = 2026-11-22 12:00), plus
an urge of H1 three days before NOW. The custom period 11-21 — 11-22 leaves out
D and E (created 11-20 and 11-19) and H1's urge.
"""

import re
from datetime import timedelta
from html import unescape

import pytest
from django.urls import reverse

from tests.crm.test_dashboard import NOW, _at, build_scenario
from tests.tickets.test_pages_support import listed_numbers, text
from tickets import services

TWO_DAYS = {"period": "custom", "start": "2026-11-21", "end": "2026-11-22"}


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
        r'id="fig-([a-z0-9_]+)" href="([^"]*)">.*?<div class="value">([^<]*)<', text(response), re.S
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
        if key != "sla":
            assert value == str(len(names)), key


def test_the_sla_figure_counts_the_listed_resolved_orders(login, scenario, supervisor):
    client = login(supervisor)
    with _at(NOW + timedelta(seconds=1)):
        response = client.get(reverse("dashboard"), TWO_DAYS)
    assert "期间内办结 2 件，按时 2 件" in text(response)
    assert "resolved_after=2026-11-21&amp;resolved_before=2026-11-22" in text(response)
