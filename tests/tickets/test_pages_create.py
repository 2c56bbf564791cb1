"""Opening an order through the page: the customer by number, checked against the user's scope."""

import pytest
from django.urls import reverse

from tests.factories import UserFactory
from tests.tickets.test_pages_support import (  # noqa: F401
    fast_password_hashing,
    flash,
    foreign_customer,
    media_root,
    text,
)
from tickets.models import Kind, Status, Ticket, TicketEvent

CREATE = reverse("tickets:create")


def create_url(customer) -> str:
    return f"{CREATE}?customer={customer.number}"


def valid(**overrides) -> dict:
    data = {
        "kind": Kind.COMPLAINT,
        "category": "attitude",
        "source": "95598",
        "urgency": "1",
        "title": "营业厅服务态度差",
        "description": "客户反映营业厅工作人员态度生硬。",
        "why": "排队时间过长",
        "what": "工作人员不耐烦",
        "who": "营业厅值班人员",
        "when": "11月20日上午",
        "where": "雷山营业厅",
        "how": "希望道歉并改进",
        "assignee": "",
        "contact": "",
    }
    data.update(overrides)
    return data


def test_the_form_shows_the_customer_and_the_fields(login, manager, customer):
    response = login(manager).get(create_url(customer))
    assert response.status_code == 200
    html = text(response)
    pieces = ("杨丽", customer.number, "工单类型", "紧急程度", "标题", "诉求内容", "5W1H", "客户期望(How)")
    for piece in pieces:
        assert piece in html, piece


def test_a_complaint_is_opened_with_its_5w1h(login, manager, customer):
    response = login(manager).post(create_url(customer), valid(), follow=True)
    ticket = Ticket.objects.get()
    assert response.redirect_chain[-1][0] == reverse("tickets:detail", args=[ticket.number])
    assert f"工单 {ticket.number} 已受理。" in flash(response)
    assert (ticket.customer, ticket.opened_by, ticket.status) == (customer, manager, Status.NEW)
    assert (ticket.kind, ticket.category) == ("complaint", "attitude")
    assert (ticket.source, ticket.urgency) == ("95598", 1)
    assert (ticket.why, ticket.how, ticket.where) == ("排队时间过长", "希望道歉并改进", "雷山营业厅")
    assert ticket.contact_name == "杨丽" and ticket.contact_phone == "13885550001"
    assert list(ticket.events.values_list("action", flat=True)) == [TicketEvent.Action.CREATED]


def test_naming_an_assignee_dispatches_at_once(login, supervisor, manager, customer):
    login(supervisor).post(create_url(customer), valid(kind="repair", assignee=manager.pk))
    ticket = Ticket.objects.get()
    assert (ticket.status, ticket.assignee) == (Status.DISPATCHED, manager)


def test_the_assignee_must_belong_to_the_customers_station(login, supervisor, customer, org_tree):
    stranger = UserFactory(org_unit=org_tree["sibling_station"])
    client = login(supervisor)
    response = client.post(create_url(customer), valid(assignee=stranger.pk))
    assert response.status_code == 200
    assert "处理人必须是该客户所属供电所的人员" in text(response)
    assert not Ticket.objects.exists()


def test_a_repeat_complaint_is_announced(login, manager, customer):
    client = login(manager)
    client.post(create_url(customer), valid(category="billing"))
    first = Ticket.objects.get()
    response = client.post(create_url(customer), valid(category="billing"), follow=True)
    assert any("重复投诉" in message and first.number in message for message in flash(response))
    assert Ticket.objects.latest("id").is_repeat


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"title": ""}, "请填写标题。"),
        ({"title": "   "}, "请填写标题。"),
        ({"description": ""}, "请填写诉求内容。"),
        ({"urgency": "9"}, "紧急程度无效"),
        ({"urgency": "紧急"}, "紧急程度无效"),
        ({"kind": ""}, "请选择工单类型。"),
        ({"kind": "gossip"}, "工单类型无效"),
    ],
)
def test_bad_input_is_explained_and_nothing_is_saved(login, manager, customer, bad, message):
    client = login(manager)
    response = client.post(create_url(customer), valid(**bad))
    assert response.status_code == 200
    html = text(response)
    assert message in html
    assert "工单尚未保存" in html
    assert not Ticket.objects.exists()
    # The same request with the field put right goes through.
    response = client.post(create_url(customer), valid())
    assert response.status_code == 302
    assert Ticket.objects.count() == 1


def test_without_a_customer_the_page_asks_for_one(login, manager):
    response = login(manager).get(CREATE)
    assert response.status_code == 200
    assert "客户户号" in text(response)


def test_an_unknown_customer_number_is_404_with_a_hint(login, manager):
    response = login(manager).get(f"{CREATE}?customer=5999999999")
    assert response.status_code == 404
    assert "未找到户号为“5999999999”的客户" in text(response)


def test_the_outsider_cannot_open_an_order_for_another_countys_customer(login, outsider, customer):
    client = login(outsider)
    assert client.get(create_url(customer)).status_code == 404
    assert client.post(create_url(customer), valid()).status_code == 404
    assert not Ticket.objects.exists()


def test_a_manager_cannot_open_an_order_for_the_outsiders_customer(login, manager, org_tree, outsider):
    theirs = foreign_customer(org_tree, outsider)
    client = login(manager)
    assert client.post(create_url(theirs), valid()).status_code == 404
    assert not Ticket.objects.exists()
    # …while the outsider may.
    assert login(outsider).post(create_url(theirs), valid()).status_code == 302
    assert Ticket.objects.get().customer == theirs


def test_creating_needs_a_login(client, customer):
    response = client.post(create_url(customer), valid())
    assert response.status_code == 302 and "login" in response["Location"]
    assert not Ticket.objects.exists()
