"""A rename of a station, district, line or manager never strands old text in the sync feed.

The feed's rows are rendered by triggers in the writing transaction. A
customer written into a unit while another transaction renames the unit
must end with the new name, whichever commits first: the rename's trigger
waits for open customer writes and keeps new ones out until it commits
(customers.sync_triggers._touch_function). Two real connections, in a fixed
order and in random interleavings.
"""

import json
import random
import threading
import time

import pytest
from django.db import OperationalError, connection, transaction

from accounts.models import OrgUnit, User
from customers.api.sync import SyncCursor, sync_page, sync_page_json
from customers.models import Customer, District, Line
from tests.api.conftest import detail, postgres_only, walk
from tests.factories import CustomerFactory

pytestmark = [pytest.mark.django_db(transaction=True), postgres_only]


class Session(threading.Thread):
    """`work()` on its own connection, in one transaction held open until `release` is set
    (or in autocommit when `hold` is False)."""

    def __init__(self, work, *, hold: bool = True):
        super().__init__(daemon=True)
        self.work, self.hold = work, hold
        self.written, self.release, self.done = threading.Event(), threading.Event(), threading.Event()
        self.errors: list[Exception] = []
        self.pid: int | None = None

    def run(self) -> None:
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                self.pid = cursor.fetchone()[0]
            if self.hold:
                with transaction.atomic():
                    self.work()
                    self.written.set()
                    assert self.release.wait(timeout=60), "never released"
            else:
                self.written.set()
                self.work()
        except Exception as exc:  # reported by the test
            self.errors.append(exc)
        finally:
            self.written.set()
            self.done.set()
            connection.close()


def waiting_for_a_lock(session: Session, timeout: float = 10) -> bool:
    """True once the session's backend waits for a lock (False if it finished first)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not session.done.is_set():
        with connection.cursor() as cursor:
            cursor.execute("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", [session.pid])
            row = cursor.fetchone()
        if row and row[0] == "Lock":
            return True
        time.sleep(0.02)
    return False


def assert_rendered_rows_are_current(admin_user) -> None:
    """Every rendered row equals the row built now from the tables (what the detail endpoint shows)."""
    rendered = json.loads(sync_page_json(user=admin_user, cursor=SyncCursor(), limit=1000))
    built = sync_page(user=admin_user, cursor=SyncCursor(), limit=1000)
    assert rendered["results"] == built["results"]


@pytest.fixture
def station(org_tree) -> OrgUnit:
    return org_tree["station"]


def rename_station(station: OrgUnit, name: str):
    return lambda: OrgUnit.objects.filter(pk=station.pk).update(name=name)


def test_a_customer_written_before_a_rename_commits_is_touched_by_it(api, admin_user, station, settled):
    """The writer opens first and commits while the rename waits for it."""
    writer = Session(lambda: CustomerFactory(number="5201770001", station=station))
    writer.start()
    assert writer.written.wait(timeout=30) and not writer.errors
    rename = Session(rename_station(station, "雷山新供电所"), hold=False)
    rename.start()
    try:
        assert waiting_for_a_lock(rename), "the rename waits for the open customer write"
    finally:
        writer.release.set()
        writer.join(timeout=60)
        rename.join(timeout=60)
    assert writer.errors == rename.errors == []
    settled()

    assert_rendered_rows_are_current(admin_user)
    row = next(row for row in walk(api(admin_user))[0] if row["number"] == "5201770001")
    assert row["station"]["name"] == "雷山新供电所"
    assert row == {**api(admin_user).get(detail("5201770001")).json(), "deleted": False}


def test_a_customer_moved_in_while_a_rename_is_open_waits_for_it(api, admin_user, station, org_tree, settled):
    """The rename opens first; the move waits for its commit and renders the new name."""
    moved = CustomerFactory(number="5201770002", station=org_tree["sibling_station"])
    rename = Session(rename_station(station, "雷山新供电所"))
    rename.start()
    assert rename.written.wait(timeout=30) and not rename.errors
    writer = Session(lambda: Customer.objects.filter(pk=moved.pk).update(station=station), hold=False)
    writer.start()
    try:
        assert waiting_for_a_lock(writer), "the move waits for the open rename"
    finally:
        rename.release.set()
        rename.join(timeout=60)
        writer.join(timeout=60)
    assert writer.errors == rename.errors == []
    settled()

    assert_rendered_rows_are_current(admin_user)
    shown = api(admin_user).get(detail("5201770002")).json()
    assert shown["station"]["name"] == "雷山新供电所"
    row = next(row for row in walk(api(admin_user))[0] if row["number"] == "5201770002")
    assert row == {**shown, "deleted": False}


def test_random_interleavings_of_renames_and_writes_leave_every_row_current(
    admin_user, org_tree, grid, colleague, settled, capsys
):
    stations = [org_tree["station"], org_tree["sibling_station"]]
    districts = [grid["district"], grid["other_district"]]
    lines = [grid["line"], grid["other_line"]]
    seeded = [CustomerFactory(number=f"52017800{n:02d}", station=stations[n % 2]) for n in range(20)]
    rng = random.Random()
    seed = rng.randrange(10**6)
    rng.seed(seed)
    counter = iter(range(10**6))

    def renames(r: random.Random) -> None:
        n = next(counter)
        kind = r.choice(["station", "district", "line", "manager"])
        if kind == "station":
            OrgUnit.objects.filter(pk=r.choice(stations).pk).update(name=f"供电所{n}")
        elif kind == "district":
            District.objects.filter(pk=r.choice(districts).pk).update(name=f"台区{n}")
        elif kind == "line":
            Line.objects.filter(pk=r.choice(lines).pk).update(code=f"XL-{n}")
        else:
            User.objects.filter(pk=colleague.pk).update(real_name=f"经理{n}")

    def writes(r: random.Random) -> None:
        n = next(counter)
        if r.random() < 0.5:
            CustomerFactory(
                number=f"5201790{n:03d}",
                station=stations[0],
                district=r.choice(districts),
                line=r.choice(lines),
                manager=colleague,
            )
        else:
            Customer.objects.filter(pk=r.choice(seeded).pk).update(
                station=r.choice(stations),
                district=r.choice(districts),
                line=r.choice(lines),
                manager=colleague,
            )

    deadlocks: list[int] = []

    def session(kind, rounds: int, thread_seed: int) -> Session:
        r = random.Random(thread_seed)

        def work():
            for _ in range(rounds):
                try:
                    with transaction.atomic():
                        kind(r)
                        time.sleep(r.uniform(0, 0.05))  # held open a little, so transactions overlap
                except OperationalError as exc:
                    # A new code (a key column) locks the unit against the customers' foreign-key
                    # checks: a writer that holds customers and waits for it, while the rename
                    # waits for the writer, is a deadlock PostgreSQL breaks (one fails whole).
                    if "deadlock" not in str(exc):
                        raise
                    deadlocks.append(str(exc).splitlines()[1:3])
                time.sleep(r.uniform(0, 0.02))

        return Session(work, hold=False)

    sessions = [session(renames, 10, rng.randrange(10**6)) for _ in range(2)]
    sessions += [session(writes, 15, rng.randrange(10**6)) for _ in range(3)]
    for each in sessions:
        each.start()
    for each in sessions:
        each.join(timeout=120)
    assert [each.errors for each in sessions] == [[]] * len(sessions), f"seed {seed}"
    settled()

    assert_rendered_rows_are_current(admin_user)
    with capsys.disabled():
        print(f"\nrename interleavings: seed {seed}, {len(deadlocks)} deadlocks", deadlocks[:4])


def test_a_new_username_waits_for_open_customer_writes_instead_of_deadlocking(org_tree, manager):
    """A writer holds a customer, then (in the same transaction) checks the manager as a foreign
    key while the manager's username changes: the rename waits for the customers' lock before
    locking the user's row, so the writer goes on and both commit (it deadlocked before)."""
    station = org_tree["station"]
    first = CustomerFactory(number="5201770011", station=station)
    second = CustomerFactory(number="5201770012", station=station)
    go_on = threading.Event()

    def writer_work():
        Customer.objects.filter(pk=first.pk).update(name="先写的客户")
        writer.written.set()
        assert go_on.wait(timeout=30)
        Customer.objects.filter(pk=second.pk).update(manager=manager)

    writer = Session(writer_work, hold=False)
    writer.run = lambda: _in_one_transaction(writer)
    writer.start()
    assert writer.written.wait(timeout=30) and not writer.errors
    rename = Session(lambda: User.objects.filter(pk=manager.pk).update(username="renamed"), hold=False)
    rename.start()
    try:
        assert waiting_for_a_lock(rename), "the rename waits for the open customer write"
        go_on.set()
        writer.join(timeout=60)
        rename.join(timeout=60)
    finally:
        go_on.set()
    assert writer.errors == rename.errors == []
    assert User.objects.get(pk=manager.pk).username == "renamed"
    assert Customer.objects.get(pk=second.pk).manager_id == manager.pk


def _in_one_transaction(session: Session) -> None:
    """Run the session's work in one transaction on its own connection (its pid known)."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            session.pid = cursor.fetchone()[0]
        with transaction.atomic():
            session.work()
    except Exception as exc:  # reported by the test
        session.errors.append(exc)
    finally:
        session.written.set()
        session.done.set()
        connection.close()


def test_a_login_does_not_wait_for_customer_writes(org_tree, manager):
    from django.contrib.auth.models import update_last_login

    writer = Session(lambda: CustomerFactory(number="5201770013", station=org_tree["station"]))
    writer.start()
    assert writer.written.wait(timeout=30) and not writer.errors
    login = Session(lambda: update_last_login(None, User.objects.get(pk=manager.pk)), hold=False)
    login.start()
    try:
        login.join(timeout=10)
        assert login.done.is_set() and login.errors == [], "a login is not held by customer writes"
    finally:
        writer.release.set()
        writer.join(timeout=60)
