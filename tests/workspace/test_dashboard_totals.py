"""Every figure on the dashboard clicks through to a list of exactly as many orders,
in every period, and the satisfaction figures add up wherever they are shown.

The orders are those of test_dashboard's scenario (seen at NOW = 2026-11-22 12:00)
plus three whose satisfaction is tricky:

| order | unit | what happens | counted as |
|---|---|---|---|
| R | 雷山 | visited 不满意 (staff) -28 h, reopened, resolved, rated 满意 by the customer -10 h | 满意, 自助 |
| S | 丹江 | resolved -8 d, rated 基本满意 by the customer at -8 d + 3 h | 基本满意, 自助 |
| T | 雷山 | visited 不满意 -10 d, reopened, resolved, visited 满意 -2 d | 满意; 11-10 — 11-13: 不满意 |

U (丹江) is visited 不满意 at -39 h, reopened and resolved again at -30 h: its second visit,
due at -6 h, is not made, so it counts once among the visits due, as not yet visited;
and two more unsigned orders besides A: one new (nobody assigned), one sent back.
"""

import re
from datetime import timedelta
from html import unescape
from io import BytesIO

import pytest
from django.core.cache import cache
from django.urls import reverse
from openpyxl import load_workbook

from customers.models import Customer
from tests.factories import CustomerFactory
from tests.tickets.test_pages_list import LIST_PAGE_QUERIES
from tests.tickets.test_pages_support import listed_numbers, text
from tests.workspace.test_dashboard import NOW, _at, _order, _resolve, _sign, _visit, build_scenario
from tickets import services
from tickets.models import Kind, ReturnVisit, Ticket
from tickets.survey import survey_token

PERIODS = {
    "today": {"period": "today"},
    "7d": {"period": "7d"},
    "30d": {"period": "30d"},
    "two-days": {"period": "custom", "start": "2026-11-21", "end": "2026-11-22"},
    "t-visited-first": {"period": "custom", "start": "2026-11-10", "end": "2026-11-13"},
}
# The figures that are counts of orders (the others are rates and durations).
COUNTS = {"new", "open", "overdue", "near", "unsigned", "urged", "repeat"}
H = timedelta(hours=1)
D = timedelta(days=1)
ANCHOR = re.compile(r"<a\b[^>]*>")


@pytest.fixture(autouse=True)
def empty_cache():
    cache.clear()
    yield
    cache.clear()


def _rate_by_customer(ticket, offset, result):
    visit = ticket.return_visits.filter(visited_at__isnull=True).get()
    with _at(NOW + offset):
        return services.ticket_rate_by_customer(token=survey_token(visit.pk), result=result)


@pytest.fixture
def orders(org_tree, manager, supervisor, outsider):
    made = build_scenario(NOW, org_tree, manager, supervisor, outsider)
    sun = made["sun"]
    urban_shop = CustomerFactory(
        station=org_tree["station"], manager=manager, name="城市商户", kind=Customer.Kind.COMMERCIAL
    )
    rural_home = CustomerFactory(
        station=org_tree["sibling_station"], manager=sun, name="农村住户", segment=Customer.Segment.RURAL
    )
    repair = {"kind": Kind.REPAIR}

    r = _order(NOW, -40 * H, customer=urban_shop, opened_by=manager, assignee=manager, **repair)
    _sign(NOW, r, -40 * H + timedelta(minutes=15), manager)
    _resolve(NOW, r, -30 * H, manager)
    _visit(NOW, r, -28 * H, supervisor, ReturnVisit.Result.DISSATISFIED)
    _resolve(NOW, r, -20 * H, manager)
    _rate_by_customer(r, -10 * H, ReturnVisit.Result.SATISFIED)

    s = _order(NOW, -9 * D, customer=rural_home, opened_by=sun, assignee=sun, **repair)
    _sign(NOW, s, -9 * D + timedelta(minutes=40), sun)
    _resolve(NOW, s, -8 * D, sun)
    _rate_by_customer(s, -8 * D + 3 * H, ReturnVisit.Result.BASICALLY)

    t = _order(NOW, -12 * D, customer=urban_shop, opened_by=manager, assignee=manager, kind=Kind.INQUIRY)
    _sign(NOW, t, -12 * D + 2 * H, manager)
    _resolve(NOW, t, -11 * D, manager)
    _visit(NOW, t, -10 * D, supervisor, ReturnVisit.Result.DISSATISFIED)
    _resolve(NOW, t, -3 * D, manager)
    _visit(NOW, t, -2 * D, supervisor, ReturnVisit.Result.SATISFIED)
    u = _order(NOW, -44 * H, customer=rural_home, opened_by=sun, assignee=sun, **repair)
    _sign(NOW, u, -44 * H + timedelta(minutes=5), sun)
    _resolve(NOW, u, -40 * H, sun)
    _visit(NOW, u, -39 * H, supervisor, ReturnVisit.Result.DISSATISFIED)
    _resolve(NOW, u, -30 * H, sun)

    # Unsigned besides A: one still new (nobody assigned), one sent back by its assignee.
    new = _order(NOW, -30 * timedelta(minutes=1), customer=urban_shop, opened_by=manager, **repair)
    returned = _order(NOW, -2 * H, customer=urban_shop, opened_by=manager, assignee=manager, **repair)
    with _at(NOW - H):
        services.ticket_send_back(ticket=returned, by=manager, reason="不属于本所")
    return {**made, "r": r, "s": s, "t": t, "u": u, "new": new, "returned": returned}


def _page(client, params):
    with _at(NOW + timedelta(seconds=1)):
        response = client.get(reverse("dashboard"), params)
    assert response.status_code == 200
    return response


def _links(response) -> list[tuple[str, int]]:
    """Every link into the order list on the page, with the count it claims: the
    figures, their parts, the satisfaction rows, the tables and the chart bars."""
    found = []
    for tag in ANCHOR.findall(text(response)):
        href = re.search(r'href="([^"]*)"', tag)
        if not href or not href.group(1).startswith("/tickets/?"):
            continue
        count = re.search(r'data-count="(\d+)"', tag)
        assert count, f"a link to an order list without its count: {tag}"
        found.append((unescape(href.group(1)), int(count.group(1))))
    charts = response.context["board"].charts
    for name in ("by_category", "overdue_by_unit"):
        found += list(zip(charts[name]["links"], charts[name]["data"], strict=True))
    return found


def _total(client, link, moment=NOW + timedelta(seconds=2)) -> tuple[int, int]:
    """The list's stated total and the number of rows it shows (one page here), at `moment`."""
    with _at(moment):
        response = client.get(link)
    assert response.status_code == 200
    rows = len(listed_numbers(response))
    stated = re.search(r'data-total="(\d+)"', text(response))
    return (int(stated.group(1)) if stated else 0), rows


@pytest.mark.parametrize("period", list(PERIODS))
def test_every_figure_lists_exactly_as_many_orders_as_it_shows(login, orders, supervisor, period):
    client = login(supervisor)
    response = _page(client, PERIODS[period])
    unsigned = response.context["board"].figure("unsigned")
    assert unsigned.value == 3 and [n for _label, n, _link in unsigned.parts] == [1, 1, 1]
    links = _links(response)
    assert len(links) > 20
    for link, count in links:
        assert _total(client, link) == (count, count), (link, count)
    for figure in response.context["board"].figures:
        if figure.key in COUNTS:
            assert figure.value == figure.count, figure.key


@pytest.mark.parametrize("period", list(PERIODS))
def test_satisfaction_adds_up_on_every_chart_and_in_the_export(login, orders, supervisor, period):
    client = login(supervisor)
    board = _page(client, PERIODS[period]).context["board"]
    headline = board.figure("satisfaction")
    total = board.charts["satisfaction"]["total"]
    assert headline.count == total["n"]
    coverage = board.figure("coverage")
    assert sum(n for _label, n, _link in coverage.parts) == coverage.count
    assert sum(n for _label, n, _link in headline.parts) == total["n"]
    assert sum(n for _label, n, _link in headline.channels) == total["n"]
    for chart in ("segment", "unit"):
        rows = board.charts["satisfaction"][chart]["rows"]
        assert sum(row["n"] for row in rows) == total["n"], chart
        assert sum(row["happy"] for row in rows) == total["happy"], chart
        assert sum(row["self"] for row in rows) == total["self"], chart

    with _at(NOW + timedelta(seconds=1)):
        export = client.get(reverse("dashboard_export"), PERIODS[period])
    book = load_workbook(BytesIO(export.content))
    figures = {
        row[0]: row[1] for row in book["指标"].iter_rows(min_row=2, values_only=True) if row and row[0]
    }
    for figure in board.figures:
        assert figures[figure.label] == ("" if figure.value is None else figure.value) or (
            figure.value is None and figures[figure.label] is None
        ), figure.key
    sheet = list(book["满意度"].iter_rows(min_row=2, values_only=True))
    shown = (
        [total]
        + board.charts["satisfaction"]["segment"]["rows"]
        + board.charts["satisfaction"]["unit"]["rows"]
    )
    assert [(row[1], row[3]) for row in sheet] == [(group["label"], group["n"]) for group in shown]
    about = {row[0]: row[1] for row in book["说明"].iter_rows(min_row=2, values_only=True)}
    assert about["统计单位"] == "雷山县供电局"
    assert board.period.label in about["统计期间"]


@pytest.mark.parametrize(
    ("period", "expected"),
    [
        # R once (its last answer, 满意 by the customer), C 满意, D 基本满意, T 满意; E and U 不满意;
        # 30 days add S (基本满意 by the customer); 11-10 — 11-13 hold only T's first answer.
        ("7d", {"n": 6, "satisfied": 3, "basically": 1, "dissatisfied": 2, "self": 1, "staff": 5}),
        ("two-days", {"n": 3, "satisfied": 2, "basically": 1, "dissatisfied": 0, "self": 1, "staff": 2}),
        ("30d", {"n": 7, "satisfied": 3, "basically": 2, "dissatisfied": 2, "self": 2, "staff": 5}),
        (
            "t-visited-first",
            {"n": 1, "satisfied": 0, "basically": 0, "dissatisfied": 1, "self": 0, "staff": 1},
        ),
    ],
)
def test_each_order_counts_once_with_its_latest_answer_in_the_period(
    login, orders, supervisor, period, expected
):
    board = _page(login(supervisor), PERIODS[period]).context["board"]
    total = board.charts["satisfaction"]["total"]
    assert {key: total[key] for key in expected} == expected


def test_the_order_list_states_a_capped_total_beyond_the_cap(
    login, orders, supervisor, settings, monkeypatch
):
    monkeypatch.setattr("tickets.selectors.TOTAL_CAP", 3)
    settings.TICKET_PAGE_SIZE = 2
    with _at(NOW):
        response = login(supervisor).get(reverse("tickets:list"))
    assert "共 3+ 张" in text(response)
    monkeypatch.setattr("tickets.selectors.TOTAL_CAP", 10_000)
    with _at(NOW):
        response = login(supervisor).get(reverse("tickets:list"), {"status": "unsigned"})
    # Two on the page, three in all: A, the new one, the one sent back.
    assert len(listed_numbers(response)) == 2 and "共 3 张" in text(response)


def test_a_list_of_several_pages_counts_its_orders_in_one_more_query(
    login, orders, supervisor, settings, django_assert_max_num_queries
):
    """One page is counted by its rows (the list's cap); a longer list adds one bounded count."""
    settings.TICKET_PAGE_SIZE = 2
    client = login(supervisor)
    with _at(NOW), django_assert_max_num_queries(LIST_PAGE_QUERIES + 1):
        response = client.get(reverse("tickets:list"), {"status": "open"})
    expected = Ticket.objects.open().filter(org_unit__path__startswith=supervisor.org_unit.path).count()
    assert expected == 7  # A B E H1 H2, the new one, the one sent back
    assert len(listed_numbers(response)) == 2 and f"共 {expected} 张" in text(response)


@pytest.mark.parametrize(
    "params",
    [
        {"unit": "99999999999999999999999"},
        {"unit": "1e999"},
        {"unit": "-1"},
        {"unit": "abc"},
        {"segment": "mars-resident"},
        {"channel": "pigeon"},
        {"signed_after": "99999-01-01"},
        {"status": "unsigned,open"},
    ],
)
def test_a_bad_click_through_parameter_is_ignored(login, orders, supervisor, params):
    with _at(NOW):
        everything = len(listed_numbers(login(supervisor).get(reverse("tickets:list"))))
        response = login(supervisor).get(reverse("tickets:list"), params)
    assert response.status_code == 200
    assert len(listed_numbers(response)) == everything


def test_a_unit_link_names_the_unit_it_is_limited_to(login, orders, supervisor, org_tree):
    station = org_tree["station"]
    with _at(NOW):
        response = login(supervisor).get(reverse("tickets:list"), {"unit": station.pk, "status": "open"})
        outside = login(supervisor).get(reverse("tickets:list"), {"unit": org_tree["other_station"].pk})
    assert "仅雷山供电所本单位（不含下级单位）" in text(response)
    assert set(listed_numbers(response)) == set(
        Ticket.objects.open().filter(org_unit=station).values_list("number", flat=True)
    )
    # A unit outside the supervisor's subtree is not named, and lists nothing.
    assert "ticket-unit-only" not in text(outside) and listed_numbers(outside) == []
