"""The sync feed follows scope: archives that leave it come as tombstones, a cursor that no longer
fits answers 410, and a client that obeys ends equal to the server."""

import base64
import dataclasses

import pytest
from django.db import connection

from accounts.models import User
from customers import services
from customers.api.sync import SyncCursor, encode_cursor, feed_state
from customers.models import Customer, CustomerSyncExit
from tests.api.conftest import SYNC, walk

pytestmark = pytest.mark.django_db(transaction=True)


def apply(copy: dict[str, dict], rows: list[dict]) -> dict[str, dict]:
    for row in rows:
        if row["deleted"]:
            copy.pop(row["number"], None)
        else:
            copy[row["number"]] = row
    return copy


def visible_numbers(user: User) -> set[str]:
    return set(Customer.objects.visible_to(user).values_list("number", flat=True))


def given(customer: Customer, **fields) -> Customer:
    """A write the services would refuse (a manager outside the station): the admin's or raw SQL's.
    The triggers see every write, whoever makes it."""
    Customer.all_objects.filter(pk=customer.pk).update(**fields)
    customer.refresh_from_db()
    return customer


def gone(response) -> dict:
    assert response.status_code == 410, response.content
    body = response.json()
    assert body["code"] == "cursor_expired"
    assert "从头同步" in body["detail"]
    return body


@pytest.fixture
def archive(make_customer, manager, colleague, org_tree) -> dict[str, Customer]:
    return {
        "here": make_customer(by=manager, number="5201010001", manager=manager),
        "colleagues": make_customer(by=colleague, number="5201010002", manager=colleague),
        # In the sibling station, seen by the manager only because they manage it.
        "owned_elsewhere": given(
            make_customer(number="5201010003", station=org_tree["sibling_station"]), manager=manager
        ),
        "sibling": make_customer(number="5202010001", station=org_tree["sibling_station"]),
    }


def test_a_customer_moved_to_another_station_leaves_a_tombstone(
    api, manager, supervisor, outsider, admin_user, archive, org_tree, settled
):
    settled()
    mine, theirs, county = api(manager), api(outsider), api(supervisor)
    copy, cursor = walk(mine)
    copy = apply({}, copy)
    _rows, their_cursor = walk(theirs)
    _rows, county_cursor = walk(county)

    services.customer_update(
        customer=archive["colleagues"], updated_by=admin_user, station=org_tree["other_station"], manager=None
    )
    settled()

    rows, cursor = walk(mine, cursor)
    assert rows == [{"number": "5201010002", "deleted": True, "reason": "out_of_scope"}]
    assert set(apply(copy, rows)) == visible_numbers(manager)
    assert [row["number"] for row in walk(theirs, their_cursor)[0]] == ["5201010002"], "entered their scope"
    tombstone = {"number": "5201010002", "deleted": True, "reason": "out_of_scope"}
    assert walk(county, county_cursor)[0] == [tombstone]
    assert walk(mine, cursor)[0] == [], "once"


def test_a_customer_given_to_another_manager_leaves_a_tombstone_for_the_one_who_saw_it_only_as_owner(
    api, manager, colleague, admin_user, archive, settled
):
    settled()
    mine = api(manager)
    copy, cursor = walk(mine)
    copy = apply({}, copy)

    given(archive["owned_elsewhere"], manager=colleague)
    services.customer_update(customer=archive["here"], updated_by=admin_user, manager=colleague)
    settled()

    rows, _cursor = walk(mine, cursor)
    by_number = {row["number"]: row for row in rows}
    assert by_number["5201010003"] == {"number": "5201010003", "deleted": True, "reason": "out_of_scope"}
    # Still in the manager's station: the full row again (now with masked phones), no tombstone.
    assert by_number["5201010001"]["deleted"] is False
    assert by_number["5201010001"]["manager"]["username"] == colleague.username
    assert set(apply(copy, rows)) == visible_numbers(manager)


def test_a_customer_moved_away_and_back_comes_as_a_row(api, manager, admin_user, archive, org_tree, settled):
    settled()
    mine = api(manager)
    _rows, cursor = walk(mine)

    given(archive["here"], station=org_tree["other_station"])
    given(archive["here"], station=org_tree["station"])
    settled()

    rows, _cursor = walk(mine, cursor)
    assert [row["number"] for row in rows] == ["5201010001"]
    assert rows[0]["deleted"] is False


def test_a_hard_delete_leaves_a_tombstone(api, manager, supervisor, archive, settled):
    settled()
    mine, county = api(manager), api(supervisor)
    _rows, cursor = walk(mine)
    _rows, county_cursor = walk(county)

    Customer.all_objects.filter(pk=archive["here"].pk).delete()  # what the admin's delete does
    settled()

    assert walk(mine, cursor)[0] == [{"number": "5201010001", "deleted": True}]
    assert walk(county, county_cursor)[0] == [{"number": "5201010001", "deleted": True}]
    assert CustomerSyncExit.objects.filter(number="5201010001", reason="deleted").count() == 1


def test_the_outsider_gets_no_tombstones_of_what_they_never_saw(api, outsider, admin_user, archive, settled):
    settled()
    theirs = api(outsider)
    _rows, cursor = walk(theirs)

    Customer.all_objects.filter(pk=archive["here"].pk).delete()
    services.customer_update(customer=archive["sibling"], updated_by=admin_user, manager=admin_user)
    settled()

    assert walk(theirs, cursor)[0] == []


def test_a_user_moved_to_another_unit_is_told_to_walk_again(api, manager, archive, org_tree, settled):
    settled()
    client = api(manager)
    _rows, cursor = walk(client)

    User.objects.filter(pk=manager.pk).update(org_unit=org_tree["sibling_station"])
    settled()

    assert gone(client.get(SYNC, {"cursor": cursor}))["reason"] == "scope"
    manager.refresh_from_db()
    rows, _cursor = walk(client)
    assert set(apply({}, rows)) == visible_numbers(manager) == {"5201010001", "5201010003", "5202010001"}


def test_a_promoted_user_is_told_to_walk_again(api, manager, archive, settled):
    settled()
    client = api(manager)
    _rows, cursor = walk(client)

    User.objects.filter(pk=manager.pk).update(role=User.Role.SUPERVISOR)

    assert gone(client.get(SYNC, {"cursor": cursor}))["reason"] == "scope"
    manager.refresh_from_db()
    rows, _cursor = walk(client)
    assert set(apply({}, rows)) == visible_numbers(manager)


def test_a_reorganised_tree_tells_supervisors_to_walk_again(api, supervisor, archive, org_tree, settled):
    settled()
    client = api(supervisor)
    _rows, cursor = walk(client)

    station = org_tree["sibling_station"]
    station.parent = org_tree["other_county"]
    station.save()  # its customers leave the supervisor's county, without a write of theirs

    assert gone(client.get(SYNC, {"cursor": cursor}))["reason"] == "scope"
    rows, _cursor = walk(client)
    assert set(apply({}, rows)) == visible_numbers(supervisor) == {"5201010001", "5201010002"}


def test_a_cursor_belongs_to_its_user(api, manager, colleague, archive, settled):
    settled()
    _rows, cursor = walk(api(manager))

    assert gone(api(colleague).get(SYNC, {"cursor": cursor}))["reason"] == "user"
    assert api(manager).get(SYNC, {"cursor": cursor}).status_code == 200


def test_a_cursor_from_the_future_or_another_epoch_is_gone_never_an_empty_page(
    api, manager, archive, settled
):
    settled()
    client = api(manager)
    state = feed_state()
    future = encode_cursor(SyncCursor(stamp=2**62, id=1), user=manager, state=state)
    assert gone(client.get(SYNC, {"cursor": future}))["reason"] == "ahead"

    elsewhere = dataclasses.replace(state, epoch="0" * 32)
    other = encode_cursor(SyncCursor(stamp=1, id=1), user=manager, state=elsewhere)
    assert gone(client.get(SYNC, {"cursor": other}))["reason"] == "epoch"


def test_a_cursor_of_the_unsigned_feed_is_gone(api, manager, archive):
    legacy = base64.urlsafe_b64encode(b"1:5:7").decode().rstrip("=")
    assert gone(api(manager).get(SYNC, {"cursor": legacy}))["reason"] == "format"


@pytest.mark.skipif(connection.vendor != "postgresql", reason="stamps are transaction ids on PostgreSQL only")
def test_a_database_restored_elsewhere_is_walked_again_from_the_start(api, manager, archive, settled):
    """What a dump restored into a new cluster looks like: the epoch row names the old cluster and
    the stamps are that cluster's transaction ids, far above this one's."""
    settled()
    client = api(manager)
    _rows, cursor = walk(client)
    with connection.cursor() as db:
        db.execute("ALTER TABLE customers_customer DISABLE TRIGGER USER")
        try:
            db.execute("UPDATE customers_customer SET sync_stamp = sync_stamp + 4000000000")
        finally:
            db.execute("ALTER TABLE customers_customer ENABLE TRIGGER USER")
        db.execute("UPDATE customers_syncepoch SET origin = '7000000000000000000:16384'")

    assert gone(client.get(SYNC, {"cursor": cursor}))["reason"] == "epoch"
    rows, cursor = walk(client)
    assert set(apply({}, rows)) == visible_numbers(manager)

    services.customer_update(customer=archive["here"], updated_by=manager, notes="恢复后的修改")
    settled()
    rows, _cursor = walk(client, cursor)
    assert [(row["number"], row["notes"]) for row in rows] == [("5201010001", "恢复后的修改")]
