"""转为工单: a customer's group message becomes a work order that quotes it."""

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.urls import reverse

from groups.services.members import membership_add_contact
from groups.services.messages import message_post, reply_post
from tests.groups.conftest import local
from tickets import services
from tickets.models import Source, Ticket


@pytest.fixture
def complaint(ask):
    with time_machine.travel(local(2026, 11, 20, 10, 5), tick=False):
        return ask("已经停电三个小时了，到底什么时候来电？太不负责了！")


def test_a_message_becomes_an_order_that_quotes_it_once(complaint, group, manager, customer, contact):
    ticket, created = services.ticket_create_from_group_message(
        message=complaint, by=manager, kind="complaint", category="outage"
    )
    assert created
    assert ticket.source == Source.WECHAT_GROUP
    assert ticket.external_id == f"group-message:{complaint.pk}"
    assert ticket.customer == customer
    assert ticket.contact_name == contact.name
    assert f"客户群“{group.name}” 2026-11-20 10:05" in ticket.description
    assert complaint.text in ticket.description
    assert ticket.title.startswith("群消息：已经停电三个小时了")
    assert ticket.assignee == manager
    complaint.refresh_from_db()
    assert complaint.ticket_number == ticket.number

    again, created_again = services.ticket_create_from_group_message(
        message=complaint, by=manager, kind="complaint", category="outage", title="另一个标题"
    )
    assert (again.pk, created_again) == (ticket.pk, False)
    assert Ticket.objects.count() == 1


def test_a_supervisor_leaves_the_order_for_dispatch_at_the_customers_station(complaint, supervisor, org_tree):
    ticket, _created = services.ticket_create_from_group_message(
        message=complaint, by=supervisor, kind="complaint", category="outage", title="长时间停电投诉"
    )
    assert ticket.assignee is None
    assert ticket.org_unit == org_tree["station"]
    assert ticket.title == "长时间停电投诉"


def test_bad_kind_and_staff_messages_are_refused(complaint, group, manager):
    with pytest.raises(ValidationError) as exc:
        services.ticket_create_from_group_message(message=complaint, by=manager, kind="bogus", category="x")
    assert set(exc.value.message_dict) == {"kind", "category"}
    reply = reply_post(group=group, by=manager, text="正在抢修。").message
    with pytest.raises(ValidationError):
        services.ticket_create_from_group_message(message=reply, by=manager, kind="inquiry", category="other")
    assert Ticket.objects.count() == 0


def test_the_page_converts_and_opens_the_order(login, complaint, manager):
    client = login(manager)
    url = reverse("tickets:from_group_message", args=[complaint.pk])
    page = client.get(url)
    assert page.status_code == 200
    assert complaint.text in page.content.decode()
    response = client.post(url, {"kind": "complaint", "category": "outage", "title": ""})
    ticket = Ticket.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("tickets:detail", args=[ticket.number])
    response = client.post(url, {"kind": "complaint", "category": "outage"}, follow=True)
    assert "未重复创建" in response.content.decode()
    assert Ticket.objects.count() == 1


def test_the_page_refuses_bad_input_in_chinese(login, complaint, manager):
    response = login(manager).post(
        reverse("tickets:from_group_message", args=[complaint.pk]), {"kind": "", "category": "outage"}
    )
    assert response.status_code == 400
    assert "请选择工单类型。" in response.content.decode()
    assert Ticket.objects.count() == 0


def test_a_flagged_customer_shows_the_one_to_one_hint(login, group, manager, make_customer):
    flagged = make_customer(is_sensitive=True)
    contact = flagged.contacts.get()
    membership_add_contact(group=group, contact=contact, by=manager)
    message, _created = message_post(group=group, contact=contact, text="我要投诉！")
    client = login(manager)
    url = reverse("tickets:from_group_message", args=[message.pk])
    assert "该客户需一对一联系，不可仅发群消息" in client.get(url).content.decode()
    response = client.post(url, {"kind": "complaint", "category": "attitude"}, follow=True)
    assert "该客户需一对一联系，不可仅发群消息" in response.content.decode()


def test_the_outsider_gets_404_and_no_order(login, complaint, outsider):
    client = login(outsider)
    url = reverse("tickets:from_group_message", args=[complaint.pk])
    assert client.get(url).status_code == 404
    assert client.post(url, {"kind": "complaint", "category": "outage"}).status_code == 404
    assert Ticket.objects.count() == 0
