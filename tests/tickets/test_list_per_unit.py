"""A supervisor's order list read unit by unit (tickets.selectors._first_rows).

On PostgreSQL a scope of several units reads each unit's first rows off its own
index and merges them; the page must be the one the plain query gives: the same
rows in the same order, the same pages forward and back, the same totals, with
the same number of queries. On SQLite both ways are the plain query.
"""

import json
import re
from copy import copy as copy_of
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import User
from tests.factories import CustomerFactory, copied_orders
from tickets import selectors
from tickets.models import OPEN_STATUSES, Status, Ticket

postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="reads PostgreSQL's query plans (EXPLAIN FORMAT JSON)"
)

PAGE_SIZE = 4
STATUSES = [*Status.values]
FILTERS = [
    {},
    {"status": "signed"},
    {"status": "open"},
    {"status": "closed"},
    {"status": "unsigned"},
    {"status": "resolved"},
    {"deadline": "overdue"},
    {"deadline": "near"},
    {"deadline": "attention"},
    {"urgency": "2"},
    {"created_after": "2026-01-01", "created_before": "2026-12-31"},
    {"resolved_after": "2025-01-01"},
    {"q": "停电"},
    {"status": "open", "kind": "repair"},
]
PERSONAS = ["county_supervisor", "prefecture_supervisor", "station_supervisor", "manager", "admin"]


@pytest.fixture
def people(people, admin_user) -> dict[str, User]:
    return {**people, "admin": admin_user}


@pytest.fixture
def orders(org_tree, manager, outsider) -> None:
    """Orders of every rank, status and urgency in the county's units (its own office
    and both stations) and more in the other county, with ties on the sort key."""
    now = timezone.now()
    places = [
        (org_tree["station"], manager, 9),
        (org_tree["sibling_station"], manager, 7),
        (org_tree["county"], manager, 5),
        (org_tree["other_station"], outsider, 12),
    ]
    for index, (unit, owner, n) in enumerate(places):
        customer = CustomerFactory(
            station=org_tree["station"] if unit.level != "station" else unit, manager=owner
        )

        def vary(copy, i, index=index, unit=unit):
            copy.org_unit = unit
            copy.status = STATUSES[(i + index) % len(STATUSES)]
            copy.urgency = (i // 2) % 3
            created = now - timedelta(hours=(i * 5) % 13, days=(i * 37) % 400)
            copy.created_at = created
            # Overdue, near and fine deadlines; a pair of orders share each deadline.
            due = now + timedelta(minutes=(i // 2 % 3 - 1) * 90)
            copy.sign_due_at = due
            copy.sign_warn_at = due - timedelta(hours=2)
            copy.resolve_due_at = due + timedelta(hours=i % 2)
            copy.resolve_warn_at = copy.resolve_due_at - timedelta(hours=2)
            copy.signed_at = created + timedelta(minutes=5)
            copy.resolved_at = None if copy.status in OPEN_STATUSES else created + timedelta(hours=6)

        copied_orders(customer=customer, owner=owner, count=n, vary=vary, tag=str(index))
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE tickets_ticket")


def _walk(user, params, *, plain: bool, monkeypatch) -> list[tuple]:
    """Every page forward, then back from the last one: (numbers, has_next, has_previous, total) each."""
    with monkeypatch.context() as patch:
        if plain:
            patch.setattr(selectors, "MERGE_FROM_UNITS", 10**9)
        pages, cursor = [], {}
        while True:
            page = selectors.ticket_list(user=user, params={**params, **cursor}, page_size=PAGE_SIZE)
            pages.append(page)
            if not page.has_next:
                break
            cursor = {"after": page.next_after}
        back = []
        while pages and (back[-1] if back else pages[-1]).has_previous:
            before = (back[-1] if back else pages[-1]).previous_before
            back.append(
                selectors.ticket_list(user=user, params={**params, "before": before}, page_size=PAGE_SIZE)
            )
    return [
        ([t.number for t in page.items], page.has_next, page.has_previous, page.total, page.total_capped)
        for page in [*pages, *back]
    ]


@pytest.mark.parametrize("persona", PERSONAS)
def test_the_pages_are_those_of_the_plain_query(persona, people, orders, monkeypatch):
    user = people[persona]
    for params in FILTERS:
        merged = _walk(user, params, plain=False, monkeypatch=monkeypatch)
        plain = _walk(user, params, plain=True, monkeypatch=monkeypatch)
        assert merged == plain, (persona, params)
    # The fixture is worth its name: the county's lists run over several pages.
    if persona == "county_supervisor":
        assert len(_walk(user, {}, plain=False, monkeypatch=monkeypatch)) > 3


def test_the_list_never_leaves_the_scope(people, orders, org_tree):
    user = people["county_supervisor"]
    county_units = {org_tree["county"].pk, org_tree["station"].pk, org_tree["sibling_station"].pk}
    page = selectors.ticket_list(user=user, params={}, page_size=500)
    assert {t.org_unit_id for t in page.items} == county_units
    assert len(page.items) == Ticket.objects.filter(org_unit__in=county_units).count()


@pytest.mark.parametrize("params", [{}, {"status": "signed"}, {"status": "closed"}])
def test_the_per_unit_read_runs_as_many_queries_as_the_plain_one(people, orders, monkeypatch, params):
    user = people["county_supervisor"]
    selectors.ticket_list(user=user, params=params)  # the scope's units are looked up once
    counts = []
    for plain in (False, True):
        with monkeypatch.context() as patch:
            if plain:
                patch.setattr(selectors, "MERGE_FROM_UNITS", 10**9)
            with CaptureQueriesContext(connection) as queries:
                selectors.ticket_list(user=user, params=params, page_size=PAGE_SIZE)
        counts.append(len(queries))
    assert counts[0] == counts[1]


# --- The plan (PostgreSQL) -------------------------------------------------------------


def _nodes(plan: dict):
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


def _conditions(node: dict) -> str:
    return " ".join(node.get(key, "") for key in ("Index Cond", "Recheck Cond", "Filter"))


def _plans(user, params) -> list[dict]:
    """The plan of every statement of the page that reads the orders' rows."""
    with CaptureQueriesContext(connection) as queries:
        selectors.ticket_list(user=user, params=params, page_size=PAGE_SIZE)
    plans = []
    with connection.cursor() as cursor:
        for query in queries.captured_queries:
            sql = query["sql"]
            if '"tickets_ticket"."number"' not in sql:
                continue
            cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}")
            found = cursor.fetchone()[0]
            plans.append((json.loads(found) if isinstance(found, str) else found)[0]["Plan"])
    return plans


@pytest.fixture
def history(org_tree, orders) -> None:
    """A prefecture's share: years of closed orders and some open ones, most in the other county,
    so that the planner weighs the table as at scale."""
    template = Ticket.objects.filter(org_unit=org_tree["other_station"]).first()
    now = timezone.now()
    units = [org_tree["other_station"]] * 8 + [org_tree["station"], org_tree["sibling_station"]]
    made = []
    for i in range(6000):
        copy = copy_of(template)
        copy.pk = None
        copy.number = f"H{i:07d}"
        copy.org_unit = units[i % len(units)]
        copy.status = STATUSES[i % len(STATUSES)] if i % 10 == 0 else Status.ARCHIVED
        copy.created_at = now - timedelta(hours=i)
        made.append(copy)
    Ticket.objects.bulk_create(made)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE tickets_ticket")


@postgres_only
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "params", [{"status": "signed"}, {"deadline": "overdue"}, {"status": "closed"}, {"kind": "repair"}]
)
def test_a_county_supervisors_rows_are_read_unit_by_unit(people, history, params):
    """Each statement reading the orders' rows takes at most a page of ids per unit of
    the scope (a bounded subplan per unit, `org_unit_id = <that unit>`), and reads the
    rows themselves by primary key only: never a walk of the whole table's order or a
    read of the scope's every row. The candidates carry their sort key, so only the
    page's rows are read again, once: not every candidate to learn its key."""
    plans = _plans(people["county_supervisor"], params)
    assert plans
    for plan in plans:
        subplans = [n for n in _nodes(plan) if n.get("Subplan Name")]
        assert subplans, (params, plan)
        inside = {id(n) for sub in subplans for n in _nodes(sub)}
        per_unit = [
            n
            for sub in subplans
            for n in _nodes(sub)
            if n.get("Relation Name") == "tickets_ticket"
            and re.search(r"org_unit_id = \w+\.id", _conditions(n))
        ]
        assert per_unit, (params, plan)
        assert all(sub["Node Type"] == "Limit" for sub in subplans), plan
        outside = [
            n for n in _nodes(plan) if n.get("Relation Name") == "tickets_ticket" and id(n) not in inside
        ]
        assert len(outside) == 1, (params, plan)
        assert outside[0].get("Index Name") == "tickets_ticket_pkey", (params, plan)


@pytest.mark.parametrize(
    ("params", "parts"),
    [({"status": "closed"}, 1), ({"status": "resolved"}, 1), ({"deadline": "overdue"}, 3), ({}, 4)],
)
def test_a_part_no_order_of_the_filters_can_be_in_is_not_read(people, orders, params, parts):
    """Closed statuses leave the open ranks out, an open status or a deadline the closed
    orders: the planner cannot tell the two status lists exclude each other and would
    read the scope's orders to find none. The last page reads every part left."""
    user = people["county_supervisor"]
    selectors.ticket_list(user=user, params=params)  # the scope's units are looked up once
    with CaptureQueriesContext(connection) as queries:
        page = selectors.ticket_list(user=user, params=params, page_size=500)
    assert page.items and not page.has_next
    reads = [q for q in queries.captured_queries if '"tickets_ticket"."number"' in q["sql"]]
    assert len(reads) == parts


# --- A scope past MERGE_MAX_UNITS (a prefecture's) ---------------------------------------


@pytest.mark.parametrize("persona", ["county_supervisor", "prefecture_supervisor"])
def test_past_the_merge_limit_the_pages_are_still_those_of_the_plain_query(
    persona, people, orders, monkeypatch
):
    """With the limit below the scope's units, the closed orders walk the ids and the open
    ranks stay unit by unit: every page of every filter is still the plain query's."""
    monkeypatch.setattr(selectors, "MERGE_MAX_UNITS", 2)
    user = people[persona]
    for params in FILTERS:
        assert _walk(user, params, plain=False, monkeypatch=monkeypatch) == _walk(
            user, params, plain=True, monkeypatch=monkeypatch
        ), (persona, params)


def _reads_unit_by_unit(sql: str) -> bool:
    return "unnest" in sql


@postgres_only
@pytest.mark.parametrize(
    ("params", "per_unit"), [({"status": "closed"}, False), ({"status": "signed"}, True)]
)
def test_past_the_merge_limit_only_the_closed_orders_walk_the_ids(
    people, orders, monkeypatch, params, per_unit
):
    """The closed orders of a scope of many units are read in id order off the table's
    own key (a unit with no matching order would be read whole by its branch); the open
    ranks keep their per-unit index, which holds every column they are cut by."""
    user = people["county_supervisor"]
    with CaptureQueriesContext(connection) as queries:
        selectors.ticket_list(user=user, params=params, page_size=PAGE_SIZE)
    assert any(_reads_unit_by_unit(q["sql"]) for q in queries.captured_queries)
    monkeypatch.setattr(selectors, "MERGE_MAX_UNITS", 2)
    with CaptureQueriesContext(connection) as queries:
        page = selectors.ticket_list(user=user, params=params, page_size=PAGE_SIZE)
    assert page.items
    reads = [q["sql"] for q in queries.captured_queries if '"tickets_ticket"."number"' in q["sql"]]
    assert reads and all(_reads_unit_by_unit(sql) == per_unit for sql in reads), reads
