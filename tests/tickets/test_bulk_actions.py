"""批量催办/改派 from the order list: scoped, each order checked as the single step, counted results."""

import pytest
from django.urls import reverse

from tests.factories import CustomerFactory
from tickets import services
from tickets.models import Kind, Status, Ticket, TicketEvent

BULK = reverse("tickets:bulk")


@pytest.fixture
def outsiders_order(org_tree, outsider):
    customer = CustomerFactory(station=org_tree["other_station"], manager=outsider, name="凯里客户")
    ticket, _created = services.ticket_create(
        customer=customer,
        opened_by=outsider,
        kind=Kind.REPAIR,
        title="凯里停电",
        description="x",
        assignee=outsider,
    )
    return ticket


def _messages(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def test_bulk_urge_counts_and_refuses_an_outsiders_order_without_naming_it(
    login, open_ticket, supervisor, outsiders_order
):
    mine = [open_ticket(), open_ticket()]
    ids = [t.pk for t in mine] + [outsiders_order.pk]

    response = login(supervisor).post(
        BULK, {"action": "urge", "ids": ids, "reason": "请今日内处理"}, follow=True
    )

    assert [Ticket.objects.get(pk=t.pk).urge_count for t in mine] == [1, 1]
    assert Ticket.objects.get(pk=outsiders_order.pk).urge_count == 0
    text = " ".join(_messages(response))
    assert "成功 2 张" in text and "不在您范围内 1 张" in text
    assert outsiders_order.number not in response.content.decode()


def test_bulk_reassign_does_what_it_may_and_says_why_not_for_the_rest(
    login, open_ticket, manager, colleague, supervisor
):
    waiting = open_ticket()
    working = services.ticket_start(ticket=services.ticket_sign(ticket=open_ticket(), by=manager), by=manager)
    data = {
        "action": "reassign",
        "ids": [waiting.pk, working.pk],
        "reason": "张三休假",
        "org_unit": colleague.org_unit_id,
        "assignee": colleague.pk,
    }

    response = login(supervisor).post(BULK, data, follow=True)

    assert Ticket.objects.get(pk=waiting.pk).assignee == colleague
    assert Ticket.objects.get(pk=working.pk).assignee == manager  # in progress: 改派 is refused
    text = " ".join(_messages(response))
    assert "成功 1 张，未处理 1 张" in text
    assert f"{working.number} 未处理" in text
    assert TicketEvent.objects.filter(action=TicketEvent.Action.REASSIGNED).count() == 1


def test_bad_input_changes_nothing(login, open_ticket, supervisor):
    ticket = open_ticket()
    client = login(supervisor)

    assert client.post(BULK, {"action": "urge", "ids": [ticket.pk], "reason": " "}).status_code == 400
    assert client.post(BULK, {"action": "reassign", "ids": [ticket.pk], "reason": "x"}).status_code == 400
    assert client.post(BULK, {"action": "urge", "ids": ["abc"], "reason": "x"}).status_code == 400
    assert client.post(BULK, {"action": "drop", "ids": [ticket.pk], "reason": "x"}).status_code == 400
    assert Ticket.objects.get(pk=ticket.pk).urge_count == 0
    assert client.post(BULK, {"action": "urge", "ids": [ticket.pk], "reason": "x"}).status_code == 302


def test_an_account_manager_may_not_act_in_bulk(login, open_ticket, manager):
    ticket = open_ticket()
    response = login(manager).post(BULK, {"action": "urge", "ids": [ticket.pk], "reason": "x"})
    assert response.status_code == 403
    assert Ticket.objects.get(pk=ticket.pk).urge_count == 0


def test_the_confirmation_page_lists_only_orders_in_scope(login, open_ticket, supervisor, outsiders_order):
    ticket = open_ticket()
    response = login(supervisor).get(BULK, {"action": "urge", "ids": [ticket.pk, outsiders_order.pk]})
    page = response.content.decode()
    assert response.status_code == 200
    assert ticket.number in page and outsiders_order.number not in page
    assert "另有 1 张工单不在您的范围内" in page
    assert Ticket.objects.get(pk=ticket.pk).status == Status.DISPATCHED


def test_the_list_offers_selection_to_supervisors_only(login, open_ticket, manager, supervisor):
    open_ticket()
    assert 'form="bulk-pick"' in login(supervisor).get(reverse("tickets:list")).content.decode()
    assert 'form="bulk-pick"' not in login(manager).get(reverse("tickets:list")).content.decode()
