"""Drill: many clients write the same thing at the same moment (ARCHITECTURE rule 7).

50 clients PATCH one customer holding the same ETag: exactly one wins, 49 get
412. 10 clients retry the creation of one work order under one
Idempotency-Key at once: one order; the others get 409 at once while it runs
(or its first response replayed once it has finished). Each client is a
thread with its own database connection, released together by a barrier.
"""

import threading
from collections.abc import Callable

import pytest
from django.db import connection
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from customers.models import Customer
from tests.api.conftest import detail, postgres_only
from tests.api.test_etag import etag_of
from tests.customers import conftest as archive_fixtures
from tests.tickets import conftest as ticket_fixtures
from tickets.models import Ticket

pytestmark = [pytest.mark.drill, pytest.mark.django_db(transaction=True), postgres_only]

# The archive's grid, not the outage drills' one.
grid = archive_fixtures.grid
make_customer = archive_fixtures.make_customer
mine = archive_fixtures.mine
customer = ticket_fixtures.customer


def token_client(token: Token) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def all_at_once(count: int, request: Callable[[int, APIClient], object], token: Token) -> list:
    """Run `request(n, client)` in `count` threads released together; their results in order."""
    start = threading.Barrier(count)
    results: list = [None] * count

    def run(n: int) -> None:
        try:
            client = token_client(token)
            start.wait(timeout=60)
            results[n] = request(n, client)
        except Exception as exc:  # reported by the test
            results[n] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


def test_of_fifty_writers_holding_one_etag_exactly_one_wins(manager, mine):
    token = Token.objects.create(user=manager)
    etag = etag_of(token_client(token), mine)
    version = Customer.objects.get(pk=mine.pk).version

    responses = all_at_once(
        50,
        lambda n, client: client.patch(
            detail(mine.number), {"name": f"写者{n}"}, format="json", HTTP_IF_MATCH=etag
        ),
        token,
    )

    statuses = sorted(getattr(r, "status_code", r) for r in responses)
    assert statuses == [200] + [412] * 49
    [winner] = [n for n, r in enumerate(responses) if r.status_code == 200]
    stored = Customer.objects.get(pk=mine.pk)
    assert stored.name == f"写者{winner}"
    assert stored.version == version + 1
    assert stored.history.filter(history_type="~").count() == 1
    current = f'"{mine.pk}-{stored.version}"'
    assert {r["ETag"] for r in responses} == {current}, "losers learn the winner's ETag"


def test_ten_retries_of_one_creation_open_one_order(manager, customer):
    token = Token.objects.create(user=manager)
    body = {
        "kind": "repair",
        "title": "家中停电",
        "description": "客户反映家中无电。",
        "customer": customer.number,
    }

    responses = all_at_once(
        10,
        lambda n, client: client.post(
            "/api/v1/tickets/", body, format="json", HTTP_IDEMPOTENCY_KEY="call-4711"
        ),
        token,
    )

    statuses = [getattr(r, "status_code", r) for r in responses]
    assert set(statuses) <= {201, 409}, statuses
    assert Ticket.objects.count() == 1
    number = Ticket.objects.get().number
    created = [r for r in responses if r.status_code == 201]
    assert {r.json()["number"] for r in created} == {number}
    replayed = [r.get("Idempotent-Replayed") for r in created]
    assert replayed.count("true") == len(created) - 1, "one ran, the later ones got its stored response"
    in_flight = [r for r in responses if r.status_code == 409]
    assert all(r.json()["code"] == "idempotency_in_progress" and r["Retry-After"] for r in in_flight), (
        "those that came while it ran were told to retry, at once"
    )
    retry = token_client(token).post(
        "/api/v1/tickets/", body, format="json", HTTP_IDEMPOTENCY_KEY="call-4711"
    )
    assert (retry.status_code, retry["Idempotent-Replayed"]) == (201, "true")
    assert retry.json()["number"] == number
    other = token_client(token).post(
        "/api/v1/tickets/", body, format="json", HTTP_IDEMPOTENCY_KEY="call-4712"
    )
    assert other.status_code == 201 and Ticket.objects.count() == 2, "another key is another order"
