"""API lists cost a fixed number of queries whatever the page size (ARCHITECTURE rule 6).

The sync feed's page is measured in test_sync.py (it needs committed rows).
"""

import pytest

from customers.models import Contact, Customer
from tests.api.conftest import CUSTOMERS, detail
from tests.factories import ContactFactory, CustomerFactory

# Token (with its user), the supervisor's unit for the scope, the page of customers, their contacts.
LIST_QUERIES = 4
DETAIL_QUERIES = 4


@pytest.fixture
def many(org_tree, grid, manager) -> list[Customer]:
    stations = [org_tree["station"], org_tree["sibling_station"]]
    customers = Customer.objects.bulk_create(
        CustomerFactory.build(
            station=stations[n % 2],
            number=f"{5300000000 + n}",
            district=grid["district"] if n % 2 == 0 else None,
            manager=manager if n % 2 == 0 else None,
        )
        for n in range(1050)
    )
    Contact.objects.bulk_create(
        ContactFactory.build(customer=customer, mobile=f"139{n:08d}") for n, customer in enumerate(customers)
    )
    return customers


@pytest.mark.parametrize("limit", [10, 1000])
def test_a_list_page_costs_the_same_for_10_and_1000_rows(
    api, supervisor, many, limit, django_assert_max_num_queries
):
    client = api(supervisor)

    with django_assert_max_num_queries(LIST_QUERIES):
        response = client.get(CUSTOMERS, {"limit": limit})

    assert len(response.json()["results"]) == limit


@pytest.mark.parametrize("filters", [{"q": "1390000", "sensitive": "false"}, {"station": "LS01,LS02"}])
def test_filters_add_no_queries(api, supervisor, many, filters, django_assert_max_num_queries):
    client = api(supervisor)

    with django_assert_max_num_queries(LIST_QUERIES):
        response = client.get(CUSTOMERS, {"limit": 1000, **filters})

    assert response.status_code == 200


def test_the_detail(api, supervisor, many, django_assert_max_num_queries):
    client = api(supervisor)

    with django_assert_max_num_queries(DETAIL_QUERIES):
        response = client.get(detail(many[0].number))

    assert response.status_code == 200
