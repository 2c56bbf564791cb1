"""The header's search box finds customers, and opens a work order by its number."""

from django.urls import reverse

from tests.factories import ContactFactory, CustomerFactory
from tickets import services


def open_order(customer, manager):
    ticket, _created = services.ticket_create(
        customer=customer,
        opened_by=manager,
        kind="repair",
        title="家中停电",
        description="无电",
        assignee=manager,
    )
    return ticket


def test_an_order_number_opens_the_order(login, manager, org_tree):
    customer = CustomerFactory(station=org_tree["station"], manager=manager)
    ContactFactory(customer=customer)
    ticket = open_order(customer, manager)
    response = login(manager).get(reverse("search"), {"q": ticket.number.lower()})
    assert response.status_code == 302
    assert response.url == reverse("tickets:detail", args=[ticket.number])


def test_anything_else_searches_the_customer_archive(login, manager):
    response = login(manager).get(reverse("search"), {"q": "13885550001"})
    assert response.status_code == 302
    assert response.url == reverse("customers:list") + "?q=13885550001"


def test_the_outsider_is_not_taken_to_another_countys_order(login, manager, outsider, org_tree):
    customer = CustomerFactory(station=org_tree["station"], manager=manager)
    ticket = open_order(customer, manager)
    response = login(outsider).get(reverse("search"), {"q": ticket.number})
    assert response.status_code == 302
    assert response.url.startswith(reverse("customers:list"))


def test_the_header_form_posts_to_the_search(login, manager):
    page = login(manager).get(reverse("customers:list")).content.decode()
    assert f'action="{reverse("search")}"' in page
