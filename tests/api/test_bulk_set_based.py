"""The set-based bulk upsert writes what one item at a time wrote, in a bounded number of queries.

Each comparison runs the same batch through the former path
(`customer_bulk_upsert_one_by_one`, every item through the single write's
services in its own savepoint) and through the set-based one, each from the
same starting state (the first run is rolled back), and compares outcomes,
archives, contacts, history rows (type, user, values) and the sync feed's rows.
"""

import json
import re
from collections import Counter
from types import SimpleNamespace

import pytest
from django.db import connection, transaction

from customers import services
from customers.api import bulk
from customers.api.sync import SyncCursor, sync_page
from customers.models import ARCHIVE_FIELDS, Contact, Customer, CustomerSyncDoc
from tests.api.conftest import BULK
from tests.factories import ContactFactory, CustomerFactory


class RolledBack(Exception):
    pass


def run_and_capture(path, items, user, admin_user) -> dict:
    """Run `path` on `items` as `user`, capture everything it wrote, and roll it back."""
    captured = {}
    try:
        with transaction.atomic():
            captured["result"] = path(items=items, context={"request": SimpleNamespace(user=user)})
            captured["state"] = state(admin_user)
            raise RolledBack
    except RolledBack:
        pass
    return captured


def state(admin_user) -> dict:
    customers = {
        c.number: tuple(str(getattr(c, f.attname if hasattr(f, "attname") else f)) for f in _fields())
        + (c.completeness, c.deleted_at is None)
        for c in Customer.all_objects.all()
    }
    contact_fields = Contact.EDITABLE_FIELDS
    contacts = Counter(
        (number, *values)
        for number, *values in Contact.objects.values_list("customer__number", *contact_fields)
    )
    customer_history = Counter(
        (h.number, h.history_type, h.history_user_id, *(str(getattr(h, f.attname)) for f in _fields()))
        for h in Customer.history.all()
    )
    contact_history = Counter(
        (
            h.customer_id and Customer.all_objects.get(pk=h.customer_id).number,
            h.history_type,
            h.history_user_id,
        )
        + tuple(getattr(h, name) for name in contact_fields)
        for h in Contact.history.all()
    )
    return {
        "customers": customers,
        "contacts": contacts,
        "customer_history": customer_history,
        "contact_history": contact_history,
        "feed": feed(admin_user),
    }


def _fields():
    return [Customer._meta.get_field(name) for name in ARCHIVE_FIELDS]


def _without_ids(row: dict) -> dict:
    """A feed row as the archive says it: ids, versions and stamps differ between two runs."""
    row = {k: v for k, v in row.items() if k not in ("id", "version", "updated_at", "created_at")}
    if "contacts" in row:
        row["contacts"] = sorted(
            json.dumps({k: v for k, v in c.items() if k != "id"}, sort_keys=True) for c in row["contacts"]
        )
    return row


def feed(admin_user) -> dict:
    if connection.vendor == "postgresql":
        # The rendered rows the triggers keep (written in this very transaction).
        rows = [json.loads(d.head + d.contacts) for d in CustomerSyncDoc.objects.all()]
    else:
        rows = sync_page(user=admin_user, cursor=SyncCursor(), limit=1000)["results"]
    return {row["number"]: _without_ids(row) for row in rows}


def outcomes(result: dict) -> list:
    """Versions count writes (the former path bumped them once per statement): left out."""
    return [
        (
            r["index"],
            r["number"],
            r["status"],
            re.sub(r"版本 \d+", "版本 N", json.dumps(r.get("errors"), sort_keys=True, ensure_ascii=False)),
        )
        for r in result["results"]
    ]


@pytest.fixture
def archive(make_customer, manager, admin_user, grid, org_tree) -> dict[str, Customer]:
    made = {
        "plain": make_customer(by=manager, number="5201020001", manager=manager),
        "with_two": make_customer(
            by=manager,
            number="5201020002",
            manager=manager,
            contact={"name": "户主", "mobile": "13885550001", "is_primary": True},
        ),
        "other_station": make_customer(number="5201020003", station=org_tree["sibling_station"]),
        "deleted": make_customer(number="5201020004"),
        "foreign": make_customer(number="5209020001", station=org_tree["other_station"]),
    }
    services.contact_create(customer=made["with_two"], user=manager, name="电工", mobile="13885550002")
    services.customer_soft_delete(customer=made["deleted"], user=admin_user)
    return made


def contacts_of(customer: Customer) -> dict[str, int]:
    return {c.name: c.pk for c in Contact.objects.filter(customer=customer)}


def items_for(archive, grid) -> list:
    ids = contacts_of(archive["with_two"])
    return [
        # A new archive with contacts: a primary one, then another primary that demotes it.
        {
            "number": "5201029001",
            "name": "新户",
            "station": "LS01",
            "district": grid["district"].code,
            "contacts": [
                {"name": "甲", "mobile": "13885559001", "is_primary": True},
                {"name": "乙", "landline": "0855-8123456"},
            ],
        },
        # Contacts replaced: one kept unchanged, one changed, a new primary (demotes 户主), 电工 deleted.
        {
            "number": "5201020002",
            "notes": "换联系人",
            "contacts": [
                {"id": ids["户主"]},
                {"name": "新主", "mobile": "13885559002", "is_primary": True},
            ],
        },
        {"number": "5201020001", "name": "改名", "manager": None},
        {"number": "5201020001", "notes": "同户第二项"},
        {"number": "5201020003", "address": "丹江镇新址"},
        {"number": "5201020003", "address": "丹江镇新址"},
        {"number": "5201020004", "name": "已删除的户号", "station": "LS01"},
        {"number": "5209020001", "name": "越权", "station": "LS01"},
        {
            "number": "5201029002",
            "name": "坏电话",
            "station": "LS01",
            "contacts": [{"name": "x", "mobile": "1"}],
        },
        {"number": "5201029003", "name": "别的所", "station": "KL01"},
        {
            "number": "5201029004",
            "name": "坏台区",
            "station": "LS01",
            "district": grid["sibling_district"].code,
        },
        {"number": "5201020002", "version": 1, "notes": "旧版本"},
        {"number": "5201029005", "version": 2, "name": "不存在"},
        {"number": "5201029006", "name": "无所", "kind": "nope"},
        ["not", "an", "object"],
        {"name": "无户号"},
        {
            "number": "5201029007",
            "name": "两位主联系人",
            "station": "LS01",
            "contacts": [
                {"name": "a", "mobile": "13885559003", "is_primary": True},
                {"name": "b", "mobile": "13885559004", "is_primary": True},
            ],
        },
        {"number": "5201020002", "contacts": [{"id": 999999, "name": "别人的"}]},
    ]


def test_the_set_based_path_writes_what_the_one_by_one_path_wrote(supervisor, admin_user, archive, grid):
    items = items_for(archive, grid)

    before = run_and_capture(bulk.customer_bulk_upsert_one_by_one, items, supervisor, admin_user)
    after = run_and_capture(bulk.customer_bulk_upsert, items, supervisor, admin_user)

    assert outcomes(after["result"]) == outcomes(before["result"])
    statuses = Counter(r["status"] for r in after["result"]["results"])
    assert statuses == {"invalid": 10, "updated": 4, "conflict": 2, "created": 1, "unchanged": 1}
    for part in ("customers", "contacts", "customer_history", "contact_history", "feed"):
        assert after["state"][part] == before["state"][part], part
    assert "5201029001" in after["state"]["feed"]


def test_an_echo_of_what_was_read_changes_nothing(api, manager, archive):
    client = api(manager)
    read = client.get(f"/api/v1/customers/{archive['with_two'].number}/").json()
    echo = {
        "number": read["number"],
        "name": read["name"],
        "contacts": [{k: v for k, v in c.items()} for c in read["contacts"]],
    }
    history = Customer.history.count(), Contact.history.count()

    body = client.post(BULK, [echo], format="json").json()

    assert body["results"][0]["status"] == "unchanged"
    assert body["results"][0]["version"] == read["version"]
    assert (Customer.history.count(), Contact.history.count()) == history


def thousand_items(org_tree, grid) -> list[dict]:
    """500 archives changed (name and contacts echoed, one changed) and 500 opened with a contact."""
    existing = Customer.objects.bulk_create(
        CustomerFactory.build(station=org_tree["station"], number=f"{5310000000 + n}") for n in range(500)
    )
    contacts = Contact.objects.bulk_create(
        ContactFactory.build(customer=customer, mobile=f"139{n:08d}") for n, customer in enumerate(existing)
    )
    items = [
        {
            "number": customer.number,
            "name": f"{customer.name}（改）",
            "district": grid["district"].code,
            "contacts": [{"id": contact.pk, "name": "新名字", "mobile": contact.mobile, "is_primary": True}],
        }
        for customer, contact in zip(existing, contacts, strict=True)
    ]
    items += [
        {
            "number": f"{5320000000 + n}",
            "name": f"新户{n}",
            "station": "LS01",
            "contacts": [{"name": "户主", "mobile": f"137{n:08d}", "is_primary": True}],
        }
        for n in range(500)
    ]
    return items


# Lock and read the archives, their contacts, four choice lists, the taken numbers, the new
# versions; then one statement per table and batch of rows: Django gives SQLite at most 999
# parameters a statement (40 archives), PostgreSQL takes a thousand rows at once.
# The one-by-one path took some 20,000 queries for the same batch.
MAX_QUERIES = {"sqlite": 100, "postgresql": 20}


def test_1000_items_cost_a_bounded_number_of_queries(
    api, manager, org_tree, grid, django_assert_max_num_queries
):
    items = thousand_items(org_tree, grid)
    client = api(manager)

    with django_assert_max_num_queries(MAX_QUERIES[connection.vendor]):
        response = client.post(BULK, items, format="json")

    body = response.json()
    assert (body["created"], body["updated"], body["failed"]) == (500, 500, 0), body["results"][:3]
    assert Customer.history.filter(history_type="~").count() == 500
    assert Contact.history.filter(history_type="+").count() == 500
    assert Contact.history.filter(history_type="~", name="新名字").count() == 500
    changed = Customer.objects.get(number="5310000007")
    assert (changed.district, changed.line) == (grid["district"], grid["line"])
    assert changed.history.first().history_user == manager
