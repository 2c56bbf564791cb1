"""/api/v1/customers/ and /api/v1/tickets/ read a supervisor's list unit by unit, as the pages do.

On PostgreSQL a scope of several units is read through each unit's (unit, id)
index and merged (core.api.pagination.KeysetPagination, `rows_by_unit`);
every response must be the one DRF's plain read gives: the same rows, the same
`next` and `previous` links, forward and back, for every persona, filter and
ordering. On SQLite both ways are the plain read.
"""

import base64
import json
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import OrgUnit, User
from customers.api.views import CustomerViewSet
from customers.models import Customer
from tests.api.conftest import CUSTOMERS, detail
from tests.factories import CustomerFactory, OrgUnitFactory, UserFactory, copied_orders
from tickets.api.views import TicketViewSet
from tickets.models import OPEN_STATUSES, Status, Ticket

TICKETS = "/api/v1/tickets/"
LIMIT = 4
PERSONAS = ["manager", "station_supervisor", "county_supervisor", "prefecture_supervisor"]
# Where the merged read runs: PostgreSQL, a scope of several units.
MERGED = {"county_supervisor", "prefecture_supervisor"} if connection.vendor == "postgresql" else set()


def _customer(n: int, station: OrgUnit, owner: User | None) -> Customer:
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


@pytest.fixture
def archive(org_tree, manager, outsider) -> None:
    """The county's two stations interleaved by id, then the other county's rows, newer."""
    sibling = UserFactory(username="sib-mgr", org_unit=org_tree["sibling_station"])
    rows = []
    for n in range(14):
        rows.append(_customer(n, org_tree["station"], manager))
        rows.append(_customer(n, org_tree["sibling_station"], sibling))
    rows += [_customer(n, org_tree["other_station"], outsider) for n in range(20)]
    Customer.objects.bulk_create(rows)


@pytest.fixture
def orders(org_tree, manager, outsider) -> None:
    """Orders of every status in the county's units (its office and both stations) and the other county's."""
    now = timezone.now()
    statuses = [*Status.values]
    places = [
        (org_tree["station"], manager, 7),
        (org_tree["sibling_station"], manager, 6),
        (org_tree["county"], manager, 4),
        (org_tree["other_station"], outsider, 9),
    ]
    for index, (unit, owner, n) in enumerate(places):
        customer = CustomerFactory(
            station=org_tree["station"] if unit.level != OrgUnit.Level.STATION else unit, manager=owner
        )

        def vary(copy, i, index=index, unit=unit):
            copy.org_unit = unit
            copy.status = statuses[(i + index) % len(statuses)]
            copy.urgency = (i // 2) % 3
            copy.created_at = now - timedelta(hours=(i * 5) % 13, days=(i * 37) % 400)
            copy.resolved_at = None if copy.status in OPEN_STATUSES else copy.created_at + timedelta(hours=6)

        copied_orders(customer=customer, owner=owner, count=n, vary=vary, tag=str(index))


def _walk(client, url: str, params: dict) -> list[tuple]:
    """Every response from the first page forward, then back from the last: (status, body, ETag)."""
    response = client.get(url, {"limit": LIMIT, **params})
    pages = [(response.status_code, response.json(), response.headers.get("ETag"))]
    while response.status_code == 200 and response.json()["next"]:
        response = client.get(response.json()["next"])
        pages.append((response.status_code, response.json(), response.headers.get("ETag")))
    while response.status_code == 200 and response.json()["previous"]:
        response = client.get(response.json()["previous"])
        pages.append((response.status_code, response.json(), response.headers.get("ETag")))
    return pages


def _both(client, url: str, params: dict, view, monkeypatch) -> tuple[list, list]:
    """The walk as the view reads it, and as DRF's plain read gives it."""
    merged = _walk(client, url, params)
    with monkeypatch.context() as patch:
        patch.delattr(view, "rows_by_unit")
        plain = _walk(client, url, params)
    return merged, plain


def _list_sql(client, url: str, params: dict, table: str) -> str:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url, {"limit": LIMIT, **params}).status_code == 200
    (sql,) = [q["sql"] for q in queries.captured_queries if f'FROM "{table}"' in q["sql"]]
    return sql


# --- Customers ------------------------------------------------------------------------

CUSTOMER_PARAMS = [
    {},
    {"kind": "commercial"},
    {"is_important": "true", "kind": "resident,commercial"},
    {"sensitive": "false", "stale": "false"},
    {"q": "客户1"},
    {"station": "LS02"},
    {"manager": "zhangsan"},
    {"ordering": "id"},
    {"ordering": "-id", "incomplete": "true"},
    {"ordering": "name"},
    {"ordering": "-updated_at"},
]


def persona_cases(cases: list[dict]) -> list:
    """Every filter for the personas whose read is merged here; the unfiltered list only for
    the others, whose two reads are the same plain read (all four on SQLite)."""
    return [
        pytest.param(persona, params, id=f"{'&'.join(params) or 'all'}-{persona}")
        for params in cases
        for persona in PERSONAS
        if persona in MERGED or not params
    ]


@pytest.mark.parametrize(("persona", "params"), persona_cases(CUSTOMER_PARAMS))
def test_customer_pages_are_the_plain_reads(api, people, archive, persona, params, monkeypatch):
    client = api(people[persona])
    merged, plain = _both(client, CUSTOMERS, params, CustomerViewSet, monkeypatch)
    assert merged == plain
    assert all(status == 200 for status, _body, _etag in merged)
    if not params and persona != "manager":
        # First, next and last pages, and the way back, were compared.
        assert len(merged) >= 5


@pytest.mark.parametrize("persona", sorted(MERGED) or ["county_supervisor"])
def test_a_supervisors_customers_are_read_station_by_station(api, people, archive, persona):
    client = api(people[persona])
    sql = _list_sql(client, CUSTOMERS, {"kind": "commercial"}, "customers_customer")
    assert ("UNION ALL" in sql) == (persona in MERGED)
    # A narrowing filter reads through its own index, as on the list page.
    assert "UNION" not in _list_sql(client, CUSTOMERS, {"station": "LS02"}, "customers_customer")
    # So does an order the (station, id) index does not give.
    assert "UNION" not in _list_sql(client, CUSTOMERS, {"ordering": "name"}, "customers_customer")


def _cursor(**tokens) -> str:
    query = "&".join(f"{key}={value}" for key, value in tokens.items())
    return base64.b64encode(query.encode()).decode()


def test_a_cursor_with_an_offset_or_a_bad_one_answers_as_before(api, people, archive, monkeypatch):
    client = api(people["county_supervisor"])
    top = Customer.objects.order_by("-id").values_list("pk", flat=True)[5]
    for cursor in (
        _cursor(o=2, p=top),
        _cursor(o=3, r=1, p=top),
        _cursor(o=1),
        _cursor(p=2**70),
        "not-a-cursor",
    ):
        merged, plain = _both(client, CUSTOMERS, {"cursor": cursor}, CustomerViewSet, monkeypatch)
        assert merged[0] == plain[0], cursor


def test_a_county_supervisor_sees_no_other_countys_customer(api, people, archive, org_tree):
    client = api(people["county_supervisor"])
    shown = []
    for _status, body, _etag in _walk(client, CUSTOMERS, {}):
        shown += [row["number"] for row in body["results"]]
    county = Customer.objects.filter(station__in=[org_tree["station"], org_tree["sibling_station"]])
    assert set(shown) == set(county.values_list("number", flat=True))
    elsewhere = Customer.objects.filter(station=org_tree["other_station"]).first()
    assert client.get(detail(elsewhere.number)).status_code == 404


def _more_stations(org_tree, manager, count: int) -> None:
    """`count` more stations in the county, each with its customers and orders."""
    for n in range(count):
        station = OrgUnitFactory(
            code=f"LSX{n}", level=OrgUnit.Level.STATION, parent=org_tree["county"], name=f"供电所{n}"
        )
        Customer.objects.bulk_create(_customer(100 + i, station, None) for i in range(12))

        def vary(copy, i, station=station):
            copy.org_unit = station

        customer = CustomerFactory(station=org_tree["station"], manager=manager)
        copied_orders(customer=customer, owner=manager, count=8, vary=vary, tag=f"x{n}")


@pytest.mark.parametrize(("view", "url"), [(CustomerViewSet, CUSTOMERS), (TicketViewSet, TICKETS)])
def test_the_queries_are_as_many_whatever_the_units_and_rows(
    api, people, archive, orders, org_tree, manager, monkeypatch, view, url
):
    user = people["county_supervisor"]
    counts = []
    for extra in (0, 6):
        _more_stations(org_tree, manager, extra)
        client = api(User.objects.get(pk=user.pk))
        for plain in (False, True):
            with monkeypatch.context() as patch:
                if plain:
                    patch.delattr(view, "rows_by_unit")
                for limit in (2, 50):
                    with CaptureQueriesContext(connection) as queries:
                        assert client.get(url, {"limit": limit}).status_code == 200
                    counts.append(len(queries))
    assert len(set(counts)) == 1, counts


# --- Work orders ----------------------------------------------------------------------

TICKET_PARAMS = [
    {},
    {"status": "open"},
    {"status": "closed"},
    {"kind": "repair", "urgency": "2"},
    {"created_after": "2026-01-01T00:00:00+08:00"},
    {"q": "停电"},
    {"org_unit": "LS02"},
    {"overdue": "false"},
    {"ordering": "id"},
    {"ordering": "-created_at"},
]


@pytest.mark.parametrize(("persona", "params"), persona_cases(TICKET_PARAMS))
def test_order_pages_are_the_plain_reads(api, people, orders, persona, params, monkeypatch):
    client = api(people[persona])
    merged, plain = _both(client, TICKETS, params, TicketViewSet, monkeypatch)
    assert merged == plain
    assert all(status == 200 for status, _body, _etag in merged)
    if not params and persona != "manager":
        assert len(merged) >= 5


def test_an_order_number_is_found_as_before(api, people, orders, monkeypatch):
    client = api(people["prefecture_supervisor"])
    number = Ticket.objects.order_by("id").values_list("number", flat=True)[3]
    merged, plain = _both(client, TICKETS, {"number": number}, TicketViewSet, monkeypatch)
    assert merged == plain
    assert [row["number"] for row in merged[0][1]["results"]] == [number]


@pytest.mark.parametrize("persona", sorted(MERGED) or ["county_supervisor"])
def test_a_supervisors_orders_are_read_unit_by_unit(api, people, orders, persona):
    client = api(people[persona])
    sql = _list_sql(client, TICKETS, {"status": "closed"}, "tickets_ticket")
    assert ("unnest" in sql) == (persona in MERGED)
    assert "unnest" not in _list_sql(client, TICKETS, {"ordering": "created_at"}, "tickets_ticket")


def test_a_county_supervisor_sees_no_other_countys_order(api, people, orders, org_tree):
    client = api(people["county_supervisor"])
    shown = []
    for _status, body, _etag in _walk(client, TICKETS, {}):
        shown += [row["number"] for row in body["results"]]
    county = [org_tree["county"], org_tree["station"], org_tree["sibling_station"]]
    assert set(shown) == set(Ticket.objects.filter(org_unit__in=county).values_list("number", flat=True))
    elsewhere = Ticket.objects.filter(org_unit=org_tree["other_station"]).first()
    assert client.get(f"{TICKETS}{elsewhere.number}/").status_code == 404


def test_a_scope_past_the_merge_limit_is_read_as_before(api, people, archive, orders, monkeypatch):
    """In id order a scope of many units (a prefecture's hundred stations) holds most of
    the table: walking the ids finds its page sooner than a branch per unit."""
    import core.pagination
    import tickets.selectors

    monkeypatch.setattr(core.pagination, "MERGE_MAX_UNITS", 2)
    monkeypatch.setattr(tickets.selectors, "MERGE_MAX_UNITS", 2)
    client = api(people["county_supervisor"])
    assert "UNION" not in _list_sql(client, CUSTOMERS, {}, "customers_customer")
    assert "unnest" not in _list_sql(client, TICKETS, {}, "tickets_ticket")


# --- The plan (PostgreSQL) --------------------------------------------------------------


def _customer_rows_read(sql: str) -> int:
    """Rows of the customers' table the plan read: returned, or read and dropped by a filter."""
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}")
        found = cursor.fetchone()[0]
    plan = (json.loads(found) if isinstance(found, str) else found)[0]["Plan"]
    read, nodes = 0, [plan]
    while nodes:
        node = nodes.pop()
        nodes += node.get("Plans", [])
        if node.get("Relation Name") == "customers_customer":
            seen = node["Actual Rows"] + node.get("Rows Removed by Filter", 0)
            read += (seen + node.get("Rows Removed by Index Recheck", 0)) * node["Actual Loops"]
    return read


@pytest.mark.skipif(connection.vendor != "postgresql", reason="reads PostgreSQL's query plans")
def test_a_county_supervisors_api_page_reads_the_countys_rows_only(
    api, people, org_tree, manager, outsider, monkeypatch
):
    """The county's 600 rows are older than the other county's 3,000: DRF's plain read
    walks past those; the per-unit read takes each station's newest rows."""
    rows = []
    for n in range(300):
        rows.append(_customer(n, org_tree["station"], manager))
        rows.append(_customer(n, org_tree["sibling_station"], None))
    rows += [_customer(n, org_tree["other_station"], outsider) for n in range(3000)]
    Customer.objects.bulk_create(rows)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE customers_customer")
    client = api(people["county_supervisor"])
    per_unit = _list_sql(client, CUSTOMERS, {"kind": "commercial"}, "customers_customer")
    with monkeypatch.context() as patch:
        patch.delattr(CustomerViewSet, "rows_by_unit")
        plain = _list_sql(client, CUSTOMERS, {"kind": "commercial"}, "customers_customer")
    assert _customer_rows_read(per_unit) <= 600 + 2 * (LIMIT + 1)
    assert _customer_rows_read(plain) > 3000
