"""Reminder and zombie scans with the clock moved: every notice exactly once."""

import threading
from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import User
from groups import health, tasks
from groups.models import GroupKind, GroupMessage
from groups.services.groups import group_archive, group_create
from groups.services.messages import reply_post
from notifications.models import Notification
from tests.factories import UserFactory
from tests.groups.conftest import local

ASKED = local(2026, 11, 20, 10, 0)  # due at 10:30; supervisors after 11:30


def keys(prefix: str, user=None) -> list[str]:
    rows = Notification.objects.filter(dedupe_key__startswith=prefix)
    if user is not None:
        rows = rows.filter(recipient=user)
    return sorted(rows.values_list("dedupe_key", flat=True))


def scan_at(moment):
    with time_machine.travel(moment, tick=False):
        return health.inquiry_reminder_scan()


@pytest.fixture
def inquiry(ask):
    with time_machine.travel(ASKED, tick=False):
        return ask()


def test_nothing_is_sent_before_the_deadline(inquiry):
    result = scan_at(ASKED + timedelta(minutes=29))
    assert (result.owner_reminders, result.supervisor_alerts) == (0, 0)
    assert keys("group-message:") == []


def test_the_owner_is_reminded_once_then_the_supervisors_once(inquiry, manager, supervisor):
    assert scan_at(ASKED + timedelta(minutes=31)).owner_reminders == 1
    assert scan_at(ASKED + timedelta(minutes=35)).owner_reminders == 0
    assert keys("group-message:", manager) == [f"group-message:{inquiry.pk}:overdue:{manager.pk}"]
    assert keys("group-message:", supervisor) == []

    # The station has no supervisor: the county's is the nearest one up.
    assert scan_at(ASKED + timedelta(minutes=91)).supervisor_alerts == 1
    assert scan_at(ASKED + timedelta(minutes=120)).supervisor_alerts == 0
    assert keys("group-message:", supervisor) == [f"group-message:{inquiry.pk}:escalated:{supervisor.pk}"]
    for moment in (ASKED + timedelta(hours=3), ASKED + timedelta(days=1)):
        scan_at(moment)
    assert len(keys("group-message:")) == 2


def test_a_station_supervisor_is_nearer_than_the_county_one(inquiry, supervisor, org_tree):
    station_supervisor = UserFactory(org_unit=org_tree["station"], role=User.Role.SUPERVISOR)
    scan_at(ASKED + timedelta(hours=2))
    assert keys("group-message:", station_supervisor) != []
    assert keys("group-message:", supervisor) == []


def test_an_answered_inquiry_is_not_reminded(inquiry, group, manager):
    with time_machine.travel(ASKED + timedelta(minutes=40), tick=False):
        reply_post(group=group, by=manager, text="已处理。", inquiry=inquiry)
    result = scan_at(ASKED + timedelta(hours=3))
    assert (result.owner_reminders, result.supervisor_alerts) == (0, 0)


def test_a_late_first_scan_reminds_and_escalates_in_one_pass(inquiry, manager, supervisor):
    result = scan_at(ASKED + timedelta(hours=5))
    assert (result.owner_reminders, result.supervisor_alerts) == (1, 1)
    inquiry.refresh_from_db()
    assert inquiry.owner_reminded and inquiry.supervisors_alerted


def test_the_task_runs_the_scan(inquiry, manager):
    with time_machine.travel(ASKED + timedelta(minutes=31), tick=False):
        assert tasks.inquiry_reminder_scan()["owner_reminders"] == 1


def test_the_scan_costs_the_same_queries_for_5_and_50_inquiries(ask, supervisor):
    def count_for(n: int) -> int:
        GroupMessage.objects.all().delete()
        Notification.objects.all().delete()
        with time_machine.travel(ASKED, tick=False):
            for _ in range(n):
                ask()
        with (
            time_machine.travel(ASKED + timedelta(hours=3), tick=False),
            CaptureQueriesContext(connection) as ctx,
        ):
            health.inquiry_reminder_scan()
        # The outbox's bulk insert splits by the database's parameter limit (one statement on
        # PostgreSQL, more on SQLite as the outbox row grows columns); everything else is counted.
        return len(
            [q for q in ctx.captured_queries if not q["sql"].startswith('INSERT OR IGNORE INTO "notif')]
        )

    assert count_for(5) == count_for(50)


@pytest.mark.django_db(transaction=True)
def test_two_scans_at_once_remind_nothing_twice(ask, manager, supervisor):
    if connection.vendor != "postgresql":
        pytest.skip("row locks with SKIP LOCKED need PostgreSQL")
    with time_machine.travel(ASKED, tick=False):
        inquiries = [ask() for _ in range(30)]
    errors, barrier = [], threading.Barrier(2)

    def run():
        try:
            barrier.wait()
            with time_machine.travel(ASKED + timedelta(hours=3), tick=False):
                health.inquiry_reminder_scan(batch=7)
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(keys("group-message:", manager)) == len(inquiries)
    assert len(keys("group-message:", supervisor)) == len(inquiries)


# --- zombie groups ---------------------------------------------------------------------------

DAY = local(2026, 11, 20, 9, 0)


def test_zombie_groups_are_told_once_a_day_to_owner_and_supervisor(
    manager, colleague, supervisor, ask, group
):
    with time_machine.travel(DAY - timedelta(days=20), tick=False):
        quiet = group_create(by=manager, name="沉默的VIP群", kind=GroupKind.VIP, rules="x")
        lively = group_create(by=colleague, name="活跃的VIP群", kind=GroupKind.VIP, rules="x")
    with time_machine.travel(DAY - timedelta(days=1), tick=False):
        reply_post(group=lively, by=colleague, text="大家好。")
        reply_post(group=group, by=manager, text="大家好。")
        ask()  # overdue by now
    with time_machine.travel(DAY, tick=False):
        first = tasks.zombie_scan()
        again = health.zombie_scan()
    assert first["zombies"] == 2
    assert again.notifications == 0
    day = "2026-11-20"
    assert keys("group:", manager) == sorted(
        [f"group:{group.pk}:zombie:{day}", f"group:{quiet.pk}:zombie:{day}"]
    )
    assert keys("group:", colleague) == []
    summary = Notification.objects.get(dedupe_key=f"group-zombie-summary:{supervisor.pk}:{day}")
    assert "沉默的VIP群" in summary.body and group.name in summary.body
    assert "活跃的VIP群" not in summary.body

    with time_machine.travel(DAY + timedelta(days=1), tick=False):
        next_day = health.zombie_scan()
    assert next_day.notifications == 3  # still zombies: told again the next day, once


def test_an_archived_group_is_not_a_zombie_anymore(manager):
    with time_machine.travel(DAY - timedelta(days=20), tick=False):
        quiet = group_create(by=manager, name="沉默群", kind=GroupKind.VIP, rules="x")
        group_archive(group=quiet, by=manager)
    with time_machine.travel(DAY, tick=False):
        assert health.zombie_scan().zombies == 0


def test_the_zombie_scan_costs_the_same_queries_for_3_and_30_groups(manager, supervisor):
    def count_for(n: int) -> int:
        from groups.models import ServiceGroup

        GroupMessage.objects.all().delete()
        ServiceGroup.objects.all().delete()
        with time_machine.travel(DAY - timedelta(days=20), tick=False):
            for index in range(n):
                group_create(by=manager, name=f"群{index}", kind=GroupKind.VIP, rules="x")
        with time_machine.travel(DAY, tick=False), CaptureQueriesContext(connection) as ctx:
            health.zombie_scan()
        return len(ctx.captured_queries)

    assert count_for(3) == count_for(30)
