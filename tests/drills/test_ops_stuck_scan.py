"""Drill: the SLA scan stops and a person hears of it within minutes, once; and again when it is back.

A real beat (with the watchdog inside it) sends the periodic tasks to the
realtime and bulk queues of REDIS_URL, but no worker consumes them: the scan
stops. Time is simulated by the scan's run record: it last completed just
under OPS_SLA_SCAN_STALE_MINUTES ago, so its limit passes a few seconds into
the drill. The monitoring group's robot (a local HTTP server) and the
administrators' mailbox (files) must get one alert soon after; then a realtime
worker starts, the scan completes, the incident closes and one recovery
message follows. Nothing is told twice.
"""

import time
from datetime import timedelta

import pytest
import redis
from django.utils import timezone

from core.models import OpsIncident, PeriodicRun
from notifications.models import Notification
from tests.drills.support import REDIS_URL, Stopwatch, celery_beat, celery_worker, queue_length, worker_drill
from tests.notifications.conftest import http_endpoint  # noqa: F401
from workspace.ops.snapshot import SLA_SCAN_TASK

pytestmark = worker_drill

STALE_MINUTES = 5
# The scan's limit passes this many seconds after the drill starts.
LIMIT_IN_SECONDS = 8
ALERT_DEADLINE_SECONDS = 60
RECOVERY_DEADLINE_SECONDS = 90
ROUTED_QUEUES = ("realtime", "bulk")


def purge_routed_queues() -> None:
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.delete(*ROUTED_QUEUES)
        for queue in ROUTED_QUEUES:
            for pri in (3, 6, 9):
                client.delete(f"{queue}\x06\x16{pri}")
    finally:
        client.close()


def messages(endpoint, word: str) -> list[str]:
    texts = [request["json"]["text"]["content"] for request in endpoint.requests]
    return [text for text in texts if word in text]


def test_a_stopped_sla_scan_reaches_people_within_minutes(
    transactional_db,
    admin_user,
    http_endpoint,  # noqa: F811
    drill_dir,
    capsys,
):
    admin_user.email = "admin@example.com"
    admin_user.save()
    now = timezone.now()
    clock = Stopwatch()
    PeriodicRun.objects.create(
        task=SLA_SCAN_TASK,
        last_started_at=now - timedelta(minutes=STALE_MINUTES, seconds=-LIMIT_IN_SECONDS + 1),
        last_finished_at=now - timedelta(minutes=STALE_MINUTES, seconds=-LIMIT_IN_SECONDS),
        last_succeeded_at=now - timedelta(minutes=STALE_MINUTES, seconds=-LIMIT_IN_SECONDS),
        last_outcome=PeriodicRun.Outcome.SUCCESS,
    )
    env = {
        "OPS_WATCHDOG_SECONDS": "1",
        "OPS_SLA_SCAN_STALE_MINUTES": str(STALE_MINUTES),
        "OPS_DELIVERY_STALE_MINUTES": "60",
        "OPS_ALERT_WECOM_WEBHOOK_URL": http_endpoint.url("/monitoring-group"),
        # E-mails are written to beat's log.
        "EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend",
        "TICKETS_SLA_SCAN_SECONDS": "1",
        "NOTIFICATIONS_SCAN_SECONDS": "2",
    }
    purge_routed_queues()
    beat = celery_beat(broker_url=REDIS_URL, log_dir=drill_dir, env=env)
    worker = celery_worker(
        broker_url=REDIS_URL, queues="realtime", log_dir=drill_dir, env=env, name="realtime"
    )
    try:
        beat.start()
        while not messages(http_endpoint, "告警") and clock() < ALERT_DEADLINE_SECONDS:
            time.sleep(0.2)
        alerted_after = clock()
        assert messages(http_endpoint, "告警"), f"no alert\nbeat:\n{beat.log()[-4000:]}"
        waiting_scans = queue_length(REDIS_URL, "realtime")
        assert waiting_scans > 0, "beat kept sending the scan; nobody ran it"
        assert "工单时限扫描已 5 分钟未完成" in messages(http_endpoint, "告警")[0]
        assert LIMIT_IN_SECONDS <= alerted_after < LIMIT_IN_SECONDS + 10, "told within seconds of the limit"

        # Quiet while it lasts.
        time.sleep(4)
        assert len(messages(http_endpoint, "告警")) == 1

        worker.start()
        recovery = Stopwatch()
        while not messages(http_endpoint, "恢复") and recovery() < RECOVERY_DEADLINE_SECONDS:
            time.sleep(0.2)
        recovered_after = recovery()
        assert messages(http_endpoint, "恢复"), f"no recovery\nworker:\n{worker.log()[-3000:]}"
        time.sleep(3)
    finally:
        beat.stop()
        worker.stop()
        purge_routed_queues()

    assert len(messages(http_endpoint, "告警")) == 1
    assert len(messages(http_endpoint, "恢复")) == 1
    assert beat.log().count("To: admin@example.com") == 2, "one alert, one recovery by e-mail"
    incident = OpsIncident.objects.get()
    assert incident.key == f"stalled:{SLA_SCAN_TASK}"
    assert incident.closed_at is not None and incident.alert_channels == "email,group"
    assert (
        Notification.objects.filter(recipient=admin_user, dedupe_key__startswith="ops:incident:").count() == 2
    )
    assert PeriodicRun.objects.get(task=SLA_SCAN_TASK).last_succeeded_at > now
    with capsys.disabled():
        print(
            f"\nStuck-scan drill: alert {alerted_after - LIMIT_IN_SECONDS:.1f} s after the scan's limit, "
            f"{waiting_scans} scans waiting in the realtime queue; "
            f"recovery told {recovered_after:.1f} s after a realtime worker started"
        )


@pytest.fixture(autouse=True)
def _no_leftovers():
    yield
    purge_routed_queues()
