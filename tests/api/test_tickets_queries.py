"""The work-order list and detail cost a fixed number of queries (ARCHITECTURE rule 6)."""

import pytest

from tests.tickets import conftest as ticket_fixtures
from tickets import services

sla_policies = ticket_fixtures.sla_policies
customer = ticket_fixtures.customer
open_ticket = ticket_fixtures.open_ticket

TICKETS = "/api/v1/tickets/"
# Token (with its user), the text search's sample of the scope and its matches
# (tickets.search), the page of orders; the scope's units come from the shared cache.
LIST_QUERIES = 4
# Token, the supervisor's unit, the order, its events, transfers, return visits, related orders,
# resolutions (one query for all of an order's 办结 records, however many).
DETAIL_QUERIES = 8


@pytest.mark.parametrize("count", [3, 30])
def test_the_list_costs_the_same_for_3_and_30_orders(
    api, supervisor, open_ticket, count, django_assert_max_num_queries
):
    for _n in range(count):
        open_ticket()
    client = api(supervisor)

    with django_assert_max_num_queries(LIST_QUERIES):
        response = client.get(TICKETS, {"limit": 100, "overdue": "false", "q": "停电"})

    assert len(response.json()["results"]) == count


@pytest.mark.parametrize("count", [3, 30])
def test_the_detail_costs_the_same_for_3_and_30_events(
    api, manager, supervisor, open_ticket, org_tree, count, django_assert_max_num_queries
):
    ticket = open_ticket()
    for _n in range(count // 3):
        services.ticket_urge(ticket=ticket, by=supervisor)
        services.ticket_transfer(
            ticket=ticket, by=supervisor, to_unit=org_tree["station"], reason="换人", tracker=manager
        )
        services.ticket_link(ticket=ticket, other=open_ticket(), by=supervisor)
    client = api(supervisor)

    with django_assert_max_num_queries(DETAIL_QUERIES):
        response = client.get(f"{TICKETS}{ticket.number}/")

    assert response.status_code == 200
    assert len(response.json()["timeline"]) >= count
