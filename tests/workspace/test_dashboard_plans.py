"""The dashboard's order figures are index-only scans (PostgreSQL).

A prefecture's dashboard reads its open orders and the orders of the period by
date column; each of those statements reads only a covering index of the orders
(tickets.models: ticket_dash_*), never the table's rows. Checked on the plans of
the statements compute_dashboard really sends, with the table vacuumed as
autovacuum keeps it (an index-only scan needs the visibility map) and scans that
read the table switched off, so the only way to an index-only plan is an index
that holds every column the statement reads.
"""

import json
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import User
from groups.models import GroupKind, GroupMessage
from groups.services.groups import group_create
from tests.factories import CustomerFactory, UserFactory, copied_orders
from tickets.defaults import seed_default_policies
from tickets.models import SlaPolicy, Status
from workspace.dashboard.figures import QUERY_COUNT, compute_dashboard
from workspace.dashboard.periods import period_from

pytestmark = [
    pytest.mark.skipif(connection.vendor != "postgresql", reason="reads PostgreSQL's query plans"),
    # VACUUM cannot run inside the test's transaction.
    pytest.mark.django_db(transaction=True),
]

ORDERS_PER_STATION = 60
STATUSES = [Status.NEW, Status.DISPATCHED, Status.SIGNED, Status.IN_PROGRESS, Status.RESOLVED, Status.VISITED]
# Each statement by what it alone reads, and the index that must answer it.
STATEMENTS = {
    "open orders": ('MAX("accounts_orgunit"."name")', "ticket_dash_open"),
    "new per day": ('AS "day"', "ticket_dash_created"),
    "signed": ('AS "sign_mean"', "ticket_dash_signed"),
    "resolved": ('AS "resolve_mean"', "ticket_dash_resolved"),
}
GROUP_INQUIRIES = ('AS "in_time"', "groups_groupmessage", "groupmessage_dash_inquiry")


@pytest.fixture
def prefecture_orders(org_tree) -> User:
    """Orders in every status, created, signed and resolved over the last days, in
    the stations of both counties; the prefecture's supervisor sees them all."""
    seed_default_policies(SlaPolicy)
    now = timezone.now()
    for station in (org_tree["station"], org_tree["sibling_station"], org_tree["other_station"]):
        owner = UserFactory(username=f"mgr-{station.code}", org_unit=station)

        def vary(copy, i):
            copy.status = STATUSES[i % len(STATUSES)]
            copy.created_at = now - timedelta(hours=3 * i + 5)
            copy.is_repeat = i % 7 == 0
            if copy.status not in (Status.NEW, Status.DISPATCHED):
                copy.signed_at = copy.created_at + timedelta(minutes=5 + i)
            if copy.status in (Status.RESOLVED, Status.VISITED):
                copy.resolved_at = copy.created_at + timedelta(hours=2 + i % 5)

        copied_orders(
            customer=CustomerFactory(station=station, manager=owner),
            owner=owner,
            count=ORDERS_PER_STATION,
            vary=vary,
        )
        group = group_create(by=owner, name=f"{station.name}客户群", kind=GroupKind.VIP, rules="文明发言。")
        GroupMessage.objects.bulk_create(
            GroupMessage(
                group=group,
                sender_kind=GroupMessage.SenderKind.CUSTOMER,
                sender_name="客户",
                text="什么时候来电？",
                sent_at=now - timedelta(hours=5 * i + 1),
                is_inquiry=i % 2 == 0,
                response_due_at=now - timedelta(hours=5 * i) if i % 2 == 0 else None,
                answered_at=now - timedelta(hours=5 * i) if i % 4 == 0 else None,
            )
            for i in range(ORDERS_PER_STATION)
        )
    return UserFactory(username="pf-sup", org_unit=org_tree["prefecture"], role=User.Role.SUPERVISOR)


def _plan_nodes(sql: str) -> list[dict]:
    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")
        cursor.execute("SET enable_bitmapscan = off")
        try:
            cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}")
            found = cursor.fetchone()[0]
        finally:
            cursor.execute("RESET enable_seqscan")
            cursor.execute("RESET enable_bitmapscan")
    plan = (json.loads(found) if isinstance(found, str) else found)[0]["Plan"]
    nodes, pending = [], [plan]
    while pending:
        node = pending.pop()
        nodes.append(node)
        pending.extend(node.get("Plans", []))
    return nodes


def test_the_prefectures_order_figures_read_only_covering_indexes(prefecture_orders):
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE tickets_ticket")
        cursor.execute("VACUUM ANALYZE groups_groupmessage")
    cache.clear()
    period, _error = period_from({"period": "7d"})
    with CaptureQueriesContext(connection) as queries:
        board = compute_dashboard(user=prefecture_orders, period=period)
    # The figures are there to be read, and the statements are no more than before.
    assert board.figures
    assert len(queries.captured_queries) == QUERY_COUNT + 1
    for name, (marker, index) in STATEMENTS.items():
        [sql] = [q["sql"] for q in queries.captured_queries if marker in q["sql"]]
        scans = [n for n in _plan_nodes(sql) if n.get("Relation Name") == "tickets_ticket"]
        assert [(n["Node Type"], n["Index Name"]) for n in scans] == [("Index Only Scan", index)], (
            name,
            scans,
        )


def test_the_open_orders_are_grouped_in_the_indexs_order_without_a_sort(prefecture_orders):
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE tickets_ticket")
    cache.clear()
    period, _error = period_from({"period": "today"})
    with CaptureQueriesContext(connection) as queries:
        compute_dashboard(user=prefecture_orders, period=period)
    [sql] = [q["sql"] for q in queries.captured_queries if STATEMENTS["open orders"][0] in q["sql"]]
    with connection.cursor() as cursor:
        cursor.execute("SET enable_hashagg = off")
        try:
            nodes = _plan_nodes(sql)
        finally:
            cursor.execute("RESET enable_hashagg")
    assert not [n for n in nodes if "Sort" in n["Node Type"]], nodes
