"""A duplicate Idempotency-Key request while the first is still running: 409 at once, never a wait.

The first request is held in flight by a row lock another connection keeps
on the archive it changes; the duplicate comes on a third connection. Needs
concurrent transactions: PostgreSQL only (SQLite runs one writer at a time,
so there the duplicate can only wait).
"""

import threading
import time

import pytest
from django.db import connection, transaction
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from core.models import IdempotentRequest
from customers.models import Customer
from tests.api.conftest import BULK, postgres_only

pytestmark = [postgres_only, pytest.mark.django_db(transaction=True)]


def token_client(token: Token) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def advisory_locks_held() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
            " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        )
        return cursor.fetchone()[0]


def wait_for(condition, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.02)


def test_a_duplicate_while_the_first_runs_gets_409_at_once_then_the_replay(manager, mine):
    token = Token.objects.create(user=manager)
    items = [{"number": mine.number, "notes": "慢请求"}]
    row_locked, release = threading.Event(), threading.Event()
    first: list = []

    def hold_the_archive() -> None:
        try:
            with transaction.atomic():
                Customer.objects.select_for_update().get(pk=mine.pk)
                row_locked.set()
                release.wait(timeout=60)
        finally:
            connection.close()

    def send_first() -> None:
        try:
            first.append(token_client(token).post(BULK, items, format="json", HTTP_IDEMPOTENCY_KEY="k-slow"))
        finally:
            connection.close()

    holder = threading.Thread(target=hold_the_archive)
    holder.start()
    assert row_locked.wait(timeout=30)
    sender = threading.Thread(target=send_first)
    sender.start()
    try:
        wait_for(lambda: advisory_locks_held() == 1)  # the first is in flight, waiting on the row

        started = time.monotonic()
        duplicate = token_client(token).post(BULK, items, format="json", HTTP_IDEMPOTENCY_KEY="k-slow")
        elapsed = time.monotonic() - started

        assert duplicate.status_code == 409, duplicate.content
        assert duplicate.json()["code"] == "idempotency_in_progress"
        assert duplicate.json()["detail"]
        assert int(duplicate["Retry-After"]) >= 1
        assert elapsed < 2, f"answered after {elapsed:.1f} s: it waited for the first"
        other_key = token_client(token).post(BULK, [], format="json", HTTP_IDEMPOTENCY_KEY="k-other")
        assert other_key.status_code == 200, "another key is not held up"
    finally:
        release.set()
        sender.join(timeout=60)
        holder.join(timeout=60)

    assert first[0].status_code == 200
    assert first[0].json()["results"][0]["status"] == "updated"
    replay = token_client(token).post(BULK, items, format="json", HTTP_IDEMPOTENCY_KEY="k-slow")
    assert replay.status_code == 200
    assert replay["Idempotent-Replayed"] == "true"
    assert replay.json() == first[0].json()
    assert Customer.objects.get(pk=mine.pk).history.filter(notes="慢请求").count() == 1
    changed = token_client(token).post(
        BULK, [{"number": mine.number, "notes": "另一请求"}], format="json", HTTP_IDEMPOTENCY_KEY="k-slow"
    )
    assert changed.status_code == 422
    assert IdempotentRequest.objects.filter(key="k-slow").count() == 1


def test_a_first_request_that_died_leaves_the_key_free(manager, mine):
    """The lock goes with the transaction: a request that failed leaves nothing to wait for."""
    token = Token.objects.create(user=manager)
    client = token_client(token)
    refused = client.post(BULK, {"not": "an array"}, format="json", HTTP_IDEMPOTENCY_KEY="k-dead")
    assert refused.status_code == 400
    assert advisory_locks_held() == 0

    items = [{"number": mine.number, "notes": "重试"}]
    response = client.post(BULK, items, format="json", HTTP_IDEMPOTENCY_KEY="k-dead")

    assert response.status_code == 200
    assert "Idempotent-Replayed" not in response
