"""An identifier that is too long is refused, not cut: the browser gets no `maxlength` to cut it with.

A 17-digit 户号 cut to 13 by the input is a different, perhaps someone else's,
number; the server sees every digit and says what is wrong.
"""

import re

from django.urls import reverse

from customers.models import Contact, Customer
from tests.customers.test_bad_input import contact_data, customer_data  # noqa: F401 - fixtures
from tests.security import test_permission_matrix as matrix

# The permission matrix's objects of 雷山供电所 (an order, a group, an outage...).
world = matrix.world

SEVENTEEN = "52012345678901234"


def _input(html: str, name: str) -> str:
    match = re.search(rf'<input[^>]*name="{name}"[^>]*>', html)
    assert match, name
    return match.group()


def test_the_customer_form_lets_the_whole_number_through_and_refuses_it(login, manager, customer_data):  # noqa: F811
    client = login(manager)
    field = _input(client.get(reverse("customers:create")).content.decode(), "number")
    assert "maxlength" not in field
    assert 'inputmode="numeric"' in field

    response = client.post(reverse("customers:create"), {**customer_data, "number": SEVENTEEN})

    assert response.status_code == 200
    assert "户号必须是10到13位数字。" in response.context["form"].errors["number"]
    assert not Customer.all_objects.exists()
    assert client.post(reverse("customers:create"), customer_data).status_code == 302


def test_a_phone_number_too_long_is_refused_with_its_length(login, manager, make_customer, contact_data):  # noqa: F811
    customer = make_customer(by=manager, manager=manager)
    client = login(manager)
    url = reverse("customers:contact_create", args=[customer.number])
    html = client.get(url).content.decode()
    assert "maxlength" not in _input(html, "mobile")
    assert "maxlength" not in _input(html, "landline")

    response = client.post(url, {**contact_data, "mobile": "139855512345678"})

    assert response.status_code == 200
    assert "最多11位，您输入了15位，请核对后重新输入。" in response.context["form"].errors["mobile"]
    assert not Contact.objects.exists()
    assert client.post(url, contact_data).status_code == 302


def test_every_identifier_input_takes_the_whole_value(world, login, admin_user):
    client = login(admin_user)
    pages = [
        (reverse("customers:create"), ["number"]),
        (reverse("customers:contact_create", args=[world["customer"].number]), ["mobile", "landline"]),
        (reverse("customers:interaction_create", args=[world["customer"].number]), ["ticket_number"]),
        (reverse("customers:interaction_quick_create"), ["ticket_number"]),
        (reverse("groups:detail", args=[world["group"].pk]), ["customer_number"]),
        (reverse("tickets:detail", args=[world["ticket"].number]), ["other"]),
        (reverse("outages:create"), ["external_id"]),
    ]
    for url, names in pages:
        html = client.get(url).content.decode()
        for name in names:
            assert "maxlength" not in _input(html, name), (url, name)
