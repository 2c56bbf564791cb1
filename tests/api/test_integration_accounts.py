"""Integration accounts (95598, marketing, the mobile back end) read full phones of their subtree, logged.

The account is bound to 雷山县供电局 (the county): it sees both stations of
the county, not 凯里. Managers and supervisors keep reading masked numbers of
customers they do not manage, and their reads are not logged.
"""

import pytest

from accounts.models import User
from customers import services
from customers.models import Contact, Customer, PhoneAccessLog
from tests.api.conftest import CUSTOMERS, SYNC, detail, walk
from tests.factories import ContactFactory, CustomerFactory, UserFactory


@pytest.fixture
def system(org_tree) -> User:
    return UserFactory(
        username="sys95598",
        real_name="95598系统",
        mobile="",
        org_unit=org_tree["county"],
        role=User.Role.INTEGRATION,
    )


def phones(body: dict) -> list[str]:
    return [contact["mobile"] for contact in body["contacts"]]


def test_it_reads_full_phones_in_scope_and_each_read_is_logged(api, system, mine, colleagues):
    response = api(system).get(detail(mine.number))

    assert response.status_code == 200
    assert phones(response.json()) == ["13885551234"]
    log = PhoneAccessLog.objects.get()
    assert (log.user, log.endpoint, log.numbers, log.count) == (
        system,
        f"GET {detail(mine.number)}",
        [mine.number],
        1,
    )

    api(system).get(detail(colleagues.number))
    assert PhoneAccessLog.objects.count() == 2, "one row per read"


def test_an_archive_out_of_its_subtree_is_404_and_not_logged(api, system, foreign):
    assert api(system).get(detail(foreign.number)).status_code == 404
    assert api(system).patch(detail(foreign.number), {"notes": "x"}, format="json").status_code == 404
    assert not PhoneAccessLog.objects.exists()


def test_the_list_shows_the_subtree_unmasked_in_one_log_row(api, system, mine, colleagues, foreign):
    body = api(system).get(CUSTOMERS).json()

    assert {row["number"]: phones(row) for row in body["results"]} == {
        mine.number: ["13885551234"],
        colleagues.number: ["13885552345"],
    }
    log = PhoneAccessLog.objects.get()
    assert log.numbers == sorted([mine.number, colleagues.number])
    assert log.endpoint == f"GET {CUSTOMERS}"


def test_a_list_of_1000_costs_two_queries_more_than_a_supervisors(
    api, system, org_tree, django_assert_max_num_queries
):
    customers = Customer.objects.bulk_create(
        CustomerFactory.build(station=org_tree["station"], number=f"{5300000000 + n}") for n in range(1000)
    )
    Contact.objects.bulk_create(
        ContactFactory.build(customer=customer, mobile=f"139{n:08d}") for n, customer in enumerate(customers)
    )
    client = api(system)

    # A supervisor's four (token and user, the unit, the page, its contacts) and the log's insert.
    with django_assert_max_num_queries(5):
        response = client.get(CUSTOMERS, {"limit": 1000})

    assert len(response.json()["results"]) == 1000
    assert "*" not in response.json()["results"][0]["contacts"][0]["mobile"]
    assert PhoneAccessLog.objects.get().count == 1000


def test_managers_and_supervisors_still_read_masked_numbers_and_are_not_logged(
    api, manager, supervisor, mine, colleagues
):
    assert phones(api(manager).get(detail(mine.number)).json()) == ["13885551234"], "own customer"
    assert phones(api(manager).get(detail(colleagues.number)).json()) == ["138****2345"]
    assert phones(api(supervisor).get(detail(mine.number)).json()) == ["138****1234"]
    listed = api(supervisor).get(CUSTOMERS).json()["results"]
    assert {phone for row in listed for phone in phones(row)} == {"138****1234", "138****2345"}
    assert not PhoneAccessLog.objects.exists()


def echo_of(body: dict) -> dict:
    """What a client sends back after reading an archive: its own fields, unchanged."""
    contact_fields = ("id", *Contact.EDITABLE_FIELDS)
    return {
        "name": body["name"],
        "address": body["address"],
        "station": body["station"]["code"],
        "notes": "95598回写",
        "contacts": [{name: contact[name] for name in contact_fields} for contact in body["contacts"]],
    }


def test_a_masked_echo_was_refused_and_the_integration_echo_now_succeeds(api, supervisor, system, mine):
    masked = api(supervisor).get(detail(mine.number)).json()
    refused = api(supervisor).put(detail(mine.number), echo_of(masked), format="json")
    assert refused.status_code == 400, "189****7885 is no phone number: what the systems ran into"

    client = api(system)
    read = client.get(detail(mine.number))
    response = client.put(
        detail(mine.number), echo_of(read.json()), format="json", HTTP_IF_MATCH=read["ETag"]
    )

    assert response.status_code == 200, response.content
    stored = Customer.objects.get(pk=mine.pk)
    assert stored.notes == "95598回写"
    assert list(stored.contacts.values_list("mobile", flat=True)) == ["13885551234"]
    assert stored.history.first().history_user == system

    patched = client.patch(
        detail(mine.number),
        {"contacts": [{**echo_of(response.json())["contacts"][0], "name": "杨总"}]},
        format="json",
    )
    assert patched.status_code == 200, patched.content
    assert phones(patched.json()) == ["13885551234"]
    assert Contact.objects.get(customer=mine).name == "杨总"


@pytest.mark.django_db(transaction=True)
def test_the_sync_feed_is_unmasked_and_each_page_is_one_log_row(
    api, system, manager, admin_user, mine, colleagues, foreign, make_customer, settled
):
    gone = make_customer(number="5201000099", contact={"name": "甲", "mobile": "13885550099"})
    services.customer_soft_delete(customer=gone, user=admin_user)
    settled()

    rows, _cursor = walk(api(system), limit=1)

    live = {row["number"]: phones(row) for row in rows if not row["deleted"]}
    assert live == {mine.number: ["13885551234"], colleagues.number: ["13885552345"]}
    assert gone.number in {row["number"] for row in rows if row["deleted"]}
    logs = list(PhoneAccessLog.objects.order_by("id"))
    assert [log.numbers for log in logs] == [[row["number"]] for row in rows if not row["deleted"]]
    assert {log.endpoint for log in logs} == {f"GET {SYNC}"}

    manager_rows, _cursor = walk(api(manager))
    assert {row["number"]: phones(row) for row in manager_rows if not row["deleted"]} == {
        mine.number: ["13885551234"],
        colleagues.number: ["138****2345"],
    }
    assert PhoneAccessLog.objects.count() == len(logs), "a manager's reads are not logged"
