"""Drill: a client walks the sync feed while the archive changes under it.

While a client pages through /api/v1/customers/sync/ (small pages, so the
walk takes a while), three writers, each a thread with its own database
connection, insert, update and soft-delete 1 % of the archive each through
the services. After the walk and one more incremental call, the client's
copy (rows applied in order, `deleted` rows removed) equals what a fresh
full walk returns, and holds exactly the customers the database shows the
client.
"""

import random
import threading
import time

import pytest
from django.db import connection

from customers import services
from customers.models import Contact, Customer
from tests.api import conftest as api_fixtures
from tests.api.conftest import SYNC, postgres_only, walk
from tests.celery_worker import wait_for
from tests.factories import ContactFactory, CustomerFactory

pytestmark = [pytest.mark.drill, pytest.mark.django_db(transaction=True), postgres_only]

api = api_fixtures.api
settled = api_fixtures.settled
empty_throttle_cache = api_fixtures.empty_throttle_cache

ARCHIVE = 1000
CHURN = ARCHIVE // 100
PAGE = 25


def wait_for_quiet_cluster(settled) -> None:
    """The feed holds back rows while a transaction older than them is open anywhere in the
    PostgreSQL cluster (transaction ids are cluster-wide): wait for that, or give up."""
    try:
        settled()
    except AssertionError:
        pytest.skip("an older transaction elsewhere on the PostgreSQL server stayed open for a minute")


def apply(copy: dict[str, dict], rows: list[dict]) -> None:
    for row in rows:
        if row["deleted"]:
            copy.pop(row["number"], None)
        else:
            copy[row["number"]] = row


class Writer(threading.Thread):
    """Runs `change(n)` for n in range(CHURN), a little apart, on its own connection."""

    def __init__(self, change):
        super().__init__(daemon=True)
        self.change = change
        self.errors: list[Exception] = []
        self.done = 0

    def run(self) -> None:
        try:
            for n in range(CHURN):
                self.change(n)
                self.done += 1
                time.sleep(random.uniform(0.1, 0.3))
        except Exception as exc:  # reported by the test
            self.errors.append(exc)
        finally:
            connection.close()


def test_a_walk_under_churn_ends_equal_to_the_server(
    api, manager, outsider, admin_user, org_tree, settled, capsys
):
    station = org_tree["station"]
    archive = Customer.objects.bulk_create(
        CustomerFactory.build(station=station, manager=manager, number=f"{5400000000 + n}")
        for n in range(ARCHIVE)
    )
    Contact.objects.bulk_create(ContactFactory.build(customer=customer) for customer in archive)
    picked = random.sample(archive, 2 * CHURN)
    doomed, edited = picked[:CHURN], picked[CHURN:]
    writers = [
        Writer(
            lambda n: services.customer_create(
                created_by=manager, number=f"{5410000000 + n}", name=f"新户{n}", station=station
            )
        ),
        Writer(
            lambda n: services.customer_update(
                customer=edited[n], updated_by=manager, name=f"改名{n}", notes="同步时改的"
            )
        ),
        Writer(lambda n: services.customer_soft_delete(customer=doomed[n], user=admin_user)),
    ]
    client = api(manager)
    wait_for_quiet_cluster(settled)

    copy: dict[str, dict] = {}
    cursor, pages, rows_seen = "", 0, 0
    for writer in writers:
        writer.start()
    assert wait_for(lambda: any(writer.done for writer in writers), timeout=30)
    while True:
        response = client.get(SYNC, {"cursor": cursor, "limit": PAGE})
        assert response.status_code == 200, response.content
        body = response.json()
        apply(copy, body["results"])
        pages, rows_seen = pages + 1, rows_seen + len(body["results"])
        cursor = body["next"]
        if not body["has_more"]:
            break
        time.sleep(0.05)  # a client on a network, not in the same process
    writes_during_walk = sum(writer.done for writer in writers)
    for writer in writers:
        writer.join(timeout=120)
    assert [writer.errors for writer in writers] == [[], [], []]
    wait_for_quiet_cluster(settled)

    rows, _cursor = walk(client, cursor)
    apply(copy, rows)

    fresh: dict[str, dict] = {}
    apply(fresh, walk(api(manager))[0])
    assert copy == fresh
    assert set(copy) == set(Customer.objects.visible_to(manager).values_list("number", flat=True))
    assert len(copy) == ARCHIVE, "as many inserted as deleted"
    assert all(copy[c.number]["notes"] == "同步时改的" for c in edited)
    assert writes_during_walk > 0, "the writers ran while the client walked"
    assert not {row["number"] for row in walk(api(outsider))[0]} & set(copy), "another county sees none"
    with capsys.disabled():
        print(
            f"\nsync churn drill: {ARCHIVE} customers, {3 * CHURN} writes ({writes_during_walk} finished "
            f"before the walk did), {pages} pages of {PAGE}, {rows_seen} rows walked, "
            f"{len(rows)} in the catch-up call"
        )
