"""Scope first: a supervisor's rows are narrowed by the ids of their subtree's units
(`unit IN (ids)` on the rows' own column), never by a join to the units' paths,
so a county supervisor's lists cost the county's rows, not the prefecture's.

Checked two ways: the SQL every main page sends (either database), and on
PostgreSQL the plans of the main list queries (EXPLAIN, FORMAT JSON).
"""

import json
import re
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import OrgUnit, User
from accounts.scoping import subtree_unit_ids, unit_subtree_ids
from customers.models import Customer
from groups.models import GroupKind, ServiceGroup
from groups.services.groups import group_create
from tests.factories import CustomerFactory, OrgUnitFactory, UserFactory, copied_orders
from tickets.defaults import seed_default_policies
from tickets.models import SlaPolicy, Ticket
from workspace.dashboard.access import in_scope, scope_unit_ids

postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="reads PostgreSQL's query plans (EXPLAIN FORMAT JSON)"
)

SCOPED_TABLES = ("customers_customer", "tickets_ticket", "groups_servicegroup", "groups_groupmessage")
# A unit's path matched as a prefix: PostgreSQL casts it (`"path"::text LIKE`), SQLite does not.
PATH_MATCH = re.compile(r'"path"(::text)? LIKE')
# Per station of the county, and in the other county: the other county holds
# most of the rows, as the other counties of a prefecture do.
ROWS_PER_STATION = 4
ROWS_ELSEWHERE = 40


@pytest.fixture
def spread(org_tree, manager, outsider) -> None:
    """Customers, orders and groups in both stations of the county, and many more in the other county."""
    seed_default_policies(SlaPolicy)
    sibling_manager = UserFactory(username="sib-mgr", org_unit=org_tree["sibling_station"])
    placed = [
        (org_tree["station"], manager, ROWS_PER_STATION),
        (org_tree["sibling_station"], sibling_manager, ROWS_PER_STATION),
        (org_tree["other_station"], outsider, ROWS_ELSEWHERE),
    ]
    for station, owner, n in placed:
        copied_orders(customer=CustomerFactory(station=station, manager=owner), owner=owner, count=n - 1)
        Customer.objects.bulk_create(
            [
                Customer(number=f"{station.pk:03d}{i:07d}", name=f"客户{i}", station=station, manager=owner)
                for i in range(n)
            ]
        )
        group = group_create(by=owner, name=f"{station.name}大客户群", kind=GroupKind.VIP, rules="文明发言。")
        ServiceGroup.objects.bulk_create(
            [
                ServiceGroup(
                    name=f"{station.name}客户群{i}",
                    kind=GroupKind.VIP,
                    owner=owner,
                    org_unit=station,
                    rules="文明发言。",
                    created_by=owner,
                )
                for i in range(n - 1)
            ]
        )
        assert group.org_unit == station


def _pages(persona: str) -> list[str]:
    pages = ["/customers/", "/tickets/", "/tickets/?status=dispatched", "/groups/", "/customers/?q=客户"]
    return pages if persona == "manager" else [*pages, "/dashboard/"]


def _in_list(ids: list[int]) -> str:
    return "IN (" + ", ".join(str(i) for i in ids) + ")"


@pytest.mark.parametrize(
    "persona", ["station_supervisor", "county_supervisor", "prefecture_supervisor", "manager"]
)
def test_the_main_pages_narrow_by_unit_ids_and_never_join_the_unit_paths(persona, people, spread, client):
    user = people[persona]
    ids = unit_subtree_ids(user.org_unit_id)
    client.force_login(user)
    for url in _pages(persona):
        cache.clear()
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url)
        assert response.status_code == 200, url
        scoped = [
            q["sql"] for q in queries.captured_queries if any(f'"{t}"' in q["sql"] for t in SCOPED_TABLES)
        ]
        assert scoped, url
        for sql in scoped:
            assert not PATH_MATCH.search(sql), (url, sql)
        if persona != "manager":
            # The subtree's own ids, on the rows' unit column.
            assert any(_in_list(ids) in sql for sql in scoped), (url, ids)


def test_the_subtree_is_looked_up_once_per_user_object(people, django_assert_num_queries):
    user = User.objects.get(pk=people["county_supervisor"].pk)
    cache.clear()
    with django_assert_num_queries(1):
        first = subtree_unit_ids(user)
        assert subtree_unit_ids(user) == first
    # Another request (another user object) finds the list in the shared cache.
    again = User.objects.get(pk=user.pk)
    with django_assert_num_queries(0):
        assert subtree_unit_ids(again) == first


def test_a_new_unit_is_in_the_scope_at_once(people, org_tree):
    user = people["county_supervisor"]
    before = subtree_unit_ids(user)
    added = OrgUnitFactory(
        code="LS03", name="永乐供电所", level=OrgUnit.Level.STATION, parent=org_tree["county"]
    )
    assert subtree_unit_ids(user) == sorted([*before, added.pk])
    # Another process's user object, through the shared cache, sees it too.
    assert subtree_unit_ids(User.objects.get(pk=user.pk)) == sorted([*before, added.pk])


def test_a_moved_unit_leaves_the_scope_of_its_old_county(people, org_tree, outsider):
    county = people["county_supervisor"]
    sibling = org_tree["sibling_station"]
    assert sibling.pk in subtree_unit_ids(county)
    sibling.parent = org_tree["other_county"]
    sibling.save()
    assert sibling.pk not in subtree_unit_ids(county)
    assert sibling.pk in unit_subtree_ids(org_tree["other_county"].pk)
    assert outsider.org_unit_id not in subtree_unit_ids(county)


def test_a_deleted_unit_leaves_the_scope(people, org_tree):
    user = people["county_supervisor"]
    added = OrgUnitFactory(
        code="LS04", name="大塘供电所", level=OrgUnit.Level.STATION, parent=org_tree["county"]
    )
    assert added.pk in subtree_unit_ids(user)
    added.delete()
    assert added.pk not in subtree_unit_ids(user)


def test_with_the_tree_version_lost_the_scope_is_looked_up_again(people, org_tree):
    """An emptied or evicted cache never brings back a list of another tree."""
    user = people["county_supervisor"]
    first = subtree_unit_ids(user)
    cache.clear()
    assert subtree_unit_ids(User.objects.get(pk=user.pk)) == first


def test_an_outsider_gets_404_for_a_row_of_the_county(people, spread, client, outsider):
    order = Ticket.objects.filter(org_unit=people["manager"].org_unit).first()
    client.force_login(outsider)
    assert client.get(f"/tickets/{order.number}/").status_code == 404
    client.force_login(people["station_supervisor"])
    assert client.get(f"/tickets/{order.number}/").status_code == 200


# --- The plans (PostgreSQL) -------------------------------------------------------


def _nodes(plan: dict):
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


def _plan(queryset) -> dict:
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        found = cursor.fetchone()[0]
    return (json.loads(found) if isinstance(found, str) else found)[0]["Plan"]


def _conditions(node: dict) -> str:
    return " ".join(node.get(key, "") for key in ("Index Cond", "Recheck Cond", "Filter", "Join Filter"))


def _main_queries(user: User) -> dict[str, tuple]:
    """Each main list's query, with its table and unit column."""
    now = timezone.now()
    queries = {
        "customers": (Customer.objects.visible_to(user).order_by("-id"), "customers_customer", "station_id"),
        "orders": (
            Ticket.objects.visible_to(user).filter(status="dispatched").order_by("-created_at"),
            "tickets_ticket",
            "org_unit_id",
        ),
        "groups": (ServiceGroup.objects.visible_to(user).active(), "groups_servicegroup", "org_unit_id"),
    }
    if user.is_supervisor:
        queries["dashboard"] = (
            Ticket.objects.filter(
                in_scope(scope_unit_ids(user), "org_unit"), created_at__gte=now - timedelta(days=7)
            ).values("kind"),
            "tickets_ticket",
            "org_unit_id",
        )
    return queries


@postgres_only
@pytest.mark.parametrize(
    "persona", ["station_supervisor", "county_supervisor", "prefecture_supervisor", "manager"]
)
def test_the_plans_filter_by_unit_id_without_the_unit_paths(persona, people, spread):
    user = people[persona]
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE customers_customer, tickets_ticket, groups_servicegroup, accounts_orgunit")
    ids = unit_subtree_ids(user.org_unit_id)
    for name, (queryset, table, column) in _main_queries(user).items():
        plan = _plan(queryset)
        nodes = list(_nodes(plan))
        assert not any("path" in _conditions(n) for n in nodes), (name, plan)
        assert any(n.get("Relation Name") == table for n in nodes), (name, plan)
        # Bitmap index scans carry their condition without the table's name: read every node's.
        conditions = " ".join(_conditions(n) for n in nodes)
        if persona == "manager":
            assert f"{column} = {user.org_unit_id}" in conditions, (name, conditions)
        elif len(ids) == 1:
            assert f"{column} = {ids[0]}" in conditions, (name, conditions)
        else:
            ids_array = "'{" + ",".join(str(i) for i in ids) + "}'"
            assert f"{column} = ANY ({ids_array}" in conditions, (name, conditions)


@postgres_only
def test_a_county_supervisors_plans_do_not_count_the_other_countys_rows(people, spread):
    """The estimates follow the county (the column's statistics of the listed ids),
    not the whole table: the other county holds most of the rows."""
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE customers_customer, tickets_ticket, groups_servicegroup")
    county_rows = 2 * ROWS_PER_STATION
    for name, (queryset, table, _column) in _main_queries(people["county_supervisor"]).items():
        plan = _plan(queryset)
        scans = [n for n in _nodes(plan) if n.get("Relation Name") == table]
        estimated = max(n["Plan Rows"] for n in scans)
        assert estimated < ROWS_ELSEWHERE, (name, estimated, plan)
        assert estimated <= 3 * county_rows + 2, (name, estimated)
