"""Drills: a client walks the sync feed while the archive changes under it.

While a client pages through /api/v1/customers/sync/ (small pages, so the
walk takes a while), three writers, each a thread with its own database
connection, insert, update and soft-delete 1 % of the archive each through
the services. After the walk and one more incremental call, the client's
copy (rows applied in order, `deleted` rows removed) equals what a fresh
full walk returns, and holds exactly the customers the database shows the
client.

The second drill moves the ground under the client too: archives move
between stations and managers, units and managers are renamed, archives are
hard deleted, and the client's own user moves to another station mid-walk.
The client follows the protocol (tombstones drop rows, 410 drops the copy and
walks again); at the end its copy equals, field by field, what the detail
serializer shows of every archive the server lets it see.
"""

import random
import threading
import time

import pytest
from django.db import connection
from rest_framework.test import APIRequestFactory

from accounts.models import OrgUnit, User
from customers import services
from customers.api.serializers import CustomerSerializer, customer_queryset
from customers.models import Contact, Customer, District
from tests.api import conftest as api_fixtures
from tests.api.conftest import SYNC, postgres_only, walk
from tests.celery_worker import wait_for
from tests.factories import ContactFactory, CustomerFactory, DistrictFactory

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


def server_view(user: User) -> dict[str, dict]:
    """Every archive the user may see, as the detail endpoint shows it, plus `"deleted": false`."""
    request = APIRequestFactory().get("/")
    request.user = user
    rows = CustomerSerializer(
        customer_queryset().visible_to(user), many=True, context={"request": request}
    ).data
    return {row["number"]: {**row, "deleted": False} for row in rows}


def test_a_walk_under_scope_churn_ends_equal_to_the_server(
    api, manager, colleague, admin_user, org_tree, settled, capsys
):
    station, sibling, other = org_tree["station"], org_tree["sibling_station"], org_tree["other_station"]
    stations = [station, sibling, other]
    district = DistrictFactory(station=station)
    archive = Customer.objects.bulk_create(
        CustomerFactory.build(
            station=stations[n % 3],
            # The manager's own archives, some in the sibling station (seen there as the owner).
            manager=(manager, colleague, None)[n % 3] if n % 2 else manager if n % 3 == 1 else None,
            district=district if n % 3 == 0 and n % 4 == 1 else None,
            number=f"{5500000000 + n}",
        )
        for n in range(ARCHIVE)
    )
    Contact.objects.bulk_create(ContactFactory.build(customer=customer) for customer in archive)
    picked = random.sample(archive, 3 * CHURN)
    moving, doomed, edited = picked[:CHURN], picked[CHURN : 2 * CHURN], picked[2 * CHURN :]

    def move(n: int) -> None:
        # Scope moves: to another station, to or from the manager, as the admin or raw SQL would.
        target = random.choice(stations)
        owner = random.choice([manager, colleague, None])
        Customer.objects.filter(pk=moving[n].pk).update(station=target, manager=owner)

    def rename(n: int) -> None:
        if n % 2:
            OrgUnit.objects.filter(pk=random.choice(stations).pk).update(name=f"改名供电所{n}")
        else:
            District.objects.filter(pk=district.pk).update(name=f"改名台区{n}")
        User.objects.filter(pk=colleague.pk).update(real_name=f"李四{n}")

    def hard_delete(n: int) -> None:
        Customer.all_objects.filter(pk=doomed[n].pk).delete()

    def edit(n: int) -> None:
        # Archives moved by raw writes may not pass the services' checks: a plain update.
        Customer.objects.filter(pk=edited[n].pk).update(notes=f"同步时改的{n}")

    writers = [Writer(move), Writer(rename), Writer(hard_delete), Writer(edit)]
    client = api(manager)
    wait_for_quiet_cluster(settled)

    copy: dict[str, dict] = {}
    cursor, pages, walks_again = "", 0, 0
    for writer in writers:
        writer.start()
    assert wait_for(lambda: any(writer.done for writer in writers), timeout=30)

    def follow(until_caught_up: bool) -> None:
        nonlocal cursor, pages, walks_again
        while True:
            response = client.get(SYNC, {"cursor": cursor, "limit": PAGE})
            if response.status_code == 410:
                assert response.json()["code"] == "cursor_expired"
                copy.clear()  # what the protocol says: drop the copy, walk again
                cursor, walks_again = "", walks_again + 1
                continue
            assert response.status_code == 200, response.content
            body = response.json()
            apply(copy, body["results"])
            pages += 1
            cursor = body["next"]
            if pages == 10:
                # The client's own user moves to another station while it walks.
                User.objects.filter(pk=manager.pk).update(org_unit=sibling)
            if not body["has_more"] and (not until_caught_up or not body["held_back"]):
                return
            time.sleep(0.05)

    follow(until_caught_up=False)
    for writer in writers:
        writer.join(timeout=120)
    assert [writer.errors for writer in writers] == [[], [], [], []]
    wait_for_quiet_cluster(settled)
    follow(until_caught_up=True)

    manager.refresh_from_db()
    assert manager.org_unit == sibling
    expected = server_view(manager)
    assert set(copy) == set(expected)
    assert copy == expected
    assert walks_again >= 1, "the user's move told the client to walk again"
    with capsys.disabled():
        print(
            f"\nsync scope churn drill: {ARCHIVE} customers, {4 * CHURN} writes, {pages} pages of {PAGE}, "
            f"{walks_again} walks again, {len(copy)} archives in the end"
        )
