"""The sync feed walks the visible archive and then returns exactly what changed, losing nothing."""

import threading

import pytest
from django.db import connection, transaction
from django.utils import timezone

from accounts.models import OrgUnit, User
from customers import services
from customers.api.sync import SyncCursor, encode_cursor, feed_state
from customers.models import Contact, Customer, District, Line
from tests.api.conftest import SYNC, detail, postgres_only, walk
from tests.api_errors import field_messages
from tests.factories import ContactFactory, CustomerFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def archive(make_customer, manager, colleague, outsider, org_tree, grid) -> dict[str, Customer]:
    """Customers of 雷山供电所 (visible to the manager), of 丹江供电所 and of 凯里 (not visible)."""
    made = {}
    for n in range(12):
        made[f"ls{n}"] = make_customer(
            by=manager,
            number=f"52010100{n:02d}",
            manager=manager if n % 2 else colleague,
            contact={"name": f"联系人{n}", "mobile": f"1388555{n:04d}", "is_primary": True},
        )
    for n in range(3):
        made[f"dj{n}"] = make_customer(number=f"52020100{n:02d}", station=org_tree["sibling_station"])
        made[f"kl{n}"] = make_customer(number=f"52090100{n:02d}", station=org_tree["other_station"])
    return made


def numbers(rows: list[dict]) -> list[str]:
    return [row["number"] for row in rows]


def test_a_full_walk_returns_exactly_the_visible_archive(
    api, manager, supervisor, admin_user, archive, settled
):
    services.customer_soft_delete(customer=archive["ls0"], user=admin_user)
    settled()

    rows, _cursor = walk(api(manager), limit=5)

    visible = set(Customer.objects.visible_to(manager).values_list("number", flat=True))
    live = [row for row in rows if not row["deleted"]]
    assert sorted(numbers(live)) == sorted(visible)
    assert len(numbers(rows)) == len(set(numbers(rows))), "each archive once"
    assert [row for row in rows if row["deleted"]] == [{"number": archive["ls0"].number, "deleted": True}]

    rows, _cursor = walk(api(supervisor), limit=4)
    assert len([row for row in rows if not row["deleted"]]) == 11 + 3


def test_an_incremental_call_returns_exactly_what_changed(
    api, manager, colleague, admin_user, archive, settled
):
    client = api(manager)
    settled()
    _rows, cursor = walk(client, limit=5)
    assert walk(client, cursor)[0] == [], "nothing changed yet"

    services.customer_update(customer=archive["ls3"], updated_by=manager, name="改了名字")
    services.customer_soft_delete(customer=archive["ls4"], user=admin_user)
    services.contact_update(contact=archive["ls5"].contacts.get(), user=manager, name="换了联系人")
    services.contact_create(customer=archive["ls6"], user=colleague, name="新增联系人", mobile="13900000006")
    services.customer_update(customer=archive["ls3"], updated_by=manager, notes="又改了一次")
    services.customer_update(customer=archive["kl0"], updated_by=colleague, name="看不见的修改")
    Customer.objects.filter(pk=archive["ls7"].pk).update(notes="绕过服务的修改")
    settled()

    rows, cursor = walk(client, cursor, limit=2)

    by_number = {row["number"]: row for row in rows}
    assert sorted(by_number) == sorted(archive[k].number for k in ("ls3", "ls4", "ls5", "ls6", "ls7"))
    assert len(rows) == 5, "a row written twice comes once"
    assert by_number[archive["ls3"].number]["name"] == "改了名字"
    assert by_number[archive["ls3"].number]["notes"] == "又改了一次"
    assert by_number[archive["ls4"].number] == {"number": archive["ls4"].number, "deleted": True}
    assert by_number[archive["ls5"].number]["contacts"][0]["name"] == "换了联系人"
    assert len(by_number[archive["ls6"].number]["contacts"]) == 2
    assert walk(client, cursor)[0] == []


def test_a_deleted_contact_is_a_change_of_its_customer(api, manager, archive, settled):
    client = api(manager)
    settled()
    _rows, cursor = walk(client)

    services.contact_delete(contact=archive["ls1"].contacts.get(), user=manager)
    settled()

    rows, _cursor = walk(client, cursor)
    assert numbers(rows) == [archive["ls1"].number]
    assert rows[0]["contacts"] == []


def test_a_new_name_of_what_a_row_shows_brings_its_customers_again(
    api, manager, colleague, archive, grid, org_tree, settled
):
    """Station, district, line and manager are shown by name: renaming one is a change of its rows."""
    client = api(manager)
    Customer.objects.filter(pk__in=[archive["ls2"].pk, archive["ls3"].pk]).update(
        district=grid["district"], line=grid["line"]
    )
    settled()
    _rows, cursor = walk(client)

    District.objects.filter(pk=grid["district"].pk).update(name="永乐新台区")
    settled()
    rows, cursor = walk(client, cursor)
    assert sorted(numbers(rows)) == sorted([archive["ls2"].number, archive["ls3"].number])
    assert {row["district"]["name"] for row in rows} == {"永乐新台区"}

    Line.objects.filter(pk=grid["line"].pk).update(code="XL-LS-9")
    settled()
    rows, cursor = walk(client, cursor)
    assert {row["line"]["code"] for row in rows} == {"XL-LS-9"}
    assert len(rows) == 2

    User.objects.filter(pk=colleague.pk).update(real_name="李四改")
    settled()
    rows, cursor = walk(client, cursor)
    assert sorted(numbers(rows)) == sorted(archive[f"ls{n}"].number for n in range(0, 12, 2))
    assert {row["manager"]["name"] for row in rows} == {"李四改"}

    OrgUnit.objects.filter(pk=org_tree["station"].pk).update(name="雷山新供电所")
    settled()
    rows, cursor = walk(client, cursor)
    assert sorted(numbers(rows)) == sorted(archive[f"ls{n}"].number for n in range(12))
    assert {row["station"]["name"] for row in rows} == {"雷山新供电所"}


def test_other_changes_of_units_and_people_bring_nothing(api, manager, colleague, archive, org_tree, settled):
    client = api(manager)
    settled()
    _rows, cursor = walk(client)

    User.objects.filter(pk=colleague.pk).update(last_login=timezone.now(), mobile="13595569999")
    OrgUnit.objects.filter(pk=org_tree["station"].pk).update(name="雷山供电所")  # the same name
    OrgUnit.objects.filter(pk=org_tree["other_station"].pk).update(name="凯里新供电所")  # not visible
    settled()

    assert walk(client, cursor)[0] == []


def test_a_row_has_the_shape_of_the_detail_response(api, manager, colleague, archive, settled):
    settled()
    rows, _cursor = walk(api(manager))
    own, others = archive["ls1"], archive["ls2"]

    for customer in (own, others):
        row = next(row for row in rows if row["number"] == customer.number)
        shown = api(manager).get(detail(customer.number)).json()
        assert row == {**shown, "deleted": False}
    masked = next(row for row in rows if row["number"] == others.number)
    assert masked["contacts"][0]["mobile"] == "138****0002"


def test_the_outsider_gets_nothing_of_another_county(api, outsider, admin_user, archive, settled):
    services.customer_soft_delete(customer=archive["ls0"], user=admin_user)
    settled()

    rows, _cursor = walk(api(outsider))

    assert sorted(numbers(rows)) == sorted(archive[f"kl{n}"].number for n in range(3))


def test_anonymous_and_bad_parameters(api, manager):
    assert api().get(SYNC).status_code == 401
    client = api(manager)
    assert client.get(SYNC, {"cursor": "not-a-cursor"}).status_code == 400
    assert "cursor" in field_messages(client.get(SYNC, {"cursor": "bm9wZQ"}))
    assert "limit" in field_messages(client.get(SYNC, {"limit": 1001}))
    assert client.get(SYNC, {"limit": 0}).status_code == 400
    state = feed_state()
    assert (
        client.get(SYNC, {"cursor": encode_cursor(SyncCursor(0, 7), user=manager, state=state)}).status_code
        == 200
    )
    forged = encode_cursor(SyncCursor(0, 7), user=manager, state=state)[:-2] + "xx"
    assert client.get(SYNC, {"cursor": forged}).status_code == 400


# Token, the feed's state (epoch, horizon), the customers page; on SQLite the page's contacts and
# the exits (tombstones of archives that left the scope) come in two more (PostgreSQL reads both
# with the page). The supervisor's units are looked up once per process and version of the tree.
SYNC_PAGE_QUERIES = 3 if connection.vendor == "postgresql" else 5


@pytest.mark.parametrize("limit", [10, 1000])
def test_a_page_costs_the_same_queries_for_10_and_1000_rows(
    api, supervisor, org_tree, limit, settled, django_assert_num_queries
):
    stations = [org_tree["station"], org_tree["sibling_station"]]
    customers = Customer.objects.bulk_create(
        CustomerFactory.build(station=stations[n % 2], number=f"{5300000000 + n}") for n in range(1050)
    )
    Contact.objects.bulk_create(ContactFactory.build(customer=customer) for customer in customers)
    client = api(supervisor)
    client.get(SYNC, {"limit": 1})
    settled()

    with django_assert_num_queries(SYNC_PAGE_QUERIES):
        response = client.get(SYNC, {"limit": limit})

    body = response.json()
    assert len(body["results"]) == limit
    assert all(len(row["contacts"]) == 1 for row in body["results"])
    assert body["has_more"] is True


def _committed_late(work, started: threading.Event, release: threading.Event, errors: list) -> None:
    """Run `work` in a transaction that stays open until `release` is set."""
    try:
        with transaction.atomic():
            work()
            started.set()
            if not release.wait(timeout=60):
                raise TimeoutError("never released")
    except Exception as exc:  # reported by the test
        errors.append(exc)
        started.set()
    finally:
        connection.close()


@postgres_only
def test_a_transaction_that_commits_late_is_not_lost(api, manager, colleague, archive, org_tree, settled):
    client = api(manager)
    settled()
    _rows, cursor = walk(client)
    late, early = archive["ls8"], archive["ls9"]

    def slow_work():
        services.customer_update(customer=late, updated_by=colleague, name="晚提交的修改")
        services.customer_create(
            created_by=colleague, number="5201019999", name="晚提交的新户", station=late.station
        )

    started, release, errors = threading.Event(), threading.Event(), []
    slow = threading.Thread(target=_committed_late, args=(slow_work, started, release, errors))
    slow.start()
    try:
        assert started.wait(timeout=30)
        assert errors == []
        # A transaction that started later commits first.
        services.customer_update(customer=early, updated_by=manager, name="先提交的修改")
        services.customer_create(
            created_by=manager, number="5201018888", name="先提交的新户", station=org_tree["station"]
        )

        rows, cursor = walk(client, cursor)
        assert not {"5201019999", late.number} & set(numbers(rows)), "not finished, not shown yet"
        seen = numbers(rows)
    finally:
        release.set()
        slow.join(timeout=60)
    assert errors == []
    settled()

    rows, cursor = walk(client, cursor)

    seen += numbers(rows)
    by_number = {row["number"]: row for row in rows}
    assert by_number[late.number]["name"] == "晚提交的修改"
    assert "5201019999" in by_number
    assert sorted(set(seen)) == sorted({late.number, early.number, "5201019999", "5201018888"})
    assert walk(client, cursor)[0] == []


def _take_a_transaction_id() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_current_xact_id()")


@postgres_only
def test_the_feed_waits_for_an_open_transaction_instead_of_skipping_it(api, manager, archive, settled):
    client = api(manager)
    settled()
    _rows, cursor = walk(client)
    started, release, errors = threading.Event(), threading.Event(), []
    slow = threading.Thread(target=_committed_late, args=(_take_a_transaction_id, started, release, errors))
    slow.start()
    try:
        assert started.wait(timeout=30)
        services.customer_update(customer=archive["ls1"], updated_by=manager, name="排在后面")
        held, held_cursor = walk(client, cursor)
        assert held == [], "an older open transaction holds the feed back"
        assert held_cursor == cursor
    finally:
        release.set()
        slow.join(timeout=60)
    assert errors == []
    settled()

    assert numbers(walk(client, cursor)[0]) == [archive["ls1"].number]
