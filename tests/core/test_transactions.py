import pytest
from django.db import connection, transaction

from core.transactions import on_commit_once

pytestmark = pytest.mark.django_db


def kick():
    calls.append("kick")


def other():
    calls.append("other")


calls: list[str] = []


@pytest.fixture(autouse=True)
def _reset():
    calls.clear()


def test_one_transaction_runs_a_kick_once_however_often_it_was_asked(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks, transaction.atomic():
        for _ in range(100):
            on_commit_once(kick)
        on_commit_once(other)
        with transaction.atomic():
            on_commit_once(kick)
    assert len(callbacks) == 2
    assert calls == ["kick", "other"]


def test_a_kick_asked_in_a_savepoint_that_rolls_back_is_asked_again_outside_it():
    with transaction.atomic():
        start = len(connection.run_on_commit)
        try:
            with transaction.atomic():
                on_commit_once(kick)
                raise RuntimeError("the savepoint rolls back")
        except RuntimeError:
            pass
        # The kick of the rolled-back savepoint is gone; the outer one still needs its own.
        assert len(connection.run_on_commit) == start
        on_commit_once(kick)
        assert [func for _sids, func, _robust in connection.run_on_commit[start:]] == [kick]


def test_a_kick_of_a_released_savepoint_stands_for_the_enclosing_block():
    """Every service is atomic: kicks asked by one service after another collapse into one."""
    with transaction.atomic():
        start = len(connection.run_on_commit)
        for _ in range(3):
            with transaction.atomic():
                on_commit_once(kick)
        on_commit_once(kick)
        assert len(connection.run_on_commit) - start == 1


def test_when_the_outer_block_rolls_back_no_kick_is_left(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        try:
            with transaction.atomic():
                with transaction.atomic():
                    on_commit_once(kick)
                raise RuntimeError("rolled back")
        except RuntimeError:
            pass
    assert callbacks == []
    assert calls == []


def test_outside_a_transaction_it_runs_at_once(transactional_db):
    on_commit_once(kick)
    on_commit_once(kick)
    assert calls == ["kick", "kick"]
