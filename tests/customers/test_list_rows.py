"""The customer list writes each row's badges, completeness bar and freshness inline (a page of
rows costs less than three includes per row): the same markup as the partials the 360 page uses."""

from datetime import timedelta

import pytest
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from customers.models import Customer


@pytest.fixture
def varied(make_customer, manager):
    now = timezone.now()
    rows = [
        # verified lately, complete, two flags
        (
            {"is_important": True, "is_sensitive": True, "address": "雷山县丹江镇永乐路18号"},
            now - timedelta(days=3),
        ),
        # verified long ago, flagged 高敏
        ({"is_high_sensitivity": True}, now - timedelta(days=900)),
        # never verified, no flags, <script> in the name
        ({"name": "<script>alert(1)</script>"}, None),
    ]
    customers = []
    for fields, verified in rows:
        customer = make_customer(by=manager, manager=manager, **fields)
        Customer.objects.filter(pk=customer.pk).update(verified_at=verified)
        customers.append(Customer.objects.get(pk=customer.pk))
    return customers


@pytest.mark.parametrize("partial", ["_sensitivity_badges", "_completeness", "_freshness"])
def test_each_row_holds_the_partials_markup(login, manager, varied, partial):
    html = login(manager).get(reverse("customers:list")).content.decode()
    assert len(varied[0].sensitivity_labels) == 2 and varied[2].sensitivity_labels == []
    for customer in varied:
        cell = render_to_string(f"customers/{partial}.html", {"customer": customer})
        assert cell in html
        assert cell.strip() or (partial == "_sensitivity_badges" and not customer.sensitivity_labels)


def test_a_row_links_its_number_and_escapes_its_name(login, manager, varied):
    html = login(manager).get(reverse("customers:list")).content.decode()
    odd = varied[2]
    url = reverse("customers:detail", args=[odd.number])
    assert f'<a href="{url}">{odd.number}</a>' in html
    assert f'<a href="{url}" class="text-body">&lt;script&gt;alert(1)&lt;/script&gt;</a>' in html
    assert "<script>alert(1)" not in html
