"""Every periodic task records its last start, end and outcome (core/runs.py, PeriodicRun)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from core.models import PeriodicRun
from customers.tasks import validate_import
from notifications.tasks import deliver_due_notifications
from tickets import sla
from tickets.tasks import sla_scan

pytestmark = pytest.mark.django_db


def run_of(task) -> PeriodicRun:
    return PeriodicRun.objects.get(task=task.name)


def test_a_successful_run_records_start_end_and_success():
    before = timezone.now()

    result = sla_scan.apply()

    assert result.successful()
    run = run_of(sla_scan)
    assert run.last_outcome == PeriodicRun.Outcome.SUCCESS
    assert before <= run.last_started_at <= run.last_finished_at
    assert run.last_succeeded_at == run.last_finished_at
    assert run.consecutive_failures == 0
    assert run.last_error == ""


def test_failures_are_counted_in_a_row_and_a_success_resets_them(monkeypatch):
    sla_scan.apply()
    succeeded_at = run_of(sla_scan).last_succeeded_at

    def broken():
        raise ValueError("boom\nsecond line")

    monkeypatch.setattr(sla, "sla_scan", broken)
    sla_scan.apply()
    sla_scan.apply()

    run = run_of(sla_scan)
    assert run.last_outcome == PeriodicRun.Outcome.FAILURE
    assert run.consecutive_failures == 2
    assert run.last_error == "ValueError: boom"
    assert run.last_succeeded_at == succeeded_at, "a failure keeps the last success"
    assert run.last_finished_at > succeeded_at

    monkeypatch.undo()
    sla_scan.apply()
    run = run_of(sla_scan)
    assert (run.last_outcome, run.consecutive_failures, run.last_error) == (
        PeriodicRun.Outcome.SUCCESS,
        0,
        "",
    )


def test_a_run_started_by_a_kick_counts_too():
    deliver_due_notifications.apply()

    assert run_of(deliver_due_notifications).last_outcome == PeriodicRun.Outcome.SUCCESS


def test_tasks_outside_the_beat_schedule_are_not_recorded():
    validate_import.apply(args=[0])

    assert not PeriodicRun.objects.exists()


def test_a_run_that_cannot_be_recorded_still_runs(monkeypatch):
    from django.db import DatabaseError

    def refuse(*args, **kwargs):
        raise DatabaseError("table locked")

    monkeypatch.setattr("core.runs.run_started", refuse)
    monkeypatch.setattr("core.runs.run_finished", refuse)

    assert sla_scan.apply().successful()
    assert not PeriodicRun.objects.exists()


def test_the_row_keeps_when_it_was_first_watched():
    sla_scan.apply()
    first = run_of(sla_scan).created_at
    PeriodicRun.objects.filter(task=sla_scan.name).update(last_started_at=first - timedelta(days=1))

    sla_scan.apply()

    assert run_of(sla_scan).created_at == first
