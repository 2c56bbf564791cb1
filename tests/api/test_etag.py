"""Safe concurrent writes: ETag on reads, If-Match on writes, 412 when stale (ARCHITECTURE rule 7)."""

import threading

import pytest
from django.db import connection
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from customers import services
from customers.models import Customer
from tests.api.conftest import detail, postgres_only


def etag_of(client, customer) -> str:
    response = client.get(detail(customer.number))
    assert response.status_code == 200
    return response["ETag"]


def test_a_stale_if_match_gets_412_and_changes_nothing(api, manager, colleague, mine):
    client = api(manager)
    stale = etag_of(client, mine)
    services.customer_update(customer=mine, updated_by=colleague, notes="同事先改了")

    response = client.patch(detail(mine.number), {"name": "覆盖"}, format="json", HTTP_IF_MATCH=stale)

    assert response.status_code == 412
    assert "detail" in response.json()
    stored = Customer.objects.get(pk=mine.pk)
    assert stored.name == "雷山县永乐酒店"
    assert response["ETag"] == f'"{mine.pk}-{stored.version}"', "the current ETag comes back"
    assert stored.history.latest().history_user == colleague


def test_a_fresh_if_match_writes_and_returns_the_new_etag(api, manager, mine):
    client = api(manager)
    fresh = etag_of(client, mine)

    response = client.patch(detail(mine.number), {"name": "新名字"}, format="json", HTTP_IF_MATCH=fresh)

    assert response.status_code == 200, response.content
    assert response["ETag"] != fresh
    assert response["ETag"] == etag_of(client, mine)
    again = client.patch(detail(mine.number), {"name": "再改"}, format="json", HTTP_IF_MATCH=fresh)
    assert again.status_code == 412, "the old ETag is spent"


def test_a_write_without_if_match_is_accepted(api, manager, colleague, mine):
    services.customer_update(customer=mine, updated_by=colleague, notes="同事先改了")

    response = api(manager).patch(detail(mine.number), {"name": "照样保存"}, format="json")

    assert response.status_code == 200
    assert Customer.objects.get(pk=mine.pk).name == "照样保存"


def test_a_contact_change_changes_the_etag(api, manager, mine):
    client = api(manager)
    before = etag_of(client, mine)

    services.contact_update(contact=mine.contacts.get(), user=manager, name="杨总")

    assert etag_of(client, mine) != before
    response = client.patch(detail(mine.number), {"name": "x"}, format="json", HTTP_IF_MATCH=before)
    assert response.status_code == 412


def test_a_stale_delete_gets_412(api, manager, colleague, mine):
    client = api(manager)
    stale = etag_of(client, mine)
    services.customer_update(customer=mine, updated_by=colleague, notes="同事先改了")

    assert client.delete(detail(mine.number), HTTP_IF_MATCH=stale).status_code == 412
    assert Customer.objects.filter(pk=mine.pk).exists()
    assert client.delete(detail(mine.number), HTTP_IF_MATCH=etag_of(client, mine)).status_code == 204


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("*", 200),
        ('W/"{pk}-{version}"', 200),
        ('"1-1", "{pk}-{version}"', 200),
        ('"{pk}-999"', 412),
        ('"999999-{version}"', 412),
        ("garbage", 412),
    ],
)
def test_if_match_forms(api, manager, mine, header, expected):
    client = api(manager)
    version = Customer.objects.get(pk=mine.pk).version
    value = header.format(pk=mine.pk, version=version)

    response = client.patch(detail(mine.number), {"notes": "x"}, format="json", HTTP_IF_MATCH=value)

    assert response.status_code == expected


def test_a_version_in_the_body_is_a_precondition_too(api, manager, mine):
    client = api(manager)
    version = Customer.objects.get(pk=mine.pk).version

    assert (
        client.patch(detail(mine.number), {"notes": "x", "version": version + 1}, format="json").status_code
        == 412
    )
    assert (
        client.patch(detail(mine.number), {"notes": "x", "version": version}, format="json").status_code
        == 200
    )


def test_if_none_match_answers_304_while_current(api, manager, mine):
    client = api(manager)
    etag = etag_of(client, mine)

    response = client.get(detail(mine.number), HTTP_IF_NONE_MATCH=etag)

    assert response.status_code == 304
    assert response["ETag"] == etag
    services.customer_update(customer=mine, updated_by=manager, notes="变了")
    assert client.get(detail(mine.number), HTTP_IF_NONE_MATCH=etag).status_code == 200


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_of_twenty_writers_holding_one_etag_exactly_one_wins(manager, mine):
    token = Token.objects.create(user=manager)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    etag = etag_of(client, mine)
    version = Customer.objects.get(pk=mine.pk).version
    writers = 20
    start = threading.Barrier(writers)
    statuses: list[int] = []

    def write(n: int) -> None:
        try:
            own = APIClient()
            own.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
            start.wait(timeout=30)
            response = own.patch(detail(mine.number), {"name": f"写者{n}"}, format="json", HTTP_IF_MATCH=etag)
            statuses.append(response.status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(statuses) == [200] + [412] * (writers - 1)
    stored = Customer.objects.get(pk=mine.pk)
    assert stored.version == version + 1
    assert stored.history.filter(history_type="~").count() == 1
