"""Property: whatever text a client sends in a string field or a list parameter, the API never
answers 5xx, and a 4xx changes nothing (row counts and archive versions stay)."""

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework import serializers

from customers.api.serializers import CustomerWriteSerializer
from customers.filtersets import CustomerFilterSet
from customers.models import Contact, Customer
from groups.filtersets import GroupFilterSet
from tests.api.conftest import CUSTOMERS, detail
from tickets.filtersets import TicketFilterSet

NASTY = [
    "\x00",
    "a\u0001\u0007\u001b[31mb",
    "\ud800",
    "\udfff x",
    "\r\n",
    "\t",
    "\x7f",
    "=cmd|' /C calc'!A0",
    "9" * 40,
    "-1",
    "'; DROP TABLE customers_customer; --",
    "%00",
    "../../admin/",
    "ﬀ\u202e\u200b",
    "",
]
TEXT = st.one_of(
    st.sampled_from(NASTY),
    st.text(alphabet=st.characters(codec=None, exclude_categories=()), max_size=20),
)
BUDGET = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

STRING_FIELDS = sorted(
    name
    for name, field in CustomerWriteSerializer().fields.items()
    if isinstance(field, serializers.CharField | serializers.ChoiceField) and not field.read_only
)
LISTS = {
    CUSTOMERS: sorted(CustomerFilterSet.base_filters),
    "/api/v1/tickets/": sorted(TicketFilterSet.base_filters),
    "/api/v1/groups/": sorted(GroupFilterSet.base_filters),
}


def state() -> tuple:
    return (
        Customer.all_objects.count(),
        Contact.objects.count(),
        tuple(Customer.all_objects.order_by("pk").values_list("version", flat=True)),
    )


def send(client, method: str, url: str, body: dict):
    # json.dumps escapes lone surrogates as \\udXXX, as a client's JSON library would.
    return getattr(client, method)(url, data=json.dumps(body), content_type="application/json")


@pytest.fixture
def client(api, manager):
    return api(manager)


@BUDGET
@given(field=st.sampled_from(STRING_FIELDS), value=TEXT)
def test_creating_a_customer_never_fails_with_5xx(client, grid, field, value):
    body = {"number": "5201000099", "name": "雷山县某茶厂", "station": "LS01", field: value}
    before = state()

    response = send(client, "post", CUSTOMERS, body)

    assert response.status_code < 500
    assert response["Content-Type"] == "application/json"
    if response.status_code >= 400:
        assert state() == before
    else:
        Customer.all_objects.filter(number=response.json()["number"]).delete()


@BUDGET
@given(field=st.sampled_from(STRING_FIELDS), value=TEXT)
def test_changing_a_customer_never_fails_with_5xx(client, mine, field, value):
    before = state()

    response = send(client, "patch", detail(mine.number), {field: value})

    assert response.status_code < 500
    assert response["Content-Type"] == "application/json"
    if response.status_code >= 400:
        assert state() == before


@BUDGET
@given(url=st.sampled_from(sorted(LISTS)), data=st.data(), value=TEXT)
def test_list_parameters_never_fail_with_5xx(client, mine, url, data, value):
    name = data.draw(st.sampled_from(LISTS[url]), label="parameter")
    before = state()

    # The query string is bytes on the wire: what cannot be encoded is sent percent-encoded as given.
    response = client.get(url, {name: value.encode("utf-8", "surrogatepass")})

    assert response.status_code in (200, 400), (name, value)
    assert response["Content-Type"] == "application/json"
    assert state() == before
