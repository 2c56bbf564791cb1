import pytest

from tests.factories import ContactFactory, CustomerFactory
from tickets import services
from tickets.defaults import seed_default_policies
from tickets.models import Kind, SlaPolicy


@pytest.fixture(autouse=True)
def sla_policies(db):
    """The seeded policies; a transactional test earlier in the run flushes them."""
    seed_default_policies(SlaPolicy)


@pytest.fixture
def customer(org_tree, manager):
    customer = CustomerFactory(station=org_tree["station"], manager=manager, name="杨丽")
    ContactFactory(customer=customer, name="杨丽", mobile="13885550001", is_primary=True)
    return customer


@pytest.fixture
def open_ticket(customer, manager):
    """open_ticket(**overrides) -> a repair order dispatched to the manager."""

    def _open(**overrides):
        fields = {
            "customer": customer,
            "opened_by": manager,
            "kind": Kind.REPAIR,
            "title": "家中停电",
            "description": "客户反映家中无电，邻居有电。",
            "assignee": manager,
        }
        fields.update(overrides)
        ticket, _created = services.ticket_create(**fields)
        return ticket

    return _open
