"""A real `celery worker` process runs the SLA scan and delivers what it decides, once."""

from datetime import timedelta

import time_machine
from django.utils import timezone

from notifications.models import DigestEntry, Notification
from notifications.tasks import deliver_due_notifications
from tests.celery_worker import WORKER_MARKS, running_worker, send, task_finished, unique_queue, wait_for
from tickets.models import Status, Ticket, TicketEvent
from tickets.tasks import sla_scan

pytestmark = WORKER_MARKS

TIMEOUT = 60


def ticket_notifications(ticket: Ticket):
    """What the SLA scan decides (the customer's acceptance SMS, written at creation, aside)."""
    return Notification.objects.filter(dedupe_key__startswith=f"ticket:{ticket.pk}:").exclude(
        dedupe_key__startswith=f"ticket:{ticket.pk}:accepted:"
    )


def test_a_worker_reminds_and_escalates_an_unsigned_overdue_order_once(
    transactional_db, open_ticket, manager, supervisor
):
    opened_at = timezone.now() - timedelta(hours=1)
    with time_machine.travel(opened_at):
        ticket = open_ticket()
    # Pinned rather than taken from whichever SLA policy the table holds:
    # signing was due 40 minutes ago, resolving is still hours away.
    Ticket.objects.filter(pk=ticket.pk).update(
        sign_warn_at=opened_at + timedelta(minutes=10),
        sign_due_at=opened_at + timedelta(minutes=20),
        resolve_warn_at=opened_at + timedelta(hours=4),
        resolve_due_at=opened_at + timedelta(hours=5),
        next_escalation_at=opened_at + timedelta(minutes=20),
        escalation_step=timedelta(hours=2),
    )
    assert ticket.status == Status.DISPATCHED and ticket.assignee == manager
    assert not ticket_notifications(ticket).exists()

    queue = unique_queue("test-tickets")
    with running_worker(queue) as log_path:

        def worker_log() -> str:
            return log_path.read_text(errors="replace")

        first_scan = send(sla_scan, queue)
        assert wait_for(lambda: task_finished(log_path, first_scan), timeout=TIMEOUT), worker_log()
        assert f"[{first_scan}] succeeded" in worker_log(), worker_log()
        # Signing was due 40 minutes ago: the sign clock's overdue alert, no late reminder;
        # the supervisor's line waits for their digest.
        expected = {
            (
                f"ticket:{ticket.pk}:r1:sign-overdue:1:{manager.pk}",
                manager.pk,
                f"工单签收超时（1级）：{ticket.number}",
            ),
        }
        assert (
            set(ticket_notifications(ticket).values_list("dedupe_key", "recipient_id", "subject")) == expected
        )
        assert list(DigestEntry.objects.values_list("dedupe_key", "recipient_id")) == [
            (f"ticket:{ticket.pk}:r1:sign-overdue:1:{supervisor.pk}", supervisor.pk)
        ]

        # The worker's own kick goes to the default queue, which this worker
        # does not consume: delivery is asked for on the test's queue.
        delivery = send(deliver_due_notifications, queue)
        delivered = wait_for(
            lambda: (
                set(ticket_notifications(ticket).values_list("status", flat=True))
                == {Notification.Status.SENT}
            ),
            timeout=TIMEOUT,
        )
        assert delivered, (
            f"{list(ticket_notifications(ticket).values_list('dedupe_key', 'status', 'last_error'))}\n"
            f"{worker_log()}"
        )
        assert wait_for(lambda: task_finished(log_path, delivery), timeout=TIMEOUT), worker_log()
        assert not ticket_notifications(ticket).filter(sent_at__isnull=True).exists()

        ticket.refresh_from_db()
        assert (ticket.sign_reminded, ticket.escalation_level) == (True, 1)
        assert ticket.next_escalation_at == opened_at + timedelta(hours=2, minutes=20)
        rows_before = sorted(Notification.objects.values_list("id", "status"))
        events_before = ticket.events.count()

        second_scan = send(sla_scan, queue)
        assert wait_for(lambda: task_finished(log_path, second_scan), timeout=TIMEOUT), worker_log()
        assert f"[{second_scan}] succeeded" in worker_log(), worker_log()

    assert sorted(Notification.objects.values_list("id", "status")) == rows_before
    ticket.refresh_from_db()
    assert (ticket.sign_reminded, ticket.escalation_level) == (True, 1)
    assert ticket.events.count() == events_before
    assert ticket.events.filter(action=TicketEvent.Action.ESCALATED).count() == 1
