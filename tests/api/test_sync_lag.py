"""The sync feed says when committed changes wait behind an open transaction, and a transaction in
another database of the server does not hold it back."""

import threading
from datetime import datetime

import psycopg
import pytest
from django.db import connection, transaction

from customers import services
from tests.api.conftest import SYNC, postgres_only, walk

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_page_says_nothing_is_held_back(api, mine, manager, settled):
    settled()
    response = api(manager).get(SYNC)

    assert response.status_code == 200
    body = response.json()
    assert body["held_back"] is False
    assert body["held_back_since"] is None
    assert "Sync-Held-Back-Since" not in response


def _hold_open(started: threading.Event, release: threading.Event, errors: list) -> None:
    """A transaction of this database that took a transaction id and stays open until released."""
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT pg_current_xact_id()")
            started.set()
            if not release.wait(timeout=60):
                raise TimeoutError("never released")
    except Exception as exc:  # reported by the test
        errors.append(exc)
        started.set()
    finally:
        connection.close()


@postgres_only
def test_rows_held_back_by_an_open_transaction_are_said_so_with_since_when(api, mine, manager, settled):
    client = api(manager)
    settled()
    _rows, cursor = walk(client)
    started, release, errors = threading.Event(), threading.Event(), []
    holder = threading.Thread(target=_hold_open, args=(started, release, errors))
    holder.start()
    try:
        assert started.wait(timeout=30)
        services.customer_update(customer=mine, updated_by=manager, notes="等待中")
        response = client.get(SYNC, {"cursor": cursor})
        body = response.json()
        assert body["results"] == [], "held back, not lost"
        assert body["held_back"] is True
        since = datetime.fromisoformat(body["held_back_since"])
        assert response["Sync-Held-Back-Since"] == body["held_back_since"]
        assert (datetime.now(since.tzinfo) - since).total_seconds() < 60
    finally:
        release.set()
        holder.join(timeout=60)
    assert errors == []
    settled()

    response = client.get(SYNC, {"cursor": cursor})
    body = response.json()
    assert [row["notes"] for row in body["results"]] == ["等待中"]
    assert body["held_back"] is False
    assert "Sync-Held-Back-Since" not in response


@postgres_only
def test_a_transaction_in_another_database_of_the_server_holds_nothing_back(api, mine, manager, settled):
    """The feed's horizon leaves out transactions pg_stat_activity places in another database
    (here the development database this test database was named after)."""
    client = api(manager)
    settled()
    _rows, cursor = walk(client)
    settings_dict = connection.settings_dict
    other = settings_dict["NAME"].removeprefix("test_")
    try:
        elsewhere = psycopg.connect(
            dbname=other,
            user=settings_dict["USER"],
            password=settings_dict.get("PASSWORD") or None,
            host=settings_dict.get("HOST") or "127.0.0.1",
            port=settings_dict.get("PORT") or 5432,
        )
    except psycopg.OperationalError:
        pytest.skip(f"no database {other} on the server to hold a transaction open in")
    try:
        with elsewhere.cursor() as db:
            db.execute("SELECT pg_current_xact_id()")  # an open transaction with an id, elsewhere
        services.customer_update(customer=mine, updated_by=manager, notes="不受其他库影响")

        body = client.get(SYNC, {"cursor": cursor}).json()

        assert [row["notes"] for row in body["results"]] == ["不受其他库影响"]
        assert body["held_back"] is False
    finally:
        elsewhere.rollback()
        elsewhere.close()
