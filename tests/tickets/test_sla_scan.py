"""The SLA scan with the clock moved: every reminder exactly once."""

import threading
from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.utils import timezone

from accounts.models import User
from notifications.models import DigestEntry, Notification
from tests.factories import UserFactory
from tickets import services, sla
from tickets.models import ReturnVisit, Ticket

T0 = timezone.datetime(2026, 11, 20, 9, 0, tzinfo=timezone.get_current_timezone())


def keys(user=None) -> list[str]:
    qs = Notification.objects.filter(dedupe_key__startswith="ticket:")
    if user:
        qs = qs.filter(recipient=user)
    return sorted(qs.values_list("dedupe_key", flat=True))


def digest_keys(user) -> list[str]:
    """The alerts waiting for the user's next digest (supervisors of orders that are not 特急)."""
    return sorted(DigestEntry.objects.filter(recipient=user).values_list("dedupe_key", flat=True))


@pytest.fixture
def repair(open_ticket):
    """A repair order opened at T0: sign within 10 min (warn at 8), resolve within 240 (warn at 192)."""
    with time_machine.travel(T0, tick=False):
        return open_ticket()


def scan_at(minutes: float) -> sla.ScanResult:
    with time_machine.travel(T0 + timedelta(minutes=minutes), tick=False):
        return sla.sla_scan()


def test_nothing_is_sent_before_the_warning_point(repair):
    result = scan_at(7)
    assert (result.sign_reminders, result.warnings, result.escalations) == (0, 0, 0)


def test_an_unsigned_order_gets_one_sign_reminder(repair, manager):
    assert scan_at(8.5).sign_reminders == 1
    assert scan_at(9).sign_reminders == 0
    assert keys(manager) == [f"ticket:{repair.pk}:r1:sign:{manager.pk}"]


def test_an_order_nobody_holds_reminds_the_nearest_supervisor(open_ticket, supervisor, org_tree):
    with time_machine.travel(T0, tick=False):
        ticket = open_ticket(assignee=None, org_unit=org_tree["station"])
    scan_at(9)
    assert keys(supervisor) == [f"ticket:{ticket.pk}:r1:sign:{supervisor.pk}"]


def test_near_deadline_warns_once_then_overdue_escalates_once_per_level(
    repair, manager, supervisor, org_tree
):
    prefecture_supervisor = UserFactory(org_unit=org_tree["prefecture"], role=User.Role.SUPERVISOR)
    with time_machine.travel(T0 + timedelta(minutes=5), tick=False):
        services.ticket_sign(ticket=repair, by=manager)

    assert scan_at(200).warnings == 1
    assert scan_at(201).warnings == 0

    first = scan_at(241)
    assert first.escalations == 1
    assert scan_at(242).escalations == 0
    repair.refresh_from_db()
    assert repair.escalation_level == 1
    # Level 1: the assignee at once, the county supervisor (the station has none) in their digest.
    assert digest_keys(supervisor) == [f"ticket:{repair.pk}:r1:overdue:1:{supervisor.pk}"]
    assert f"ticket:{repair.pk}:r1:overdue:1:{manager.pk}" in keys(manager)
    assert keys(supervisor) == digest_keys(prefecture_supervisor) == []

    # Another half of the resolve time later: level 2, one unit up.
    assert scan_at(241 + 120).escalations == 1
    assert digest_keys(prefecture_supervisor) == [
        f"ticket:{repair.pk}:r1:overdue:2:{prefecture_supervisor.pk}"
    ]
    assert scan_at(241 + 121).escalations == 0
    repair.refresh_from_db()
    assert repair.escalation_level == 2
    assert repair.events.filter(action="escalated").count() == 2


def test_a_late_scan_jumps_to_the_level_the_time_calls_for(repair, manager, supervisor):
    # Unsigned: the sign clock's levels at 10 and 130; its resolve deadline (240)
    # passed too, so the resolve clock took over at level 2 (next at 360).
    result = scan_at(300)
    assert result.escalations == 1
    repair.refresh_from_db()
    assert repair.escalation_level == 2
    assert repair.next_escalation_at == T0 + timedelta(minutes=360)
    # Told once, at the level reached, by the clock that is late now; no stale sign reminder.
    assert keys(manager) == [f"ticket:{repair.pk}:r1:overdue:2:{manager.pk}"]
    assert scan_at(301).escalations == 0


def test_repeated_scans_send_each_reminder_exactly_once(repair, manager, supervisor):
    for minute in (8.5, 9, 11, 12, 200, 201, 241, 242, 243):
        scan_at(minute)
    before = keys()
    for minute in (244, 245):
        scan_at(minute)
    assert keys() == before
    assert len([k for k in before if ":sign:" in k]) == 1
    # The sign clock's levels 1 (at 11) and 2 (at 200), then the resolve deadline at level 2.
    assert [k.split(":")[3:5] for k in keys(manager) if "overdue" in k] == [
        ["overdue", "2"],
        ["sign-overdue", "1"],
        ["sign-overdue", "2"],
    ]


def test_a_resolved_order_is_left_alone(repair, manager):
    with time_machine.travel(T0 + timedelta(minutes=5), tick=False):
        services.ticket_sign(ticket=repair, by=manager)
        services.ticket_resolve(ticket=repair, by=manager, resolution="已复电")
    result = scan_at(500)
    assert (result.warnings, result.escalations) == (0, 0)


def test_the_scan_issues_the_same_number_of_queries_for_5_and_50_orders(
    open_ticket, django_assert_max_num_queries
):
    def count_for(n: int) -> int:
        Ticket.objects.all().delete()
        with time_machine.travel(T0, tick=False):
            for _ in range(n):
                open_ticket()
        with time_machine.travel(T0 + timedelta(minutes=300), tick=False):
            from django.test.utils import CaptureQueriesContext

            with CaptureQueriesContext(connection) as ctx:
                sla.sla_scan()
        # The outbox's bulk insert splits by the database's parameter limit (one statement on
        # PostgreSQL, more on SQLite as the outbox row grows columns); everything else is counted.
        return len(
            [q for q in ctx.captured_queries if not q["sql"].startswith('INSERT OR IGNORE INTO "notif')]
        )

    assert count_for(5) == count_for(50)


@pytest.mark.django_db(transaction=True)
def test_two_scans_at_once_send_nothing_twice(open_ticket, manager, supervisor):
    if connection.vendor != "postgresql":
        pytest.skip("row locks with SKIP LOCKED need PostgreSQL")
    with time_machine.travel(T0, tick=False):
        tickets = [open_ticket() for _ in range(30)]
    errors = []
    barrier = threading.Barrier(2)

    def run():
        try:
            barrier.wait()
            with time_machine.travel(T0 + timedelta(minutes=300), tick=False):
                sla.sla_scan(batch=7)
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    # Unsigned since T0, first seen at 300: the sign clock's level 2, the resolve clock's alert.
    assert set(Ticket.objects.values_list("escalation_level", flat=True)) == {2}
    # Per order: one overdue alert to the assignee, one line in the supervisor's digest.
    assert Notification.objects.filter(dedupe_key__contains=":overdue:").count() == len(tickets)
    assert DigestEntry.objects.filter(dedupe_key__contains=":overdue:").count() == len(tickets)
    for ticket in tickets:
        assert ticket.events.filter(action="escalated").count() == 1


def test_return_visits_due_today_and_missed_are_told_once(open_ticket, manager, supervisor):
    with time_machine.travel(T0, tick=False):
        ticket = open_ticket()
        services.ticket_sign(ticket=ticket, by=manager)
        services.ticket_resolve(ticket=ticket, by=manager, resolution="已复电")
    visit = ReturnVisit.objects.get(ticket=ticket)
    with time_machine.travel(T0 + timedelta(hours=1), tick=False):
        assert sla.return_visit_scan() == {"due": 0, "missed": 0, "notifications": 0}
    with time_machine.travel(visit.due_at - timedelta(hours=2), tick=False):
        assert sla.return_visit_scan()["due"] == 1
        assert sla.return_visit_scan()["due"] == 0
    with time_machine.travel(visit.due_at + timedelta(minutes=1), tick=False):
        assert sla.return_visit_scan()["missed"] == 1
        assert sla.return_visit_scan()["missed"] == 0
    assert len([k for k in keys(manager) if "return-visit:" in k]) == 1
    assert len([k for k in keys(supervisor) if "return-visit-missed" in k]) == 1
