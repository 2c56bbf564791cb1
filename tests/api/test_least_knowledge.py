"""A write is no way to learn which customer numbers or usernames exist outside the caller's reach."""

import pytest
from django.urls import reverse

from customers import services as customer_services
from customers.models import Customer
from tests.api.conftest import BULK, CUSTOMERS
from tests.api_errors import field_messages
from tests.tickets import conftest as ticket_fixtures
from tickets import services as ticket_services
from tickets.models import Kind, Ticket

customer = ticket_fixtures.customer
open_ticket = ticket_fixtures.open_ticket

UNUSABLE = "该户号不可用。"


def archive(number: str) -> dict:
    return {"number": number, "name": "新客户", "station": "LS01"}


@pytest.fixture
def foreign_deleted(make_customer, outsider, org_tree) -> Customer:
    gone = make_customer(
        by=outsider, number="5209000002", station=org_tree["other_station"], manager=outsider
    )
    return customer_services.customer_soft_delete(customer=gone, user=outsider)


def test_a_foreign_number_answers_like_any_unusable_number(api, manager, foreign, foreign_deleted):
    client = api(manager)
    live = client.post(CUSTOMERS, archive(foreign.number), format="json")
    deleted = client.post(CUSTOMERS, archive(foreign_deleted.number), format="json")
    assert (live.status_code, deleted.status_code) == (400, 400)
    assert field_messages(live)["number"] == field_messages(deleted)["number"] == [UNUSABLE]
    assert Customer.all_objects.filter(name="新客户").count() == 0
    # A genuinely new number is still opened.
    assert client.post(CUSTOMERS, archive("5201099999"), format="json").status_code == 201


def test_a_number_in_scope_still_says_it_exists(api, manager, mine):
    response = api(manager).post(CUSTOMERS, archive(mine.number), format="json")
    assert response.status_code == 400
    assert field_messages(response)["number"] == ["户号已存在，请核对后重新输入。"]


def test_an_own_deleted_archive_is_still_named(api, manager, mine):
    customer_services.customer_soft_delete(customer=mine, user=manager)
    response = api(manager).post(CUSTOMERS, archive(mine.number), format="json")
    assert field_messages(response)["number"] == ["该户号属于一份已删除的客户档案，请联系系统管理员恢复。"]


def test_bulk_answers_a_foreign_number_like_a_foreign_deleted_one(api, manager, foreign, foreign_deleted):
    response = api(manager).post(
        BULK, [archive(foreign.number), archive(foreign_deleted.number), archive("5201099998")], format="json"
    )
    assert response.status_code == 200, response.content
    first, second, new = response.json()["results"]
    assert {key: value for key, value in first.items() if key not in ("index", "number")} == {
        key: value for key, value in second.items() if key not in ("index", "number")
    }
    assert first["status"] == "invalid" and first["errors"]["number"] == [UNUSABLE]
    assert new["status"] == "created"
    assert set(Customer.all_objects.values_list("number", flat=True)) == {
        foreign.number,
        foreign_deleted.number,
        "5201099998",
    }


def test_the_page_answers_a_foreign_number_as_unusable(login, manager, foreign, grid, org_tree):
    data = {
        "number": foreign.number,
        "name": "新客户",
        "kind": Customer.Kind.RESIDENT,
        "segment": Customer.Segment.URBAN,
        "voltage": Customer.Voltage.V220,
        "station": org_tree["station"].pk,
        "vip_tier": 0,
    }
    response = login(manager).post(reverse("customers:create"), data)
    assert response.status_code == 200
    assert list(response.context["form"].errors["number"]) == [UNUSABLE]
    assert (
        login(manager).post(reverse("customers:create"), {**data, "number": "5201099997"}).status_code == 302
    )


# --- usernames ---------------------------------------------------------------------------------


def errors(response, field: str) -> list[str]:
    assert response.status_code == 400, response.content
    return field_messages(response)[field]


def test_a_manager_username_unknown_or_out_of_reach_answers_alike(api, manager, outsider):
    client = api(manager)
    unknown = client.post(CUSTOMERS, {**archive("5201099996"), "manager": "nobody"}, format="json")
    foreign = client.post(CUSTOMERS, {**archive("5201099996"), "manager": "zhaoliu"}, format="json")
    assert errors(unknown, "manager") == ["用户名“nobody”不可用。"]
    assert errors(foreign, "manager") == ["用户名“zhaoliu”不可用。"]
    assert not Customer.objects.filter(number="5201099996").exists()
    assert (
        client.post(CUSTOMERS, {**archive("5201099996"), "manager": "zhangsan"}, format="json").status_code
        == 201
    )


def test_an_assignee_of_a_new_order_unknown_or_out_of_reach_answers_alike(api, manager, outsider, customer):
    client = api(manager)
    body = {"customer": customer.number, **{"kind": Kind.REPAIR, "title": "停电", "description": "无电"}}
    unknown = client.post("/api/v1/tickets/", {**body, "assignee": "nobody"}, format="json")
    foreign = client.post("/api/v1/tickets/", {**body, "assignee": "zhaoliu"}, format="json")
    assert errors(unknown, "assignee") == ["用户名“nobody”不可用。"]
    assert errors(foreign, "assignee") == ["用户名“zhaoliu”不可用。"]
    assert not Ticket.objects.exists()
    assert client.post("/api/v1/tickets/", {**body, "assignee": "zhangsan"}, format="json").status_code == 201


def test_dispatch_and_transfer_usernames_answer_alike(api, manager, supervisor, outsider, open_ticket):
    ticket = open_ticket()
    ticket_services.ticket_send_back(ticket=ticket, by=manager, reason="不属本所")
    url = f"/api/v1/tickets/{ticket.number}/dispatch/"
    for name in ("nobody", "zhaoliu"):
        response = api(supervisor).post(url, {"org_unit": "LS01", "assignee": name}, format="json")
        assert errors(response, "assignee") == [f"用户名“{name}”不可用。"]
    assert (
        api(supervisor).post(url, {"org_unit": "LS01", "assignee": "zhangsan"}, format="json").status_code
        == 200
    )

    url = f"/api/v1/tickets/{ticket.number}/transfer/"
    body = {"to_unit": "LS02", "reason": "跨所处理", "tracker": "zhangsan"}
    for field, name in (
        ("to_user", "nobody"),
        ("to_user", "zhaoliu"),
        ("tracker", "nobody"),
        ("tracker", "zhaoliu"),
    ):
        response = api(manager).post(url, {**body, field: name}, format="json")
        assert errors(response, field) == [f"用户名“{name}”不可用。"]
    assert Ticket.objects.get(pk=ticket.pk).org_unit.code == "LS01"
    assert api(manager).post(url, body, format="json").status_code == 200
