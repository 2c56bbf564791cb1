"""Bad input gets a JSON field error and changes nothing (ARCHITECTURE rule 8)."""

import pytest

from customers.models import Contact, Customer
from tests.api.conftest import CUSTOMERS, detail
from tests.api_errors import field_messages


@pytest.fixture
def valid(grid) -> dict:
    return {
        "number": "5201000077",
        "name": "雷山县某茶厂",
        "station": "LS01",
        "district": grid["district"].code,
        "contacts": [{"name": "茶厂老板", "mobile": "13885550077", "is_primary": True}],
    }


def post(client, body):
    return client.post(CUSTOMERS, body, format="json")


def test_an_unknown_field_is_rejected_not_ignored(api, manager, valid):
    client = api(manager)

    response = post(client, {**valid, "colour": "red"})

    assert response.status_code == 400
    assert field_messages(response) == {"colour": ["未知字段。"]}
    assert not Customer.all_objects.filter(number=valid["number"]).exists()

    response = post(client, {**valid, "contacts": [{**valid["contacts"][0], "fax": "0855-1"}]})
    assert response.status_code == 400
    assert field_messages(response) == {"contacts": {"0": {"fax": ["未知字段。"]}}}

    response = post(client, {**valid, "completeness": 100})
    assert field_messages(response) == {"completeness": ["该字段只读。"]}

    assert post(client, valid).status_code == 201, "the same request without the bad field passes"


def test_a_bad_customer_number_is_a_field_error(api, manager, valid):
    client = api(manager)

    response = post(client, {**valid, "number": "52-01"})

    assert response.status_code == 400
    assert field_messages(response)["number"] == ["户号必须是10到13位数字。"]
    assert Customer.all_objects.count() == 0
    assert Contact.objects.count() == 0
    assert post(client, valid).status_code == 201


@pytest.mark.parametrize("number", ["52012345678901234", "52012345678901"])
def test_a_customer_number_too_long_is_refused_not_cut(api, manager, valid, number):
    client = api(manager)

    response = post(client, {**valid, "number": number})

    assert response.status_code == 400
    assert "户号必须是10到13位数字。" in field_messages(response)["number"]
    assert Customer.all_objects.count() == 0
    assert post(client, valid).status_code == 201


def test_a_bad_phone_is_a_field_error_and_saves_nothing(api, manager, valid):
    client = api(manager)
    contacts = [valid["contacts"][0], {"name": "电工", "mobile": "1388888"}]

    response = post(client, {**valid, "contacts": contacts})

    assert response.status_code == 400
    assert field_messages(response) == {
        "contacts": {"1": {"mobile": ["请输入11位手机号码，例如 13595561234。"]}}
    }
    assert Customer.all_objects.count() == 0
    assert Contact.objects.count() == 0


def test_a_rule_of_the_services_comes_back_per_contact(api, manager, valid):
    client = api(manager)
    contacts = [valid["contacts"][0], {"name": "没有电话的人"}]

    response = post(client, {**valid, "contacts": contacts})

    assert response.status_code == 400
    assert field_messages(response) == {"contacts": {"1": {"mobile": ["手机号码和固定电话至少填写一项。"]}}}
    assert Customer.all_objects.count() == 0, "the archive is not opened without its contacts"


def test_two_primary_contacts_are_refused(api, manager, valid):
    contacts = [valid["contacts"][0], {"name": "另一位", "mobile": "13885550078", "is_primary": True}]

    response = post(api(manager), {**valid, "contacts": contacts})

    assert response.status_code == 400
    assert field_messages(response) == {"contacts": {"1": {"is_primary": ["每位客户只能有一位主联系人。"]}}}


def test_a_taken_number_and_a_district_out_of_reach_are_field_errors(
    api, manager, supervisor, mine, grid, valid
):
    client = api(manager)

    response = post(client, {**valid, "number": mine.number})
    assert response.status_code == 400
    assert list(field_messages(response)) == ["number"]
    response = post(client, {**valid, "district": grid["foreign_district"].code})
    assert response.status_code == 400
    assert list(field_messages(response)) == ["district"], "a district outside the user's subtree is unknown"

    response = post(api(supervisor), {**valid, "district": grid["sibling_district"].code})
    assert response.status_code == 400
    assert field_messages(response)["district"] == [
        "台区「丹江所台区」不属于雷山供电所，请选择本供电所的台区。"
    ]
    assert Customer.all_objects.filter(number=valid["number"]).count() == 0


def test_the_customer_number_cannot_change(api, manager, mine):
    client = api(manager)

    response = client.patch(detail(mine.number), {"number": "5201000002"}, format="json")

    assert response.status_code == 400
    assert field_messages(response) == {"number": ["户号建档后不可修改。"]}
    assert client.patch(detail(mine.number), {"number": mine.number}, format="json").status_code == 200


def test_a_bad_change_leaves_the_archive_and_its_contacts_alone(api, manager, mine):
    before = api(manager).get(detail(mine.number)).json()

    response = api(manager).patch(
        detail(mine.number),
        {
            "name": "新名字",
            "contacts": [{"name": "新联系人", "email": "not-an-address", "mobile": "13885550009"}],
        },
        format="json",
    )

    assert response.status_code == 400
    assert list(field_messages(response)["contacts"]["0"]) == ["email"]
    assert api(manager).get(detail(mine.number)).json() == before


def test_a_contact_of_another_customer_cannot_be_named(api, manager, mine, colleagues):
    other = colleagues.contacts.get()

    response = api(manager).patch(
        detail(mine.number), {"contacts": [{"id": other.pk, "name": "偷来的"}]}, format="json"
    )

    assert response.status_code == 400
    assert field_messages(response) == {"contacts": {"0": {"id": ["该联系人不属于此客户。"]}}}
    assert Contact.objects.get(pk=other.pk).name == "王大妈"


def test_a_body_that_is_not_an_object_is_a_400(api, manager):
    response = api(manager).post(CUSTOMERS, [1, 2], format="json")

    assert response.status_code == 400
    assert "non_field_errors" in field_messages(response)
