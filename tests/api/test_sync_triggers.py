"""Every write stamps the customer row, whoever makes it: the sync feed and the ETag rely on it."""

from django.db import connection

from customers import services
from customers.models import Contact, Customer

TRIGGERS = {
    "postgresql": {
        "customers_customer_stamp",
        "customers_contact_touch_insert",
        "customers_contact_touch_update",
        "customers_contact_touch_delete",
        "customers_customer_render_insert",
        "customers_customer_render_update",
        "customers_customer_render_delete",
        "customers_sync_touch_station_id",
        "customers_sync_touch_district_id",
        "customers_sync_touch_line_id",
        "customers_sync_touch_manager_id",
        "customers_sync_exit_update",
        "customers_sync_exit_delete",
        "customers_sync_units_moved",
        "customers_sync_units_changed",
        "customers_sync_lock_station_id",
        "customers_sync_lock_district_id",
        "customers_sync_lock_line_id",
    },
    "sqlite": {
        "customers_customer_stamp_insert",
        "customers_customer_stamp_update",
        "customers_contact_touch_insert",
        "customers_contact_touch_update",
        "customers_contact_touch_delete",
        "customers_sync_touch_station_id",
        "customers_sync_touch_district_id",
        "customers_sync_touch_line_id",
        "customers_sync_touch_manager_id",
        "customers_sync_exit_update",
        "customers_sync_exit_delete",
        "customers_sync_units_moved",
        "customers_sync_units_inserted",
        "customers_sync_units_deleted",
    },
}


def installed_triggers() -> set[str]:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal")
        else:
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        return {row[0] for row in cursor.fetchall()}


def stamp(customer: Customer) -> tuple[int, int]:
    return tuple(Customer.all_objects.filter(pk=customer.pk).values_list("version", "sync_stamp").get())


def test_the_triggers_are_installed(db):
    assert TRIGGERS[connection.vendor] <= installed_triggers()


def test_every_kind_of_write_bumps_the_version_and_the_stamp(mine, manager):
    writes = [
        lambda: services.customer_update(customer=mine, updated_by=manager, notes="服务"),
        lambda: Customer.objects.filter(pk=mine.pk).update(notes="queryset.update"),
        lambda: Customer.objects.bulk_update([Customer(pk=mine.pk, notes="bulk_update")], ["notes"]),
        lambda: mine.save(),
        lambda: Contact.objects.filter(customer=mine).update(name="联系人改名"),
        lambda: Contact.objects.create(customer=mine, name="新联系人", mobile="13800000001"),
        lambda: Contact.objects.filter(customer=mine, is_primary=False).delete(),
    ]
    before = stamp(mine)
    for write in writes:
        write()
        after = stamp(mine)
        assert after[0] > before[0]
        if connection.vendor == "sqlite":
            assert after[1] > before[1], "SQLite stamps every write with a new counter value"
        before = after


def test_a_new_customer_starts_at_version_1(make_customer):
    customer = make_customer()

    assert stamp(customer)[0] == 1
