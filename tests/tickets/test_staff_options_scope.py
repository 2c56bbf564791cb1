"""The people of a unit are listed only for a unit the user may hand an order to."""

import re

from django.urls import reverse

from tests.tickets.test_pages_support import fast_password_hashing, open_signed, text  # noqa: F401
from tickets.models import Ticket

OPTIONS = reverse("tickets:staff_options")


def names(response) -> list[str]:
    assert response.status_code == 200
    return re.findall(r'<option value="\d+">([^（<]+)', text(response))


def test_an_outsider_learns_no_names_of_another_county(login, outsider, manager, colleague, org_tree):
    client = login(outsider)
    for param in ("org_unit", "to_unit"):
        assert names(client.get(OPTIONS, {param: org_tree["station"].pk})) == []


def test_an_outsider_naming_a_foreign_order_learns_no_names(login, outsider, manager, open_ticket, org_tree):
    ticket = open_ticket()
    client = login(outsider)
    response = client.get(OPTIONS, {"to_unit": org_tree["station"].pk, "ticket": ticket.number})
    assert names(response) == []


def test_a_station_manager_lists_only_their_own_reach(login, manager, colleague, outsider, org_tree):
    client = login(manager)
    assert names(client.get(OPTIONS, {"org_unit": org_tree["station"].pk})) == ["张三", "李四"]
    assert names(client.get(OPTIONS, {"org_unit": org_tree["other_station"].pk})) == []


def test_a_supervisor_lists_the_units_of_their_county_only(login, supervisor, manager, outsider, org_tree):
    client = login(supervisor)
    assert "张三" in names(client.get(OPTIONS, {"org_unit": org_tree["station"].pk}))
    assert names(client.get(OPTIONS, {"org_unit": org_tree["other_station"].pk})) == []


def test_the_handler_of_an_order_may_name_a_receiver_in_any_unit(
    login, manager, outsider, open_ticket, org_tree
):
    """A transfer goes to any unit (the transfer form offers every unit)."""
    ticket = open_signed(open_ticket, manager)
    client = login(manager)
    params = {"to_unit": org_tree["other_station"].pk, "ticket": ticket.number}
    assert names(client.get(OPTIONS, params)) == ["赵六"]
    # Without an order the user may transfer, the same unit lists nobody.
    assert names(client.get(OPTIONS, {"to_unit": org_tree["other_station"].pk})) == []


def test_the_transfer_form_asks_with_its_order(login, manager, open_ticket):
    ticket = open_signed(open_ticket, manager)
    html = text(login(manager).get(reverse("tickets:detail", args=[ticket.number])))
    assert f"{OPTIONS}?ticket={ticket.number}" in html


def test_bad_parameters_list_nobody(login, manager, org_tree):
    client = login(manager)
    for params in (
        {"to_unit": "x"},
        {"org_unit": "99999999999999999999999"},
        {"to_unit": org_tree["other_station"].pk, "ticket": "GD\x00"},
        {},
    ):
        assert names(client.get(OPTIONS, params)) == []
    assert not Ticket.objects.exists()
