"""The archive's write rules, called the way views, the API and tasks call them."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction

from customers import services
from customers.models import Contact, Customer


def test_create_records_who_opened_the_archive(make_customer, manager):
    customer = make_customer(by=manager, manager=manager)
    record = customer.history.get()
    assert (record.history_type, record.history_user) == ("+", manager)


def test_a_new_primary_contact_demotes_the_old_one_in_the_same_write(mine, manager):
    old = mine.contacts.get()
    new = services.contact_create(
        customer=mine, user=manager, name="杨太太", mobile="13885550000", is_primary=True
    )
    old.refresh_from_db()
    assert new.is_primary and not old.is_primary
    assert list(mine.contacts.filter(is_primary=True)) == [new]
    demotion = old.history.first()
    assert (demotion.is_primary, demotion.history_user) == (False, manager)


def test_promoting_an_existing_contact_demotes_the_old_primary(mine, manager):
    old = mine.contacts.get()
    second = services.contact_create(customer=mine, user=manager, name="前台", landline="0855-3331234")
    services.contact_update(contact=second, user=manager, is_primary=True)
    old.refresh_from_db()
    second.refresh_from_db()
    assert second.is_primary and not old.is_primary


def test_the_database_allows_only_one_primary_contact(mine):
    with pytest.raises(IntegrityError), transaction.atomic():
        Contact.objects.create(customer=mine, name="另一位", mobile="13885550001", is_primary=True)


def test_a_contact_needs_a_phone(mine, manager):
    with pytest.raises(ValidationError) as error:
        services.contact_create(customer=mine, user=manager, name="无电话")
    assert error.value.message_dict == {"mobile": ["手机号码和固定电话至少填写一项。"]}
    assert mine.contacts.count() == 1


def test_a_failed_primary_contact_leaves_the_old_primary_in_place(mine, manager):
    with pytest.raises(ValidationError):
        services.contact_create(customer=mine, user=manager, name="坏号码", mobile="123", is_primary=True)
    assert mine.contacts.get().is_primary


def test_an_update_without_changes_writes_no_history(mine, manager):
    services.customer_update(customer=mine, updated_by=manager, name=mine.name, address=mine.address)
    assert mine.history.count() == 1


def test_the_customer_number_cannot_be_changed(mine, manager):
    with pytest.raises(TypeError):
        services.customer_update(customer=mine, updated_by=manager, number="5201000009")


def test_an_update_works_on_fresh_values_and_records_the_user(mine, colleague):
    stale_copy = Customer.objects.get(pk=mine.pk)
    services.customer_update(customer=mine, updated_by=colleague, address="雷山县丹江镇永乐路20号")
    updated = services.customer_update(customer=stale_copy, updated_by=colleague, name="永乐酒店")
    assert (updated.name, updated.address) == ("永乐酒店", "雷山县丹江镇永乐路20号")
    assert mine.history.first().history_user == colleague


def test_a_station_outside_the_users_reach_is_refused(manager, org_tree):
    with pytest.raises(ValidationError) as error:
        services.customer_create(
            created_by=manager, number="5209999999", name="越界", station=org_tree["other_station"]
        )
    assert "station" in error.value.message_dict
    assert not Customer.all_objects.exists()


def test_a_manager_of_another_county_cannot_own_the_customer(make_customer, outsider):
    with pytest.raises(ValidationError) as error:
        make_customer(manager=outsider)
    assert "不能负责该客户" in error.value.message_dict["manager"][0]


def test_a_county_manager_may_own_a_station_customer(make_customer, org_tree):
    from tests.factories import UserFactory

    county_manager = UserFactory(username="county", org_unit=org_tree["county"])
    assert make_customer(manager=county_manager).manager == county_manager


def test_mark_verified_stamps_the_time_and_the_user(mine, colleague):
    from django.utils import timezone

    before = timezone.now()
    services.customer_mark_verified(customer=mine, user=colleague)
    mine.refresh_from_db()
    assert mine.verified_at >= before
    assert mine.history.first().history_user == colleague


def test_only_owner_supervisor_or_administrator_may_delete(mine, colleague, outsider, supervisor):
    for user in (colleague, outsider):
        with pytest.raises(PermissionDenied):
            services.customer_soft_delete(customer=mine, user=user)
    services.customer_soft_delete(customer=mine, user=supervisor)
    assert Customer.all_objects.get(pk=mine.pk).deleted_at is not None
    assert mine.history.first().history_user == supervisor


def test_deleting_a_contact_is_kept_in_history(mine, manager):
    contact = mine.contacts.get()
    contact_id = contact.pk
    services.contact_delete(contact=contact, user=manager)
    record = Contact.history.filter(id=contact_id).first()
    assert (record.history_type, record.history_user) == ("-", manager)


def test_a_new_district_brings_its_line_unless_a_line_is_named(mine, manager, grid):
    moved = services.customer_update(customer=mine, updated_by=manager, district=grid["other_district"])
    assert moved.line == grid["other_line"]
    with pytest.raises(ValidationError) as error:
        services.customer_update(
            customer=mine, updated_by=manager, district=grid["district"], line=grid["other_line"]
        )
    assert "线路与台区不匹配" in error.value.message_dict["line"][0]
