"""Adding a district's customers to its 台区群: one set-based insert, idempotent."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from customers.models import Customer
from groups.models import GroupKind, Membership
from groups.services.groups import group_create
from groups.services.members import group_add_district_customers, membership_leave
from tests.factories import ContactFactory, CustomerFactory


def contact_members(group) -> int:
    return Membership.objects.active().filter(group=group, contact__isnull=False).count()


def test_every_contact_of_every_customer_of_the_district_joins(group, manager, make_customer, org_tree):
    for _ in range(3):
        make_customer(contacts=2)
    elsewhere = CustomerFactory(station=org_tree["station"])  # no district
    ContactFactory(customer=elsewhere)
    deleted = make_customer()
    Customer.all_objects.filter(pk=deleted.pk).update(deleted_at=deleted.created_at)

    assert group_add_district_customers(group=group, by=manager) == 6
    assert contact_members(group) == 6
    assert group_add_district_customers(group=group, by=manager) == 0
    assert contact_members(group) == 6


def test_a_contact_who_left_is_not_brought_back(group, manager, make_customer):
    customer = make_customer()
    group_add_district_customers(group=group, by=manager)
    membership = Membership.objects.get(group=group, contact__customer=customer)
    membership_leave(membership=membership, by=manager)
    make_customer()
    assert group_add_district_customers(group=group, by=manager) == 1
    assert not Membership.objects.active().filter(group=group, contact__customer=customer).exists()


def test_it_is_one_insert_whatever_the_number_of_customers(group, manager, make_customer):
    def count_for(n: int) -> int:
        Membership.objects.filter(contact__isnull=False).delete()
        Customer.all_objects.all().delete()
        for _ in range(n):
            make_customer()
        with CaptureQueriesContext(connection) as ctx:
            added = group_add_district_customers(group=group, by=manager)
        assert added == n
        inserts = [q["sql"] for q in ctx.captured_queries if q["sql"].startswith("INSERT")]
        assert len(inserts) == 1
        return len(ctx.captured_queries)

    assert count_for(5) == count_for(50)


def test_only_a_district_group_and_its_manager_may(group, manager, colleague):
    vip = group_create(by=manager, name="VIP群", kind=GroupKind.VIP, rules="x")
    with pytest.raises(ValidationError):
        group_add_district_customers(group=vip, by=manager)
    with pytest.raises(PermissionDenied):
        group_add_district_customers(group=group, by=colleague)
