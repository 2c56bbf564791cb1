"""Drill: a Celery worker SIGKILLed at random points of an SLA scan, an outage fan-out and delivery.

The worker is killed with no warning (no acks, no cleanup, an open
transaction cut off), restarted, killed again, until the work is done. The
test stands in for beat: whenever the queue is empty it sends the periodic
tasks again, because after a kill nothing else would (an unacked message
comes back only after the broker's visibility timeout, an hour). Leases are
shortened so the restarted worker re-claims what the dead one held.

Then every reminder and notice exists once (unique dedupe_key), every row is
SENT, and each SMS reached the gateway (a local HTTP server) once, except for
at most one per kill: a kill between the gateway's answer and the UPDATE that
marks the row leaves it to be sent again when its lease runs out. That window
is inherent to sending over HTTP without an idempotency key the gateway
honours; the drill measures how often it is hit.
"""

import random
import time
from collections import Counter
from datetime import timedelta

import pytest
from django.utils import timezone

from notifications.models import Notification
from notifications.tasks import deliver_due_notifications
from outages import services as outage_services
from outages.models import OutageKind, OutageNotice
from outages.tasks import fan_out_notices
from tests.celery_worker import send
from tests.drills.support import (
    REDIS_URL,
    Stopwatch,
    dismiss,
    drill_worker,
    due_orders,
    expected_reminders,
    queue_length,
    worker_drill,
)
from tickets.tasks import sla_scan

pytestmark = worker_drill

# Leases short enough that a dead worker's claim runs out within seconds. The
# outbox stops sending OUTBOUND_HTTP_TIMEOUT + 5 s before its lease ends.
WORKER_SETTINGS = {
    "NOTIFICATIONS_LEASE_SECONDS": "7",
    "OUTBOUND_HTTP_TIMEOUT": "1",
    "NOTIFICATIONS_BATCH_SIZE": "50",
    "OUTAGE_NOTICE_LEASE_SECONDS": "2",
}


def run_drill(
    *,
    kills,
    orders,
    customers,
    manager,
    supervisor,
    grid,
    populate,
    http_endpoint,
    drill_dir,
    between=(0.2, 2.5),
):
    """`between`: the range of seconds a started worker works before it is killed."""
    affected = populate(grid["d1"], customers, sensitive=customers)
    ticket_ids = due_orders(count=orders, customer=affected[0], manager=manager, unit=manager.org_unit)
    outage = outage_services.outage_create(
        by=manager,
        kind=OutageKind.FAULT,
        reason="变压器故障",
        districts=[grid["d1"]],
        estimated_restoration=timezone.now() + timedelta(hours=3),
    )
    outage_services.outage_publish(outage=outage, by=manager)
    notice = OutageNotice.objects.get(outage=outage)
    reminder_keys = expected_reminders(ticket_ids, manager, supervisor)
    notice_keys = {f"{notice.dedupe_prefix}customer:{c.pk}" for c in affected}
    expected = reminder_keys | notice_keys

    def sms_rows():
        return Notification.objects.filter(channel=Notification.Channel.SMS)

    def finished() -> bool:
        return (
            Notification.objects.count() == len(expected)
            and not Notification.objects.exclude(status=Notification.Status.SENT).exists()
            and OutageNotice.objects.filter(pk=notice.pk, fanned_out_at__isnull=False).exists()
        )

    queue, worker = drill_worker(
        "drill-kill", log_dir=drill_dir, env={**WORKER_SETTINGS, "SMS_GATEWAY_URL": http_endpoint.url("/sms")}
    )
    rng = random.Random()
    killed_at: list[dict] = []
    clock = Stopwatch()

    def work_until(deadline: float | None) -> bool:
        """Keep the worker fed until `deadline` (None: until done); True once all is done."""
        while deadline is None or time.monotonic() < deadline:
            if finished():
                return True
            if queue_length(REDIS_URL, queue) == 0:
                # What beat would send every few seconds.
                for task in (sla_scan, fan_out_notices, deliver_due_notifications):
                    send(task, queue)
            time.sleep(0.05)
            assert clock() < 600, f"not done after 10 minutes:\n{worker.log()[-5000:]}"
        return False

    try:
        while True:
            worker.start()
            if len(killed_at) == kills:
                work_until(None)
                break
            if work_until(time.monotonic() + rng.uniform(*between)):
                break
            worker.kill()
            killed_at.append(
                {
                    "rows": Notification.objects.count(),
                    "sent": Notification.objects.filter(status=Notification.Status.SENT).count(),
                }
            )
    finally:
        dismiss(worker, queue)
    elapsed = clock()

    assert len(killed_at) == kills, "the work ended before every kill: make it bigger"
    keys = list(Notification.objects.values_list("dedupe_key", flat=True))
    assert len(keys) == len(set(keys)) and set(keys) == expected, "each reminder and notice once"
    assert set(Notification.objects.values_list("status", flat=True)) == {Notification.Status.SENT}
    notice.refresh_from_db()
    assert notice.personal_count == customers

    posts = http_endpoint.requests
    sent = set(sms_rows().values_list("dedupe_key", "address"))
    assert {(r["json"]["out_id"], r["json"]["mobile"]) for r in posts} == sent, (
        "every SMS reached the gateway, nothing else did"
    )
    assert all(r["headers"].get("Idempotency-Key") == r["json"]["out_id"] for r in posts)
    # What the gateway delivers: one SMS per out_id, however often it is posted.
    received = Counter(r["json"]["out_id"] for r in posts)
    assert len(received) == len(sent), "each SMS delivered once"
    duplicates = sum(n - 1 for n in received.values())
    # A kill can cut off at most the one send in flight between the gateway's
    # answer and the UPDATE that marks the row (the worker sends one at a time);
    # its repeat carries the same out_id, which the gateway absorbs.
    assert duplicates <= kills, received.most_common(3)
    return {
        "kills": kills,
        "restarts": len(worker.pids) - 1,
        "reminders": len(reminder_keys),
        "notices": len(notice_keys),
        "sms_posts": len(http_endpoint.requests),
        "sms_delivered": len(received),
        "repeated_posts_absorbed_by_out_id": duplicates,
        "kills_before_all_rows_written": sum(k["rows"] < len(expected) for k in killed_at),
        "kills_during_delivery": sum(0 < k["sent"] < len(expected) for k in killed_at),
        "seconds": round(elapsed, 1),
    }


@pytest.fixture
def drill(transactional_db, manager, supervisor, grid, populate, http_endpoint, drill_dir, capsys):
    """drill(kills=, orders=, customers=[, between=]) runs the drill and prints its figures."""

    def _run(**size) -> dict:
        result = run_drill(
            manager=manager,
            supervisor=supervisor,
            grid=grid,
            populate=populate,
            http_endpoint=http_endpoint,
            drill_dir=drill_dir,
            **size,
        )
        with capsys.disabled():
            print(f"\nworker SIGKILL drill: {result}")
        return result

    return _run


def test_a_killed_worker_leaves_every_reminder_and_notice_once(drill):
    # Kills come within a second of each start, well before 1,000 orders and
    # customers are done with (a slow start must not finish the work first).
    drill(kills=2, orders=1000, customers=1000, between=(0.2, 1.0))


@pytest.mark.slow_drill
def test_twenty_kills_over_thousands_of_orders_and_customers(drill):
    drill(kills=20, orders=10000, customers=10000)
