"""On PostgreSQL the sync page is read from rows the database's triggers rendered.

They must say exactly what the Python rows say, and the page falls back to
the Python rows when a rendered row is missing or was rendered in another
time zone.
"""

import datetime
import json

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from core.phones import mask_phone
from customers.api.sync import (
    SyncCursor,
    check_cursor,
    feed_state,
    sync_page,
    sync_page_json,
    unsign_cursor,
)
from customers.models import Customer, CustomerSyncDoc
from customers.sync_triggers import refresh_zone
from tests.api.conftest import SYNC, postgres_only
from tests.factories import ContactFactory, CustomerFactory, UserFactory

pytestmark = [pytest.mark.django_db(transaction=True), postgres_only]

PHONES = [
    ("13885551234", ""),
    ("", "0855-8231234"),
    None,
    ("12345", "085512"),
    ("23885551234", "08558231234"),
    ("1388555123", "0855-82-31234"),
    ("123456-7", "-1234567"),
    ("１３８８５５５１２３４", "0855－8231234"),
    ("138 8555 12", "(0855)8231234"),
]


@pytest.fixture
def varied(org_tree, manager, colleague) -> list[Customer]:
    """Owned and foreign rows, null relations, odd phones, timestamps with and without microseconds."""
    nameless = UserFactory(username="nameless", real_name="", org_unit=org_tree["station"])
    made = []
    for n, phones in enumerate(PHONES):
        owner = (manager, colleague, nameless, None)[n % 4]
        customer = CustomerFactory(number=f"52019900{n:02d}", station=org_tree["station"], manager=owner)
        if phones is not None:
            mobile, landline = phones
            ContactFactory(customer=customer, mobile=mobile, landline=landline, is_primary=n % 2 == 0)
        if n % 3 == 0:
            ContactFactory(customer=customer, mobile="13900000000", landline="010-12345678", is_primary=False)
        made.append(customer)
    moment = datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)
    Customer.objects.filter(pk=made[0].pk).update(verified_at=moment, notes='带 "引号" 与\n换行')
    Customer.objects.filter(pk=made[1].pk).update(verified_at=None)
    Customer.objects.filter(pk=made[2].pk).update(verified_at=moment.replace(microsecond=120))
    CustomerFactory(number="5201990099", station=org_tree["station"], manager=manager)
    Customer.all_objects.filter(number="5201990099").update(deleted_at=timezone.now())
    return made


def position(page, user) -> SyncCursor:
    return check_cursor(unsign_cursor(page["next"]), user=user, state=feed_state())


def python_walk(user, limit):
    cursor, rows = SyncCursor(), []
    while True:
        page = sync_page(user=user, cursor=cursor, limit=limit)
        rows.append(page)
        cursor = position(page, user)
        if not page["has_more"]:
            return rows


def sql_walk(user, limit):
    cursor, rows = SyncCursor(), []
    while True:
        page = json.loads(sync_page_json(user=user, cursor=cursor, limit=limit))
        rows.append(page)
        cursor = position(page, user)
        if not page["has_more"]:
            return rows


@pytest.mark.parametrize("limit", [1, 4, 1000])
def test_the_database_page_equals_the_python_page(varied, manager, supervisor, settled, limit):
    settled()
    for user in (manager, supervisor):
        expected = python_walk(user, limit)
        assert sql_walk(user, limit) == expected
        rows = [row for page in expected for row in page["results"]]
        assert len(rows) == len(PHONES) + 1
        assert {"number": "5201990099", "deleted": True} in rows


def test_the_cases_the_comparison_relies_on_are_there(varied, manager, supervisor, settled):
    settled()
    rows = {
        row["number"]: row
        for row in json.loads(sync_page_json(user=supervisor, cursor=SyncCursor(), limit=100))["results"]
    }
    mine = {
        row["number"]: row
        for row in json.loads(sync_page_json(user=manager, cursor=SyncCursor(), limit=100))["results"]
    }
    assert rows["5201990000"]["verified_at"] == "2026-01-02T11:04:05+08:00"
    assert rows["5201990002"]["verified_at"] == "2026-01-02T11:04:05.000120+08:00"
    assert rows["5201990001"]["verified_at"] is None
    assert rows["5201990002"]["contacts"] == []
    assert rows["5201990003"]["manager"] is None
    assert rows["5201990002"]["manager"]["name"] == "nameless"
    assert rows["5201990000"]["contacts"][0]["mobile"] == mask_phone("13885551234") == "138****1234"
    assert mine["5201990000"]["contacts"][0]["mobile"] == "13885551234"
    assert rows["5201990007"]["contacts"][0]["mobile"] == mask_phone("１３８８５５５１２３４")
    assert mine["5201990004"]["contacts"][0]["mobile"] == "23885551234"


def test_the_view_sends_the_database_page(api, varied, manager, settled):
    settled()
    response = api(manager).get(SYNC, {"limit": 1000})
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json() == sync_page(user=manager, cursor=SyncCursor(), limit=1000)


def stamps() -> dict[int, tuple[int, int]]:
    return {
        pk: (version, stamp)
        for pk, version, stamp in Customer.all_objects.values_list("pk", "version", "sync_stamp")
    }


def test_every_customer_has_its_rendered_row_and_a_hard_delete_takes_it_away(varied, settled):
    settled()
    pks = set(Customer.all_objects.values_list("pk", flat=True))
    assert set(CustomerSyncDoc.objects.values_list("customer_id", flat=True)) == pks

    Customer.all_objects.filter(pk=varied[3].pk).delete()

    assert set(CustomerSyncDoc.objects.values_list("customer_id", flat=True)) == pks - {varied[3].pk}


def test_a_page_in_another_time_zone_is_built_in_python(varied, supervisor, settled):
    settled()
    with timezone.override("America/New_York"):
        page = json.loads(sync_page_json(user=supervisor, cursor=SyncCursor(), limit=100))
        assert page == sync_page(user=supervisor, cursor=SyncCursor(), limit=100)
    row = next(row for row in page["results"] if row["number"] == "5201990000")
    assert row["verified_at"] == "2026-01-01T22:04:05-05:00"


def test_a_row_not_rendered_makes_the_page_built_in_python(varied, manager, settled):
    settled()
    expected = sync_page(user=manager, cursor=SyncCursor(), limit=100)
    CustomerSyncDoc.objects.filter(customer=varied[1]).delete()

    assert json.loads(sync_page_json(user=manager, cursor=SyncCursor(), limit=100)) == expected


def test_a_new_time_zone_setting_renders_every_row_again_without_a_new_stamp(varied, supervisor, settled):
    settled()
    before = stamps()
    try:
        refresh_zone(connection, "UTC")
        with connection.cursor() as cursor:
            cursor.execute("SELECT customers_sync_zone()")
            assert cursor.fetchone()[0] == "UTC"
        with timezone.override("UTC"):
            state = feed_state()
            expected = sync_page(user=supervisor, cursor=SyncCursor(), limit=100, state=state)
            with CaptureQueriesContext(connection) as queries:
                body = sync_page_json(user=supervisor, cursor=SyncCursor(), limit=100, state=state)
            page = json.loads(body)
        assert page == expected
        # The page read as rendered (the exits' tombstones in the same query), not built in Python;
        # the supervisor's units are cached since the first page.
        assert len(queries) == 1, [query["sql"][:80] for query in queries.captured_queries]
        row = next(row for row in page["results"] if row["number"] == "5201990000")
        assert row["verified_at"] == "2026-01-02T03:04:05Z"
    finally:
        refresh_zone(connection, settings.TIME_ZONE)
    assert stamps() == before
    assert json.loads(sync_page_json(user=supervisor, cursor=SyncCursor(), limit=100)) == sync_page(
        user=supervisor, cursor=SyncCursor(), limit=100
    )
