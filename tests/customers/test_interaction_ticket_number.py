"""A contact log names a work order that exists and that the user may see.

customers cannot import tickets; tickets registers the lookup at app ready
(customers.interactions.ticket_links). An unknown order and one of another
unit get the same answer, so the form is no oracle for order numbers.
"""

import re
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from customers.interactions import ticket_links
from customers.interactions.services import interaction_log
from customers.models import Interaction
from tickets import services as ticket_services
from tickets.defaults import seed_default_policies
from tickets.models import Kind, SlaPolicy

NOT_FOUND = "工单不存在或无权查看。"


@pytest.fixture
def order_of(db):
    seed_default_policies(SlaPolicy)

    def _order(customer, by):
        ticket, _created = ticket_services.ticket_create(
            customer=customer, opened_by=by, kind=Kind.REPAIR, title="家中停电", description="请派人检查。"
        )
        return ticket

    return _order


def _form(customer, ticket_number: str) -> dict:
    return {
        "channel": Interaction.Channel.PHONE,
        "direction": Interaction.Direction.OUTBOUND,
        "occurred_at": timezone.localtime(timezone.now() - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"),
        "mood": Interaction.Mood.CALM,
        "summary": "电话回访，客户反映电压偏低。",
        "ticket_number": ticket_number,
    }


def _post(client, customer, ticket_number: str):
    return client.post(
        reverse("customers:interaction_create", args=[customer.number]), _form(customer, ticket_number)
    )


def test_an_order_the_user_may_see_is_linked_as_the_order_spells_it(login, manager, mine, order_of):
    ticket = order_of(mine, manager)

    response = _post(login(manager), mine, f" {ticket.number.lower()} ")

    assert response.status_code == 302
    assert Interaction.objects.get().ticket_number == ticket.number


@pytest.mark.parametrize("number", ["GD999", "GD202601010001"])
def test_an_order_that_does_not_exist_is_refused(login, manager, mine, order_of, number):
    ticket = order_of(mine, manager)
    client = login(manager)

    response = _post(client, mine, number)

    assert response.status_code == 200
    assert response.context["form"].errors["ticket_number"] == [NOT_FOUND]
    assert NOT_FOUND in response.content.decode()
    assert not Interaction.objects.exists()
    assert _post(client, mine, ticket.number).status_code == 302


def test_an_order_of_another_unit_gets_the_same_answer(login, manager, outsider, mine, foreign, order_of):
    theirs = order_of(foreign, outsider)

    response = _post(login(manager), mine, theirs.number)

    assert response.status_code == 200
    assert response.context["form"].errors["ticket_number"] == [NOT_FOUND]
    assert not Interaction.objects.exists()


def test_the_quick_form_checks_the_order_too(login, manager, mine):
    data = {**_form(mine, "GD999"), "customer": mine.number}

    response = login(manager).post(reverse("customers:interaction_quick_create"), data)

    assert response.status_code == 200
    assert response.context["form"].errors["ticket_number"] == [NOT_FOUND]
    assert not Interaction.objects.exists()


def test_the_answer_is_in_english_for_an_english_reader(login, manager, mine):
    client = login(manager)
    client.cookies["django_language"] = "en"

    response = _post(client, mine, "GD999")

    assert response.context["form"].errors["ticket_number"] == [
        "The work order does not exist or you are not allowed to view it."
    ]


@pytest.mark.parametrize(
    ("number", "expected"),
    [("GD\x00999", "不能包含控制字符"), ("GD" + "9" * 30, "20")],
)
def test_a_number_that_cannot_be_one_is_refused_without_a_lookup(mine, manager, number, expected):
    with pytest.raises(ValidationError) as caught:
        interaction_log(
            customer=mine,
            staff=manager,
            channel=Interaction.Channel.PHONE,
            occurred_at=timezone.now(),
            summary="电话回访。",
            ticket_number=number,
        )

    assert expected in " ".join(caught.value.message_dict["ticket_number"])


def test_without_a_registered_lookup_no_number_is_accepted(monkeypatch, mine, manager, order_of):
    ticket = order_of(mine, manager)
    monkeypatch.setattr(ticket_links, "_lookup", None)

    with pytest.raises(ValidationError) as caught:
        interaction_log(
            customer=mine,
            staff=manager,
            channel=Interaction.Channel.PHONE,
            occurred_at=timezone.now(),
            summary="电话回访。",
            ticket_number=ticket.number,
        )

    assert caught.value.message_dict["ticket_number"] == [NOT_FOUND]


def test_the_check_costs_one_query(mine, manager, order_of, django_assert_num_queries):
    ticket = order_of(mine, manager)
    with django_assert_num_queries(1):
        assert ticket_links.visible_ticket_number(user=manager, number=ticket.number) == ticket.number


def test_the_refused_input_is_marked_red_and_tied_to_its_message(login, manager, mine):
    html = _post(login(manager), mine, "GD999").content.decode()

    field = re.search(r'<input[^>]*name="ticket_number"[^>]*>', html).group()
    assert 'class="form-control is-invalid"' in field
    assert 'aria-invalid="true"' in field
    assert "id_ticket_number_error" in field
    summary = re.search(r'<textarea[^>]*name="summary"[^>]*>', html).group()
    assert "is-invalid" not in summary and "aria-invalid" not in summary
