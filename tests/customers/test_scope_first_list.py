"""A supervisor's customer list costs their own units' rows, not the prefecture's.

The list of a scope of several units (a county's stations) is read station by
station and merged on PostgreSQL (core.pagination); the pages must be the
plain query's, row for row, for every persona and filter.
"""

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import User
from core.pagination import keyset_paginate
from customers import selectors
from customers.models import Customer
from tests.factories import UserFactory

postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="reads PostgreSQL's query plans (EXPLAIN ANALYZE)"
)

PAGE_SIZE = 4
# Rows per station of the county, and in the other county's station: the other
# county holds most rows, and the newest, as the rest of a prefecture does.
PER_STATION = 30
ELSEWHERE = 60
# Enough for the planner to choose as it would at a prefecture's size: reading
# the county's rows, or the other county's, is dearer than an index's few.
PER_STATION_FOR_PLANS = 300
ELSEWHERE_FOR_PLANS = 3000


@pytest.fixture
def people(people, org_tree) -> dict[str, User]:
    integration = UserFactory(username="sys-95598", org_unit=org_tree["county"], role=User.Role.INTEGRATION)
    return {**people, "integration": integration}


def _customer(n: int, station, owner) -> Customer:
    return Customer(
        number=f"{station.pk:03d}{n:07d}",
        name=f"客户{n}",
        address=f"某县某镇某路{n}号",
        kind=Customer.Kind.COMMERCIAL if n % 3 == 0 else Customer.Kind.RESIDENT,
        is_important=n % 5 == 0,
        station=station,
        manager=owner if n % 2 else None,
        verified_at=timezone.now() if n % 4 else None,
        deleted_at=timezone.now() if n % 11 == 0 else None,
    )


def _fill(org_tree, manager, outsider, per_station: int, elsewhere: int) -> None:
    """The county's two stations interleaved by id, then the other county's rows, newer."""
    sibling = UserFactory(username="sib-mgr", org_unit=org_tree["sibling_station"])
    rows = []
    for n in range(per_station):
        rows.append(_customer(n, org_tree["station"], manager))
        rows.append(_customer(n, org_tree["sibling_station"], sibling))
    rows += [_customer(n, org_tree["other_station"], outsider) for n in range(elsewhere)]
    Customer.objects.bulk_create(rows)


@pytest.fixture
def archive(org_tree, manager, outsider) -> None:
    _fill(org_tree, manager, outsider, PER_STATION, ELSEWHERE)


@pytest.fixture
def big_archive(org_tree, manager, outsider) -> None:
    _fill(org_tree, manager, outsider, PER_STATION_FOR_PLANS, ELSEWHERE_FOR_PLANS)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE customers_customer")


def _ids(page) -> list[int]:
    return [customer.pk for customer in page.items]


def _walk(user, params: dict, paginate) -> list[tuple]:
    """Every page forward from the first, then back from the last: (ids, has_previous, has_next)."""
    pages, cursor = [], {}
    while True:
        page = paginate(user, {**params, **cursor})
        pages.append((_ids(page), page.has_previous, page.has_next))
        if not page.has_next:
            break
        cursor = {"after": page.next_after}
    while page.has_previous:
        page = paginate(user, {**params, "before": page.previous_before})
        pages.append((_ids(page), page.has_previous, page.has_next))
    return pages


def _merged(user, params):
    customers = selectors.customer_filterset(user=user, params=params).qs
    return selectors.customer_page(user=user, customers=customers, params=params, page_size=PAGE_SIZE)


def _plain(user, params):
    customers = selectors.customer_filterset(user=user, params=params).qs
    return keyset_paginate(customers, params=params, page_size=PAGE_SIZE)


@pytest.mark.parametrize(
    "persona", ["manager", "station_supervisor", "county_supervisor", "prefecture_supervisor", "integration"]
)
@pytest.mark.parametrize(
    "params",
    [
        {},
        {"kind": "commercial"},
        {"sensitivity": "any"},
        {"q": "客户1"},
        {"station": "sibling"},
        {"manager": "manager"},
        {"incomplete": "0", "segment": "urban"},
    ],
    ids=["all", "kind", "sensitive", "search", "station", "manager", "complete-urban"],
)
def test_every_page_is_the_plain_querys(persona, params, people, archive, org_tree, manager):
    named = {"sibling": str(org_tree["sibling_station"].pk), "manager": str(manager.pk)}
    params = {key: named.get(value, value) for key, value in params.items()}
    user = people[persona]
    merged = _walk(user, params, _merged)
    assert merged == _walk(user, params, _plain)
    if not params:
        # Pages 1, 2 and the last, and the way back, were compared.
        assert len(merged) >= 5


def test_a_bad_cursor_is_the_first_page(people, archive):
    user = people["county_supervisor"]
    for cursor in ({"after": "x"}, {"before": "-1"}, {"after": "99999999999999999999"}):
        assert _ids(_merged(user, cursor)) == _ids(_plain(user, cursor))


def test_the_list_page_shows_the_merged_page(people, archive, client, settings):
    settings.CUSTOMER_PAGE_SIZE = PAGE_SIZE
    user = people["county_supervisor"]
    client.force_login(user)
    response = client.get("/customers/", {"kind": "commercial"})
    assert response.status_code == 200
    assert _ids(response.context["page"]) == _ids(_plain(user, {"kind": "commercial"}))


# --- The plans (PostgreSQL) -------------------------------------------------------


def _nodes(plan: dict):
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


def _analyze(sql: str) -> dict:
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}")
        found = cursor.fetchone()[0]
    return (json.loads(found) if isinstance(found, str) else found)[0]["Plan"]


def _customer_rows_read(plan: dict) -> int:
    """Rows of the customers' table the plan read: returned, or read and dropped by a filter or recheck."""
    read = 0
    for node in _nodes(plan):
        if node.get("Relation Name") == "customers_customer":
            seen = node["Actual Rows"] + node.get("Rows Removed by Filter", 0)
            seen += node.get("Rows Removed by Index Recheck", 0)
            read += seen * node["Actual Loops"]
    return read


def _page_sql(user, params: dict) -> str:
    with CaptureQueriesContext(connection) as queries:
        _merged(user, params)
    (sql,) = [q["sql"] for q in queries.captured_queries if 'FROM "customers_customer"' in q["sql"]]
    return sql


@postgres_only
@pytest.mark.parametrize("params", [{}, {"kind": "commercial"}], ids=["all", "kind"])
def test_a_county_supervisors_page_reads_the_countys_rows_only(people, big_archive, params):
    user = people["county_supervisor"]
    plan = _analyze(_page_sql(user, params))
    # Each of the county's units gives its newest rows through its own index, and the page's
    # rows are looked up once more: at most the county's 600 rows (on a test database's few
    # rows the planner may read a unit's rows whole), never the other county's 3,000 newer ones.
    assert _customer_rows_read(plan) <= 2 * PER_STATION_FOR_PLANS + 2 * (PAGE_SIZE + 1), plan
