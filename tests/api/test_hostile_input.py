"""Hostile input over the API: a 4xx with a JSON body, never a 500, and nothing changed."""

import json

import pytest

from customers.models import Customer
from groups.models import GroupKind, GroupMessage
from groups.services.groups import group_create
from groups.services.members import membership_add_contact
from tests.api.conftest import BULK, CUSTOMERS, detail
from tests.api_errors import field_messages

ESCAPES = "a\u0001\u0007\u001b[31mb"


def raw(client, method: str, url: str, body: str | bytes):
    return getattr(client, method)(url, data=body, content_type="application/json")


def archive(customer) -> tuple:
    stored = Customer.all_objects.get(pk=customer.pk)
    return stored.name, stored.notes, stored.version


def test_a_name_with_control_characters_is_a_field_error(api, manager, mine):
    before = archive(mine)
    client = api(manager)

    response = client.patch(detail(mine.number), {"name": ESCAPES}, format="json")

    assert response.status_code == 400
    assert field_messages(response) == {
        "name": ["不能包含控制字符或无效字符（如 NUL、转义符或不成对的代理字符）。"]
    }
    assert archive(mine) == before
    assert client.patch(detail(mine.number), {"name": "永乐大酒店"}, format="json").status_code == 200


def test_a_name_with_a_line_break_is_refused_but_notes_take_lines(api, manager, mine):
    client = api(manager)

    response = client.patch(detail(mine.number), {"name": "永乐\n大酒店"}, format="json")
    assert response.status_code == 400
    assert field_messages(response) == {"name": ["不能包含换行、制表符或其他控制字符。"]}

    response = client.patch(detail(mine.number), {"notes": "第一行\r\n第二行\t备注"}, format="json")
    assert response.status_code == 200
    assert Customer.objects.get(pk=mine.pk).notes == "第一行\r\n第二行\t备注"

    response = client.patch(detail(mine.number), {"notes": "响铃\x07"}, format="json")
    assert response.status_code == 400
    assert list(field_messages(response)) == ["notes"]


def test_a_nested_contact_name_with_nul_is_a_field_error(api, manager, mine):
    before = archive(mine)
    contacts = [{"name": "杨\x00老板", "mobile": "13885550001", "is_primary": True}]

    response = api(manager).patch(detail(mine.number), {"contacts": contacts}, format="json")

    assert response.status_code == 400
    assert list(field_messages(response)["contacts"]["0"]) == ["name"]
    assert archive(mine) == before


@pytest.mark.parametrize("number", ["5201\x00000001", "5201\ud800000001"])
def test_bulk_items_with_nul_or_a_lone_surrogate_in_the_number_are_4xx(api, manager, mine, number):
    before = (Customer.all_objects.count(), archive(mine))
    body = json.dumps([{"number": number, "name": "坏户号", "station": "LS01"}])

    response = raw(api(manager), "post", BULK, body)

    assert 400 <= response.status_code < 500 or response.json()["failed"] == 1
    assert response["Content-Type"] == "application/json"
    if response.status_code == 200:
        assert response.json()["results"][0]["errors"] == {
            "number": ["不能包含控制字符或无效字符（如 NUL、转义符或不成对的代理字符）。"]
        }
    else:
        assert response.json()["code"] == "invalid_text"
    assert (Customer.all_objects.count(), archive(mine)) == before


def test_json_nested_100000_deep_is_a_400(api, manager, mine):
    before = archive(mine)

    for url, method in ((CUSTOMERS, "post"), (detail(mine.number), "patch"), (BULK, "post")):
        response = raw(api(manager), method, url, "[" * 100_000)
        assert response.status_code == 400, url
        assert response.json()["code"] == "json_too_deep"
    deep = {"name": "x"}
    for _level in range(40):
        deep = {"name": deep}
    response = api(manager).patch(detail(mine.number), deep, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "json_too_deep"
    assert response.json()["errors"] == {}, "a 400 has one shape: no field to blame"
    assert archive(mine) == before


def test_a_lone_surrogate_anywhere_in_a_body_is_a_400(api, manager, mine):
    before = archive(mine)

    response = raw(api(manager), "patch", detail(mine.number), '{"name": "\\udc80"}')
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_text"
    response = raw(api(manager), "patch", detail(mine.number), '{"\\ud800": "x"}')
    assert response.status_code == 400
    assert archive(mine) == before


@pytest.fixture
def service_group(manager, grid, mine):
    group = group_create(
        by=manager,
        name="永乐一号台区服务群",
        kind=GroupKind.DISTRICT,
        district=grid["district"],
        rules="文明发言",
    )
    membership_add_contact(group=group, contact=mine.contacts.get(), by=manager)
    return group


@pytest.mark.parametrize("external_id", ["m\ud8001", "m\x001", "m\x1b1"])
def test_a_group_message_id_that_is_not_text_changes_nothing(api, manager, mine, service_group, external_id):
    url = f"/api/v1/groups/{service_group.pk}/messages/"
    item = {
        "external_id": external_id,
        "contact": mine.contacts.get().pk,
        "text": "停电了吗",
        "sent_at": "2025-03-01T08:00:00+08:00",
    }

    response = raw(api(manager), "post", url, json.dumps([item]))

    assert 400 <= response.status_code < 500 or response.json()["results"][0]["status"] == "rejected"
    assert response["Content-Type"] == "application/json"
    assert GroupMessage.objects.count() == 0


@pytest.mark.parametrize("size", [3 * 1024 * 1024, 20 * 1024 * 1024])
def test_a_body_beyond_the_upload_limit_is_a_json_413(api, manager, mine, size):
    before = archive(mine)
    body = json.dumps({"notes": "x" * size})

    response = raw(api(manager), "patch", detail(mine.number), body)

    assert response.status_code == 413
    assert response["Content-Type"] == "application/json"
    assert response.json()["code"] == "request_too_large"
    assert archive(mine) == before


@pytest.mark.parametrize("param", ["cursor", "after", "before", "page", "limit", "id"])
def test_numbers_beyond_a_bigint_in_list_parameters_are_not_a_500(api, manager, mine, param):
    response = api(manager).get(CUSTOMERS, {param: str(2**64)})

    assert response.status_code in (200, 400)
    assert response["Content-Type"] == "application/json"


@pytest.mark.parametrize("url", [CUSTOMERS, "/api/v1/tickets/", "/api/v1/groups/"])
def test_a_search_with_nul_or_escapes_is_a_field_error(api, manager, mine, url):
    for q in ("\x00", "a\x1b[31m"):
        response = api(manager).get(url, {"q": q})
        assert response.status_code == 400, (url, q)
        assert list(field_messages(response)) == ["q"]
    assert api(manager).get(url, {"q": "永乐"}).status_code == 200
