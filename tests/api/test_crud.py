"""Create, read, change and delete archives over REST, contacts nested, history kept."""

import pytest

from customers import services
from customers.models import Contact, Customer
from tests.api.conftest import CUSTOMERS, detail


@pytest.fixture
def new_archive(grid, manager) -> dict:
    return {
        "number": "5201000099",
        "name": "雷山县新开超市",
        "kind": "commercial",
        "voltage": "380V",
        "address": "雷山县丹江镇新街5号",
        "station": "LS01",
        "district": grid["district"].code,
        "manager": manager.username,
        "is_important": True,
        "contacts": [
            {"name": "吴老板", "mobile": "13885550001", "is_primary": True},
            {"name": "会计", "relation": "finance", "landline": "0855-8123456"},
        ],
    }


def test_it_opens_an_archive_with_its_contacts(api, manager, grid, new_archive):
    response = api(manager).post(CUSTOMERS, new_archive, format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["number"] == "5201000099"
    assert body["station"] == {"id": grid["district"].station_id, "code": "LS01", "name": "雷山供电所"}
    assert body["district"]["code"] == grid["district"].code
    assert body["line"]["code"] == grid["line"].code, "the line comes from the district"
    assert body["manager"] == {"id": manager.pk, "username": "zhangsan", "name": "张三"}
    assert [c["name"] for c in body["contacts"]] == ["吴老板", "会计"]
    assert body["contacts"][1]["landline"] == "0855-8123456"
    assert body["completeness"] == 100
    assert response["ETag"] == f'"{body["id"]}-{body["version"]}"'

    customer = Customer.objects.get(number="5201000099")
    assert customer.history.earliest().history_user == manager
    assert {record.history_user for record in Contact.history.filter(customer_id=customer.pk)} == {manager}


def test_it_reads_an_archive_by_number(api, manager, mine, grid):
    response = api(manager).get(detail(mine.number))

    assert response.status_code == 200
    body = response.json()
    assert body["name"] == "雷山县永乐酒店"
    assert body["district"] == {"id": grid["district"].pk, "code": "TQ-LS-1", "name": "永乐一号台区"}
    assert body["contacts"][0]["is_primary"] is True
    assert response["ETag"] == f'"{mine.pk}-{body["version"]}"'


def test_patch_changes_the_given_fields_and_keeps_the_history(api, manager, colleague, mine):
    response = api(manager).patch(
        detail(mine.number), {"name": "永乐大酒店", "manager": colleague.username}, format="json"
    )

    assert response.status_code == 200, response.content
    assert response.json()["name"] == "永乐大酒店"
    assert response.json()["manager"]["username"] == "lisi"
    assert response.json()["contacts"][0]["mobile"] == "138****1234", "no longer the owner"
    latest = Customer.objects.get(pk=mine.pk).history.latest()
    assert latest.history_user == manager
    assert latest.name == "永乐大酒店"


def test_put_replaces_the_contact_set(api, manager, mine):
    kept = mine.contacts.get()
    body = {
        "name": mine.name,
        "station": "LS01",
        "contacts": [
            {"id": kept.pk, "is_primary": False},
            {"name": "新主联系人", "mobile": "13885550002", "is_primary": True},
        ],
    }

    response = api(manager).put(detail(mine.number), body, format="json")

    assert response.status_code == 200, response.content
    contacts = response.json()["contacts"]
    assert [(c["name"], c["is_primary"]) for c in contacts] == [("新主联系人", True), ("杨老板", False)]
    assert contacts[1]["mobile"] == "13885551234", "fields left out stay as they are"

    promoted = api(manager).patch(
        detail(mine.number),
        {
            "contacts": [
                {"id": kept.pk},
                {"name": "又一位主联系人", "mobile": "13885550003", "is_primary": True},
            ]
        },
        format="json",
    )
    assert promoted.status_code == 200, promoted.content
    assert [(c["name"], c["is_primary"]) for c in promoted.json()["contacts"]] == [
        ("又一位主联系人", True),
        ("杨老板", False),
    ], "as on the pages, a new primary contact demotes the old one"

    response = api(manager).patch(detail(mine.number), {"contacts": []}, format="json")

    assert response.json()["contacts"] == []
    assert not Contact.objects.filter(customer=mine).exists()
    deleted = Contact.history.filter(customer_id=mine.pk, history_type="-")
    assert {record.history_user for record in deleted} == {manager}


def test_delete_is_a_soft_delete(api, manager, mine):
    response = api(manager).delete(detail(mine.number))

    assert response.status_code == 204
    stored = Customer.all_objects.get(pk=mine.pk)
    assert stored.deleted_at is not None
    assert stored.history.latest().history_user == manager
    assert api(manager).get(detail(mine.number)).status_code == 404


def test_the_list_pages_by_cursor_newest_first(api, manager, make_customer):
    numbers = [make_customer(number=f"52030000{n:02d}", manager=manager).number for n in range(7)]
    client = api(manager)

    seen = []
    url = CUSTOMERS + "?limit=3"
    while url:
        body = client.get(url).json()
        assert "count" not in body
        seen += [row["number"] for row in body["results"]]
        url = body["next"]

    assert seen == list(reversed(numbers))


def test_the_list_filters(api, manager, colleague, mine, colleagues, make_customer, grid):
    make_customer(number="5203000100", name="丹江小学", kind="other", vip_tier=2)
    client = api(manager)

    def listed(**params) -> set[str]:
        response = client.get(CUSTOMERS, params)
        assert response.status_code == 200, response.content
        return {row["number"] for row in response.json()["results"]}

    assert listed(q="永乐") == {mine.number}
    assert listed(q="13885552345") == {colleagues.number}
    assert listed(q="520100") == {mine.number, colleagues.number}
    assert listed(manager="zhangsan") == {mine.number}
    assert listed(manager_id=f"{manager.pk},{colleague.pk}") == {mine.number, colleagues.number}
    assert listed(district=grid["other_district"].code) == {colleagues.number}
    assert listed(line=grid["line"].code) == {mine.number}
    assert listed(kind="commercial,other") == {mine.number, "5203000100"}
    assert listed(is_important="true") == {mine.number}
    assert listed(sensitive="true") == {mine.number, "5203000100"}
    assert listed(sensitive="false") == {colleagues.number}
    assert listed(vip_tier="2") == {"5203000100"}
    # Beyond what the database holds: nothing matches (SQLite's driver would overflow).
    assert listed(vip_tier="99999999999999999999") == set()
    assert listed(vip_tier="2,-99999999999999999999") == {"5203000100"}
    assert listed(station="LS02") == set()
    assert listed(verified_after="2000-01-01T00:00:00+08:00") == set(), "never verified"
    services.customer_mark_verified(customer=mine, user=manager)
    assert listed(verified_after="2000-01-01T00:00:00+08:00") == {mine.number}
    assert listed(verified_before="2000-01-01T00:00:00+08:00") == set()
    assert listed(updated_after="2000-01-01T00:00:00Z") == {mine.number, colleagues.number, "5203000100"}
    assert client.get(CUSTOMERS, {"kind": "castle"}).status_code == 400
