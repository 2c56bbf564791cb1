"""Creates racing with one external id answer as documented, with real concurrent connections.

30 clients send the same 95598 order at once: one order is opened (201) and
every other client gets the documented 200 with that first order. 30 clients
create a group with one WeChat id: one group, every other client the same 400
on `external_id` that a later duplicate gets; never a 500.
"""

import threading

import pytest
from django.db import connection
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from groups.models import ServiceGroup
from tests.api.conftest import postgres_only
from tests.tickets import conftest as ticket_fixtures
from tickets.models import Kind, Source, Ticket

sla_policies = ticket_fixtures.sla_policies
customer = ticket_fixtures.customer

CLIENTS = 30


def post_at_once(user, path: str, body: dict) -> list:
    """(status, JSON body) of CLIENTS requests sent together, each on its own database connection."""
    token, _created = Token.objects.get_or_create(user=user)
    start = threading.Barrier(CLIENTS)
    answers: list = []
    lock = threading.Lock()

    def send() -> None:
        try:
            client = APIClient()
            client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
            start.wait(timeout=60)
            response = client.post(path, body, format="json")
            with lock:
                answers.append((response.status_code, response.json()))
        finally:
            connection.close()

    threads = [threading.Thread(target=send) for _n in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert len(answers) == CLIENTS
    return answers


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_thirty_resent_95598_orders_open_one_and_answer_the_rest_with_it(manager, customer):
    body = {
        "kind": Kind.REPAIR,
        "title": "家中停电",
        "description": "客户反映家中无电。",
        "customer": customer.number,
        "source": Source.HOTLINE_95598,
        "external_id": "95598-RACE",
    }

    answers = post_at_once(manager, "/api/v1/tickets/", body)

    statuses = sorted(status for status, _body in answers)
    assert statuses == [200] * (CLIENTS - 1) + [201], [a for a in answers if a[0] not in (200, 201)][:3]
    assert Ticket.objects.filter(external_id="95598-RACE").count() == 1
    assert {payload["number"] for _status, payload in answers} == {Ticket.objects.get().number}


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_thirty_group_creates_with_one_wechat_id_make_one_group_and_no_500(manager, grid):
    body = {"name": "大客户群", "kind": "vip", "rules": "文明发言，不发广告。", "external_id": "wrOgRACE"}

    answers = post_at_once(manager, "/api/v1/groups/", body)

    statuses = sorted(status for status, _body in answers)
    assert statuses == [201] + [400] * (CLIENTS - 1), answers[:3]
    assert all("external_id" in payload["errors"] for status, payload in answers if status == 400)
    assert ServiceGroup.objects.filter(external_id="wrOgRACE").count() == 1
