"""Drill: reminders keep their time while a 100,000-row archive import is being validated.

Real processes as deployed: beat, a worker on the realtime queue and one on
the bulk queue, all on REDIS_URL, the tasks routed by name
(CELERY_TASK_ROUTES). A 100,000-row .xlsx archive file is sent for
validation (it goes to the bulk queue); while it is being validated, work
orders whose signing deadline has passed appear every few seconds, and
the SLA scan (every second here) must decide their reminders and delivery
must send them within seconds, as on an idle system. About four minutes on
two cores, so `make drills` runs it and `make test` leaves it out.
"""

import io
import time
from datetime import timedelta

import pytest
import redis
from django.utils import timezone
from openpyxl import Workbook

from core.models import PeriodicRun
from customers.imports import HEADERS
from customers.models import ImportJob
from customers.tasks import validate_import
from notifications.models import Notification
from tests.drills.support import REDIS_URL, Stopwatch, celery_beat, celery_worker, percentile, worker_drill
from tests.factories import CustomerFactory, DistrictFactory
from tests.notifications.support import celery_broker
from tickets.models import Kind, Status, Ticket
from workspace.ops.snapshot import SLA_SCAN_TASK

pytestmark = [*worker_drill, pytest.mark.slow_drill]

ROWS = 100_000
ORDERS_PER_ROUND = 5
ROUND_SECONDS = 3
MIN_ROUNDS = 3
MAX_ROUNDS = 10
# An idle system sends a reminder within a scan interval plus delivery: a second or two.
REMINDER_DEADLINE_SECONDS = 10
VALIDATION_DEADLINE_SECONDS = 900
ROUTED_QUEUES = ("realtime", "bulk")


def purge_routed_queues() -> None:
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.delete(
            *ROUTED_QUEUES, *(f"{queue}\x06\x16{pri}" for queue in ROUTED_QUEUES for pri in (3, 6, 9))
        )
    finally:
        client.close()


def archive_file(*, rows: int, station: str, district: str, manager: str) -> bytes:
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet()
    sheet.append(list(HEADERS))
    for i in range(rows):
        sheet.append(
            [f"{7000000000 + i}", f"演练客户{i}", "居民", "城市", "220V", f"雷山县丹江镇演练路{i}号",
             station, district, "", manager, "非VIP", "否", "否", "否", "否", "否", "户主", f"139{i:08d}", ""]
        )  # fmt: skip
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def overdue_orders(round_number: int, *, customer, manager) -> dict[int, float]:
    """Orders dispatched an hour ago whose signing is overdue now: order id -> when it appeared."""
    opened_at = timezone.now() - timedelta(hours=1)
    Ticket.objects.bulk_create(
        Ticket(
            number=f"DI{round_number:03d}{n:05d}",
            kind=Kind.REPAIR,
            customer=customer,
            title="家中停电",
            description="客户反映家中无电。",
            org_unit=manager.org_unit,
            assignee=manager,
            opened_by=manager,
            status=Status.DISPATCHED,
            sign_warn_at=opened_at + timedelta(minutes=10),
            sign_due_at=opened_at + timedelta(minutes=20),
            resolve_warn_at=opened_at + timedelta(hours=4),
            resolve_due_at=opened_at + timedelta(hours=5),
            next_escalation_at=opened_at + timedelta(minutes=20),
            escalation_step=timedelta(hours=2),
            created_at=opened_at,
        )
        for n in range(ORDERS_PER_ROUND)
    )
    appeared = time.time()
    return {order.pk: appeared for order in Ticket.objects.filter(number__startswith=f"DI{round_number:03d}")}


def sent_reminders(appeared: dict[int, float], manager) -> dict[int, float]:
    """Order id -> seconds from its appearance to its signing reminder being sent."""
    # The sign clock's first overdue alert to the assignee (tests/drills/support.expected_reminders).
    keys = {f"ticket:{pk}:r1:sign-overdue:1:{manager.pk}": pk for pk in appeared}
    rows = Notification.objects.filter(dedupe_key__in=keys, status=Notification.Status.SENT)
    return {
        keys[key]: sent_at.timestamp() - appeared[keys[key]]
        for key, sent_at in rows.values_list("dedupe_key", "sent_at")
    }


def job_status(job: ImportJob) -> tuple[str, int]:
    job.refresh_from_db(fields=["status", "processed"])
    return job.status, job.processed


def test_reminders_keep_their_time_while_a_large_import_is_validated(
    transactional_db, manager, supervisor, org_tree, drill_dir, capsys
):
    district = DistrictFactory(station=org_tree["station"])
    customer = CustomerFactory(station=org_tree["station"], manager=manager)
    content = archive_file(
        rows=ROWS, station=org_tree["station"].code, district=district.code, manager=manager.username
    )
    job = ImportJob.objects.create(
        created_by=supervisor, file_name="drill.xlsx", file_format="xlsx", content=content
    )
    env = {"TICKETS_SLA_SCAN_SECONDS": "1", "NOTIFICATIONS_SCAN_SECONDS": "1", "OPS_WATCHDOG_SECONDS": "5"}
    purge_routed_queues()
    beat = celery_beat(broker_url=REDIS_URL, log_dir=drill_dir, env=env)
    realtime = celery_worker(
        broker_url=REDIS_URL, queues="realtime", log_dir=drill_dir, env=env, name="realtime"
    )
    bulk = celery_worker(broker_url=REDIS_URL, queues="bulk", log_dir=drill_dir, env=env, name="bulk")
    appeared: dict[int, float] = {}
    during: set[int] = set()
    scan_gaps: list[float] = []
    try:
        for process in (realtime, bulk, beat):
            process.start(wait=False)
        for process in (realtime, bulk, beat):
            process.wait_ready()
        with celery_broker(REDIS_URL):
            validate_import.apply_async(args=[job.pk], retry=False)  # routed by name: bulk
        clock = Stopwatch()
        while job_status(job)[0] != ImportJob.Status.VALIDATING and clock() < 120:
            time.sleep(0.2)
        assert job_status(job)[0] == ImportJob.Status.VALIDATING, bulk.log()[-3000:]
        validation = Stopwatch()

        last_success = None
        for round_number in range(MAX_ROUNDS):
            if job_status(job)[0] != ImportJob.Status.VALIDATING:
                break
            batch = overdue_orders(round_number, customer=customer, manager=manager)
            appeared.update(batch)
            round_clock = Stopwatch()
            while round_clock() < ROUND_SECONDS:
                success = (
                    PeriodicRun.objects.filter(task=SLA_SCAN_TASK)
                    .values_list("last_succeeded_at", flat=True)
                    .first()
                )
                if success and last_success and success > last_success:
                    scan_gaps.append((success - last_success).total_seconds())
                last_success = success or last_success
                time.sleep(0.2)
            if job_status(job)[0] == ImportJob.Status.VALIDATING:
                # The round's reminders had their whole time while the import was still being checked.
                during.update(batch)
        latencies = sent_reminders(appeared, manager)
        status, processed = job_status(job)

        deadline = Stopwatch()
        while job_status(job)[0] == ImportJob.Status.VALIDATING and deadline() < VALIDATION_DEADLINE_SECONDS:
            time.sleep(1)
        validation_seconds = validation()
    finally:
        beat.stop()
        realtime.stop()
        bulk.stop()
        purge_routed_queues()

    rounds = len(during) // ORDERS_PER_ROUND
    assert rounds >= MIN_ROUNDS, f"the validation ended after {rounds} rounds: too quick to prove anything"
    late = {pk: latencies.get(pk) for pk in during if latencies.get(pk, 1e9) > REMINDER_DEADLINE_SECONDS}
    assert not late, f"reminders late or missing while the import was validated: {late}"
    job.refresh_from_db()
    assert job.status == ImportJob.Status.VALIDATED, (job.status, job.failure)
    assert job.total == ROWS
    during_latencies = [latencies[pk] for pk in during]
    with capsys.disabled():
        print(
            f"\nImport vs reminders drill: {rounds * ORDERS_PER_ROUND} overdue orders in {rounds} rounds "
            f"while a {ROWS:,}-row import was validated (at the last round: {status}, {processed:,} rows "
            f"checked); reminder sent after p50 {percentile(during_latencies, 0.5):.1f} s, "
            f"max {max(during_latencies):.1f} s; SLA scan completed every {min(scan_gaps, default=0):.1f}–"
            f"{max(scan_gaps, default=0):.1f} s; validation took {validation_seconds:.0f} s"
        )
