"""Drill: PostgreSQL "restarts" under a working Celery worker.

The machine's PostgreSQL is shared, so it is not restarted. What a restart
does to its clients is done instead: every backend connection of the drill's
database is terminated (pg_terminate_backend), again and again, while a real
worker runs SLA scans and outbox deliveries. The worker must carry on
without a restart (CONN_HEALTH_CHECKS drops a dead connection before a task
uses it) and no task may be lost: one cut off mid-query retries.
"""

import re
import threading
import time

from django.db import connection, connections

from notifications.models import DigestEntry, Notification
from notifications.tasks import deliver_due_notifications
from tests.celery_worker import send, wait_for
from tests.drills.support import (
    REDIS_URL,
    Stopwatch,
    dismiss,
    drill_worker,
    due_orders,
    expected_digest_lines,
    expected_reminders,
    queue_length,
    worker_drill,
)
from tests.factories import CustomerFactory
from tickets.tasks import sla_scan

pytestmark = worker_drill

LEASE_SECONDS = 7
RESTARTS = 3
# Seconds between two rounds of terminations: longer than one SLA scan of the drill's orders
# on a slow 2-core machine. Cut off at every try, no run could finish: that is a database
# that stays down, not one that restarts.
TERMINATE_EVERY = 2.0
TERMINATE_OTHERS = """
    SELECT count(*) FILTER (WHERE pg_terminate_backend(pid))
    FROM pg_stat_activity
    WHERE datname = current_database() AND pid <> pg_backend_pid() AND pid <> ALL(%s)
"""


def backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


class Terminator(threading.Thread):
    """Terminates every other connection of the database every `interval` seconds.

    The test's own connection is spared: it observes from outside."""

    def __init__(self, *, spare: list[int], interval: float):
        super().__init__(daemon=True)
        self.spare, self.interval = spare, interval
        self.halt = threading.Event()
        self.rounds = self.terminated = 0

    def run(self) -> None:
        try:
            while not self.halt.wait(self.interval):
                with connections["default"].cursor() as cursor:
                    cursor.execute(TERMINATE_OTHERS, [self.spare])
                    self.terminated += cursor.fetchone()[0]
                self.rounds += 1
        finally:
            connections["default"].close()


def outcome(log: str, task_id: str) -> str | None:
    found = re.findall(rf"\[{re.escape(task_id)}\] (succeeded|raised|failed|retry)", log, flags=re.I)
    return found[-1].lower() if found else None


def test_the_worker_rides_out_dropped_database_connections(
    transactional_db, manager, supervisor, org_tree, drill_dir, capsys
):
    customer = CustomerFactory(station=org_tree["station"], manager=manager)
    ticket_ids = due_orders(count=600, customer=customer, manager=manager, unit=manager.org_unit)
    expected = expected_reminders(ticket_ids, manager, supervisor)
    queue, worker = drill_worker(
        "drill-pg",
        log_dir=drill_dir,
        env={"NOTIFICATIONS_LEASE_SECONDS": str(LEASE_SECONDS), "OUTBOUND_HTTP_TIMEOUT": "1"},
    )
    terminator = Terminator(spare=[backend_pid()], interval=TERMINATE_EVERY)
    task_ids: list[str] = []
    try:
        worker.start()
        pid = worker.pid
        terminator.start()
        # Tasks keep coming until the worker has lost its connection a few times.
        sending = Stopwatch()
        while len(task_ids) < 12 or (terminator.terminated < RESTARTS and sending() < 90):
            if queue_length(REDIS_URL, queue) == 0:
                task_ids += [send(sla_scan, queue), send(deliver_due_notifications, queue)]
            time.sleep(0.2)
        all_done = wait_for(
            lambda: all(outcome(worker.log(), t) in ("succeeded", "raised", "failed") for t in task_ids),
            timeout=120,
        )
        terminator.halt.set()
        terminator.join(timeout=10)
        assert all_done, worker.log()[-5000:]
        # A run cut off between claiming rows and marking them leaves them to
        # its lease (shortened here): beat's next sweeps deliver them after it.
        stranded = Notification.objects.exclude(status=Notification.Status.SENT).count()
        swept = Stopwatch()

        def sweep() -> bool:
            last = send(deliver_due_notifications, queue)
            finished = wait_for(lambda: outcome(worker.log(), last) == "succeeded", timeout=60)
            assert finished, worker.log()[-3000:]
            return not Notification.objects.exclude(status=Notification.Status.SENT).exists()

        assert wait_for(sweep, timeout=LEASE_SECONDS * 3, interval=1)
        sweep_seconds = swept()
        assert worker.alive() and worker.pid == pid, "the worker carried on without a restart"
        log = worker.log()
    finally:
        terminator.halt.set()
        dismiss(worker, queue)

    outcomes = {t: outcome(log, t) for t in task_ids}
    assert terminator.terminated >= RESTARTS
    # The tasks that did not succeed, each with the lines its end wrote (a traceback).
    assert set(outcomes.values()) == {"succeeded"}, [
        log[log.index(f"[{t}] {state}") :][:1500] for t, state in outcomes.items() if state != "succeeded"
    ]
    assert set(Notification.objects.values_list("dedupe_key", flat=True)) == expected
    assert set(DigestEntry.objects.values_list("dedupe_key", flat=True)) == expected_digest_lines(
        ticket_ids, supervisor
    )
    assert set(Notification.objects.values_list("status", flat=True)) == {Notification.Status.SENT}
    with capsys.disabled():
        print(
            "\nPostgreSQL connection drill: "
            f"{terminator.rounds} rounds, {terminator.terminated} connections terminated, "
            f"{len(task_ids)} tasks, retries {log.count(' retry: Retry in ')}, worker restarts 0, "
            f"{stranded} rows left claimed by a cut-off run, all sent {sweep_seconds:.1f} s later"
        )
