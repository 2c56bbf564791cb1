"""Every change to an archive is kept: who, when, old → new, shown on the 360 page."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from core.history import insert_baseline_history
from customers import services
from customers.models import Customer
from customers.selectors import customer_history
from tests.factories import CustomerFactory

SHANGHAI = ZoneInfo("Asia/Shanghai")


def edit_data(customer, **changes) -> dict:
    data = {
        "name": customer.name,
        "kind": customer.kind,
        "segment": customer.segment,
        "voltage": customer.voltage,
        "address": customer.address,
        "station": customer.station_id,
        "district": customer.district_id or "",
        "line": customer.line_id or "",
        "manager": customer.manager_id or "",
        "vip_tier": customer.vip_tier,
        "is_important": "on" if customer.is_important else "",
    }
    data.update(changes)
    return {key: value for key, value in data.items() if value != ""}


def test_an_edit_on_the_page_records_who_when_and_old_to_new(
    login, colleague, manager, mine, grid, freeze_now
):
    freeze_now(datetime(2031, 3, 8, 9, 30, tzinfo=SHANGHAI))
    client = login(colleague)
    response = client.post(
        reverse("customers:edit", args=[mine.number]),
        edit_data(
            mine, name="雷山县永乐大酒店", district=grid["other_district"].pk, line=grid["other_line"].pk
        ),
    )
    assert response.status_code == 302

    rows = customer_history(mine)
    changed = {row.field: row for row in rows if row.action == "修改"}
    assert changed["客户名称"].old == "雷山县永乐酒店"
    assert changed["客户名称"].new == "雷山县永乐大酒店"
    assert (changed["台区"].old, changed["台区"].new) == ("永乐一号台区", "丹江二号台区")
    assert (changed["线路"].old, changed["线路"].new) == ("10kV永乐线", "10kV丹江线")
    assert changed["客户名称"].who == "李四"
    assert changed["客户名称"].when.astimezone(SHANGHAI) == datetime(2031, 3, 8, 9, 30, tzinfo=SHANGHAI)
    assert rows[-1].action == "新建" and rows[-1].who == "张三"

    page = login(manager).get(reverse("customers:detail", args=[mine.number])).content.decode()
    history = page.split("变更记录")[1]
    assert "李四" in history
    assert "2031-03-08 09:30" in history
    assert "雷山县永乐酒店" in history and "雷山县永乐大酒店" in history


def test_history_is_newest_first_and_covers_contacts(mine, manager, colleague):
    services.customer_update(customer=mine, updated_by=manager, address="雷山县丹江镇永乐路20号")
    contact = mine.contacts.get()
    services.contact_update(contact=contact, user=colleague, name="杨总")
    rows = customer_history(mine)
    assert [(row.subject, row.field) for row in rows[:2]] == [
        ("联系人「杨总」", "联系人"),
        ("客户档案", "用电地址"),
    ]
    assert rows[0].who == "李四"
    assert [row.when for row in rows] == sorted((row.when for row in rows), reverse=True)


def test_choices_and_flags_read_as_labels(mine, manager):
    services.customer_update(customer=mine, updated_by=manager, kind="resident", is_sensitive=True)
    changed = {row.field: (row.old, row.new) for row in customer_history(mine) if row.field}
    assert changed["用电类别"] == ("一般工商业", "居民")
    assert changed["敏感客户"] == ("否", "是")


def test_phone_changes_are_masked_unless_asked_for_in_full(mine, manager):
    contact = mine.contacts.get()
    services.contact_update(contact=contact, user=manager, mobile="13885554321")
    masked = [row for row in customer_history(mine) if row.field == "手机号码"][0]
    assert (masked.old, masked.new) == ("138****1234", "138****4321")
    full = [row for row in customer_history(mine, mask_phones=False) if row.field == "手机号码"][0]
    assert (full.old, full.new) == ("13885551234", "13885554321")


def test_the_colleague_sees_masked_phone_changes_on_the_360_page(login, colleague, mine, manager):
    services.contact_update(contact=mine.contacts.get(), user=manager, mobile="13885554321")
    page = login(colleague).get(reverse("customers:detail", args=[mine.number])).content.decode()
    assert "13885554321" not in page
    assert "138****4321" in page


def test_verification_and_contact_removal_are_in_the_history(mine, manager, colleague):
    services.customer_mark_verified(customer=mine, user=colleague)
    services.contact_delete(contact=mine.contacts.get(), user=manager)
    rows = customer_history(mine)
    assert (rows[0].subject, rows[0].action, rows[0].who) == ("联系人「杨老板」", "删除", "张三")
    assert (rows[1].field, rows[1].who) == ("档案核实时间", "李四")


def test_the_history_is_bounded(mine, manager):
    for n in range(30):
        services.customer_update(customer=mine, updated_by=manager, address=f"永乐路{n}号", notes=f"第{n}次")
    rows = customer_history(mine, limit=50)
    assert len(rows) == 50
    assert rows[0].new in ("永乐路29号", "第29次")


@pytest.fixture
def freeze_now(monkeypatch):
    """freeze_now(moment): django.utils.timezone.now (and so history timestamps) returns `moment`."""
    from django.utils import timezone

    def _freeze(moment: datetime) -> None:
        monkeypatch.setattr(timezone, "now", lambda: moment)

    return _freeze


def test_the_oldest_row_in_a_short_window_still_knows_its_old_value(mine, manager):
    for n in range(5):
        services.customer_update(customer=mine, updated_by=manager, address=f"永乐路{n}号")
    rows = customer_history(mine, limit=2)
    assert [(row.old, row.new) for row in rows] == [("永乐路3号", "永乐路4号"), ("永乐路2号", "永乐路3号")]


def _history_scans(plan: dict):
    if plan.get("Relation Name") == "customers_historicalcustomer":
        yield plan
    for child in plan.get("Plans", []):
        yield from _history_scans(child)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="reads PostgreSQL's query plan")
def test_the_history_is_read_by_key_not_by_scanning_every_customers_versions(mine, manager):
    """The window and its predecessors are fetched by history id: the history of
    other customers (a prefecture holds a million versions) is never read row by row."""
    services.customer_update(customer=mine, updated_by=manager, address="永乐路1号")
    others = Customer.objects.bulk_create(
        CustomerFactory.build(station=mine.station, number=f"{7000000000 + n}") for n in range(2000)
    )
    insert_baseline_history(Customer, Customer.history.model)
    assert Customer.history.count() >= len(others)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE customers_historicalcustomer")
    with CaptureQueriesContext(connection) as queries:
        customer_history(mine)
    statement = next(
        q["sql"] for q in queries if q["sql"].startswith('SELECT "customers_historicalcustomer"')
    )
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + statement)
        plan = cursor.fetchone()[0][0]["Plan"]
    read = sum(
        n.get("Actual Rows", 0) * n.get("Actual Loops", 1) + n.get("Rows Removed by Filter", 0)
        for n in _history_scans(plan)
    )
    assert read < 50, plan
