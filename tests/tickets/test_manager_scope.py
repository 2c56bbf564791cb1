"""An account manager's orders, each way they may see one, read through indexes.

The scope is: their unit's orders, OR the ones assigned to them, OR their
customers' (moved to another unit), OR the ones they track after a transfer.
Inside that OR a join to the customer or an EXISTS left PostgreSQL no index to
start from; `core.lookups.AnyOf` keeps every branch an index condition."""

import pytest
from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Q

from core.lookups import AnyOf
from customers.models import Customer
from tests.factories import CustomerFactory, UserFactory
from tickets import services
from tickets.models import Ticket, Transfer


def plain_scope(user) -> set[int]:
    """The scope written as the plain OR, for comparison."""
    tracked = Transfer.objects.filter(ticket=OuterRef("pk"), tracker=user)
    condition = (
        Q(org_unit_id=user.org_unit_id) | Q(assignee=user) | Q(customer__manager=user) | Q(Exists(tracked))
    )
    return set(Ticket.objects.filter(condition).values_list("pk", flat=True))


@pytest.fixture
def orders_every_way(open_ticket, manager, colleague, org_tree):
    """Orders a manager sees each way, and some they must not see."""
    far = org_tree["other_station"]
    stranger = UserFactory(org_unit=far)
    own = open_ticket()
    colleagues = open_ticket(assignee=colleague)
    moved = open_ticket(assignee=colleague)
    services.ticket_transfer(ticket=moved, by=colleague, to_unit=far, reason="跨所处理", tracker=colleague)
    tracked_customer = CustomerFactory(station=far, manager=stranger)
    tracked = open_ticket(customer=tracked_customer, assignee=stranger, org_unit=far)
    services.ticket_transfer(
        ticket=tracked, by=stranger, to_unit=org_tree["sibling_station"], reason="转办", tracker=manager
    )
    elsewhere = open_ticket(
        customer=CustomerFactory(station=far, manager=stranger), assignee=stranger, org_unit=far
    )
    return {"own": own, "colleagues": colleagues, "moved": moved, "tracked": tracked, "elsewhere": elsewhere}


def test_a_manager_sees_each_way_and_nothing_else(orders_every_way, manager, colleague):
    seen = set(Ticket.objects.visible_to(manager).values_list("pk", flat=True))
    orders = orders_every_way
    assert orders["own"].pk in seen
    assert orders["colleagues"].pk in seen  # same unit
    assert orders["moved"].pk in seen  # their customer's, moved away
    assert orders["tracked"].pk in seen  # tracked after a transfer
    assert orders["elsewhere"].pk not in seen
    assert seen == plain_scope(manager)
    assert set(Ticket.objects.visible_to(colleague).values_list("pk", flat=True)) == plain_scope(colleague)


def test_the_scope_keeps_with_other_filters_and_counts(orders_every_way, manager):
    scoped = Ticket.objects.visible_to(manager)
    assert scoped.count() == len(plain_scope(manager))
    assert scoped.filter(status=orders_every_way["own"].status).exists()
    # Negated and combined, as list filters do.
    assert orders_every_way["own"].pk not in set(
        scoped.exclude(pk=orders_every_way["own"].pk).values_list("pk", flat=True)
    )


def test_anyof_matches_in_on_every_database(orders_every_way, manager):
    customers = Customer.objects.filter(manager=manager).values("pk")
    by_anyof = set(Ticket.objects.filter(AnyOf("customer_id", customers)).values_list("pk", flat=True))
    by_in = set(Ticket.objects.filter(customer_id__in=customers).values_list("pk", flat=True))
    assert by_anyof == by_in and by_anyof
    assert not Ticket.objects.filter(
        AnyOf("customer_id", Customer.objects.filter(pk=-1).values("pk"))
    ).exists()
    assert Ticket.objects.filter(~Q(AnyOf("customer_id", customers))).count() == (
        Ticket.objects.exclude(customer_id__in=customers).count()
    )


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the plan is PostgreSQL's")
def test_every_branch_of_the_scope_is_an_index_condition(orders_every_way, manager):
    """With sequential scans priced out, the manager's count reads only through indexes:
    a BitmapOr of the four branches, no row-by-row SubPlan and no join to the customers."""
    sql, params = Ticket.objects.visible_to(manager).values("pk").query.sql_with_params()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN SELECT count(*) FROM ({sql}) scoped", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "BitmapOr" in plan, plan
    assert "SubPlan" not in plan, plan
    assert "customers_customer " not in plan.split("InitPlan")[0], plan
