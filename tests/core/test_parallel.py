"""Units of database work on several connections at once (core.parallel), and where not."""

import threading
import time

import pytest
from django.db import connection, connections, transaction
from django.utils import translation

from core.parallel import can_run_in_parallel, in_parallel

postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="threads write on PostgreSQL only"
)


def backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def open_connections() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT COUNT(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0]


def test_inside_a_transaction_every_item_runs_here_in_order_and_a_false_stops(db):
    seen = []

    def work(item):
        seen.append((item, threading.get_ident()))
        return item != 3

    assert connection.in_atomic_block and not can_run_in_parallel()
    assert in_parallel(range(6), work, threads=4) is False
    assert seen == [(item, threading.get_ident()) for item in range(4)]
    assert in_parallel([], work, threads=4) is True


def test_one_thread_or_one_item_runs_here(transactional_db):
    seen = []
    assert in_parallel([1, 2], lambda item: seen.append(threading.get_ident()) or True, threads=1)
    assert in_parallel([1], lambda item: seen.append(threading.get_ident()) or True, threads=4)
    assert set(seen) == {threading.get_ident()}


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_items_run_once_each_on_connections_of_their_own():
    assert can_run_in_parallel()
    here = backend_pid()
    before = open_connections()
    done, pids, languages = [], set(), set()
    both_in = threading.Barrier(2, timeout=10)

    def work(item):
        if item < 2:
            both_in.wait()  # the first two run at the same time, on two threads
        done.append(item)
        pids.add(backend_pid())
        languages.add(translation.get_language())
        return True

    with translation.override("en"):
        assert in_parallel(range(8), work, threads=2) is True
    assert sorted(done) == list(range(8))
    assert len(pids) == 2 and here not in pids
    assert languages == {"en"}
    # Each thread closed its connection (a server process ends a moment after its client left).
    deadline = time.monotonic() + 10
    while open_connections() != before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert open_connections() == before


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_a_false_stops_the_items_not_yet_started():
    started = []

    def work(item):
        started.append(item)
        return item != 0

    assert in_parallel(range(50), work, threads=2) is False
    # Item 0 says stop; only what the other thread had already taken may still run.
    assert len(started) < 50


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_an_error_stops_the_rest_and_is_raised_here_after_every_thread_ended():
    started = []
    ended = threading.Event()

    def work(item):
        started.append(item)
        if item == 1:
            raise ValueError("batch 1 failed")
        if item == 0:
            ended.wait(0.2)
            ended.set()
        return True

    with pytest.raises(ValueError, match="batch 1 failed"):
        in_parallel(range(50), work, threads=2)
    assert ended.is_set()  # the thread still running item 0 ended before the error came back
    assert len(started) < 50
    assert all(thread.name.startswith("in-parallel") is False for thread in threading.enumerate())


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_each_item_may_commit_on_its_own(django_user_model):
    def work(number):
        with transaction.atomic():
            django_user_model.objects.create(username=f"parallel-{number}")
        return True

    assert in_parallel(range(6), work, threads=3)
    assert django_user_model.objects.filter(username__startswith="parallel-").count() == 6
    assert not connections["default"].in_atomic_block
