"""Over-long texts over the API: a 400 naming the field (code `max_length`), nothing written."""

from core.text import MESSAGE_LENGTH, NOTE_LENGTH, TEXT_LENGTH
from customers.models import Customer
from groups.models import ServiceGroup
from tests.api.conftest import detail
from tests.api_errors import field_codes, field_messages
from tests.tickets import conftest as ticket_fixtures
from tickets.models import Kind, Ticket

sla_policies = ticket_fixtures.sla_policies
customer = ticket_fixtures.customer
open_ticket = ticket_fixtures.open_ticket


def test_an_over_long_customer_note_is_a_field_error_and_changes_nothing(api, manager, mine):
    client = api(manager)
    before = Customer.objects.get(pk=mine.pk).version

    response = client.patch(detail(mine.number), {"notes": "长" * (TEXT_LENGTH + 1)}, format="json")

    assert response.status_code == 400
    assert field_codes(response) == {"notes": ["max_length"]}
    assert str(TEXT_LENGTH) in field_messages(response)["notes"][0]
    assert Customer.objects.get(pk=mine.pk).version == before
    assert client.patch(detail(mine.number), {"notes": "长" * TEXT_LENGTH}, format="json").status_code == 200


def test_an_over_long_ticket_description_opens_nothing(api, manager, customer):
    body = {"kind": Kind.REPAIR, "title": "家中停电", "customer": customer.number}

    response = api(manager).post(
        "/api/v1/tickets/", {**body, "description": "长" * (TEXT_LENGTH + 1)}, format="json"
    )

    assert response.status_code == 400
    assert field_codes(response) == {"description": ["max_length"]}
    assert not Ticket.objects.exists()


def test_an_over_long_urge_note_is_refused(api, supervisor, open_ticket):
    ticket = open_ticket()

    response = api(supervisor).post(
        f"/api/v1/tickets/{ticket.number}/urge/", {"note": "催" * (NOTE_LENGTH + 1)}, format="json"
    )

    assert response.status_code == 400
    assert field_codes(response) == {"note": ["max_length"]}
    assert Ticket.objects.get(pk=ticket.pk).urge_count == 0


def test_over_long_group_rules_create_no_group(api, manager, grid):
    body = {"name": "大客户群", "kind": "vip", "rules": "规" * (TEXT_LENGTH + 1)}

    response = api(manager).post("/api/v1/groups/", body, format="json")

    assert response.status_code == 400
    assert field_codes(response) == {"rules": ["max_length"]}
    assert not ServiceGroup.objects.exists()


def test_the_schema_states_the_lengths(api, manager):
    schema = api(manager).get("/api/schema/?format=json").json()["components"]["schemas"]

    assert schema["PatchedCustomerWrite"]["properties"]["notes"]["maxLength"] == TEXT_LENGTH
    assert MESSAGE_LENGTH > TEXT_LENGTH > NOTE_LENGTH
