"""Bounded queries: the list and the 360 page cost the same for few or many rows."""

import pytest
from django.urls import reverse

from customers import services
from tests.factories import ContactFactory, CustomerFactory

# Session, user, the user's unit, the header's unread count, the filter form's
# stations (districts and managers are pickers: no query without a choice), the
# owners of a searched phone number (searches that look like one) and the page
# of customers.
LIST_PAGE_QUERIES = 7
# Session, user, unit, unread count, the customer with its units and manager,
# its contacts, the history (one query for the customer's versions and one
# for its contacts', acting users, units, districts and lines joined in), and
# the customer's work orders.
DETAIL_PAGE_QUERIES = 9


def fill(org_tree, grid, manager, colleague, count: int) -> None:
    for n in range(count):
        customer = CustomerFactory(
            station=org_tree["station"],
            manager=manager if n % 2 else colleague,
            district=grid["district"],
            line=grid["line"],
            is_important=n % 3 == 0,
        )
        ContactFactory(customer=customer, is_primary=True)
        ContactFactory(customer=customer, is_primary=False)


@pytest.mark.parametrize("count", [10, 200])
@pytest.mark.parametrize("params", [{}, {"q": "13888880001", "stale": "1", "sensitivity": "any"}])
def test_the_list_page(
    login, manager, colleague, org_tree, grid, settings, count, params, django_assert_max_num_queries
):
    settings.CUSTOMER_PAGE_SIZE = 50
    fill(org_tree, grid, manager, colleague, count)
    client = login(manager)
    with django_assert_max_num_queries(LIST_PAGE_QUERIES):
        response = client.get(reverse("customers:list"), params)
    assert response.status_code == 200
    if not params:
        assert len(response.context["page"].items) == min(count, 50)


@pytest.mark.parametrize("count", [10, 200])
def test_the_export(login, manager, colleague, org_tree, grid, count, django_assert_max_num_queries):
    fill(org_tree, grid, manager, colleague, count)
    client = login(manager)
    # One of them counts the list up to CUSTOMER_EXPORT_INLINE_ROWS + 1 (customers.exports).
    with django_assert_max_num_queries(6):
        response = client.get(reverse("customers:export"))
        b"".join(response.streaming_content)


@pytest.mark.parametrize(("contacts", "edits"), [(1, 2), (30, 120)])
def test_the_360_page(login, manager, colleague, grid, mine, contacts, edits, django_assert_max_num_queries):
    for n in range(contacts - 1):
        services.contact_create(customer=mine, user=colleague, name=f"联系人{n}", mobile=f"1370000{n:04d}")
    districts = [grid["district"], grid["other_district"]]
    lines = [grid["line"], grid["other_line"]]
    for n in range(edits):
        services.customer_update(
            customer=mine,
            updated_by=manager if n % 2 else colleague,
            notes=f"第{n}次走访",
            district=districts[n % 2],
            line=lines[n % 2],
            manager=manager if n % 2 else colleague,
        )
    for contact in list(mine.contacts.all())[: edits // 4]:
        services.contact_update(contact=contact, user=colleague, wechat_id=f"wx{contact.pk}")
    client = login(manager)
    with django_assert_max_num_queries(DETAIL_PAGE_QUERIES):
        response = client.get(reverse("customers:detail", args=[mine.number]))
    assert response.status_code == 200
    assert len(response.context["contacts"]) == contacts
    history = response.context["history"]
    assert len(history) == 50 if edits > 10 else 0 < len(history) < 50
