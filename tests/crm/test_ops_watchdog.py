"""The watchdog: one alert per incident, quiet while it lasts, closed when healthy, told again later.

The clock is simulated: each check is given its time.
"""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from core.models import OpsIncident, PeriodicRun
from crm.beat import SeedingDatabaseScheduler
from notifications.models import Notification
from tests.factories import NotificationFactory
from tests.notifications.conftest import http_endpoint  # noqa: F401 - the monitoring group's robot
from workspace.ops import watchdog
from workspace.ops.watchdog import WatchdogClock, watchdog_check

pytestmark = pytest.mark.django_db

SCAN = "tickets.tasks.sla_scan"
DELIVERY = "notifications.tasks.deliver_due_notifications"


@pytest.fixture
def on_call(settings, admin_user, http_endpoint):  # noqa: F811
    """E-mail to the administrators and an extra address, the monitoring group's robot."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.OPS_ALERT_EMAILS = ["oncall@example.com"]
    settings.OPS_ALERT_WECOM_WEBHOOK_URL = http_endpoint.url("/monitoring-group")
    settings.OPS_SLA_SCAN_STALE_MINUTES = 5
    settings.OPS_DELIVERY_STALE_MINUTES = 5
    admin_user.email = "admin@example.com"
    admin_user.save()
    return http_endpoint


def completed(task: str, at) -> None:
    PeriodicRun.objects.update_or_create(
        task=task,
        defaults={
            "last_started_at": at,
            "last_finished_at": at,
            "last_succeeded_at": at,
            "last_outcome": PeriodicRun.Outcome.SUCCESS,
            "consecutive_failures": 0,
        },
    )
    PeriodicRun.objects.filter(task=task).update(created_at=at - timedelta(days=1))


def group_messages(endpoint) -> list[str]:
    return [request["json"]["text"]["content"] for request in endpoint.requests]


def test_a_healthy_night_tells_nobody(on_call):
    now = timezone.now()
    completed(SCAN, now - timedelta(minutes=1))
    completed(DELIVERY, now - timedelta(seconds=10))

    report = watchdog_check(now)

    assert report.opened == []
    assert not OpsIncident.objects.exists()
    assert mail.outbox == [] and on_call.requests == []


def test_a_stopped_scan_opens_one_incident_and_tells_once_until_it_is_healthy_again(on_call, admin_user):
    start = timezone.now()
    completed(SCAN, start)
    completed(DELIVERY, start)

    # The scan stops; delivery keeps going. Checked every minute for ten minutes.
    reports = []
    for minute in range(1, 11):
        completed(DELIVERY, start + timedelta(minutes=minute))
        reports.append(watchdog_check(start + timedelta(minutes=minute)))

    opened_at = [minute for minute, report in enumerate(reports, 1) if report.opened]
    assert opened_at == [6], "opens once the scan is more than 5 minutes late"
    assert reports[5].opened == [f"stalled:{SCAN}"]
    incident = OpsIncident.objects.get()
    assert incident.closed_at is None
    assert incident.alert_channels == "email,group"
    assert len(mail.outbox) == 1
    assert sorted(mail.outbox[0].to) == ["admin@example.com", "oncall@example.com"]
    assert "工单时限扫描" in mail.outbox[0].subject
    assert len(on_call.requests) == 1
    assert "工单时限扫描已 6 分钟未完成" in group_messages(on_call)[0]
    assert Notification.objects.filter(recipient=admin_user, channel=Notification.Channel.IN_APP).count() == 1

    # The scan runs again: the incident closes, and people hear it once.
    completed(SCAN, start + timedelta(minutes=11))
    report = watchdog_check(start + timedelta(minutes=11))
    assert report.closed == [f"stalled:{SCAN}"]
    assert OpsIncident.objects.get().closed_at == start + timedelta(minutes=11)
    assert len(mail.outbox) == 2 and "恢复" in mail.outbox[1].subject
    assert len(on_call.requests) == 2
    watchdog_check(start + timedelta(minutes=12))
    assert len(mail.outbox) == 2

    # It stops again later: a new incident, told again (delivery ran, the in-app alerts went out).
    completed(DELIVERY, start + timedelta(minutes=30))
    Notification.objects.update(status=Notification.Status.SENT)
    report = watchdog_check(start + timedelta(minutes=30))
    assert report.opened == [f"stalled:{SCAN}"]
    assert OpsIncident.objects.count() == 2
    assert OpsIncident.objects.filter(closed_at__isnull=True).count() == 1
    assert len(mail.outbox) == 3 and len(on_call.requests) == 3


def test_a_task_never_seen_is_late_counted_from_when_it_was_first_watched(on_call):
    start = timezone.now()

    assert watchdog_check(start).opened == []
    assert PeriodicRun.objects.filter(task=SCAN, last_succeeded_at__isnull=True).exists()
    later = watchdog_check(start + timedelta(minutes=10))

    assert sorted(later.opened) == [f"stalled:{DELIVERY}", f"stalled:{SCAN}"]


def test_an_alert_no_channel_took_is_tried_again_at_the_next_check(on_call):
    now = timezone.now()
    completed(SCAN, now - timedelta(minutes=30))
    completed(DELIVERY, now)
    on_call.default_response = (500, {"errcode": -1})
    from django.conf import settings

    settings.EMAIL_BACKEND = "tests.crm.test_ops_watchdog.BrokenEmail"

    first = watchdog_check(now)
    assert first.opened == [f"stalled:{SCAN}"] and first.alerted == []
    assert OpsIncident.objects.get().alerted_at is None

    on_call.default_response = (200, {"errcode": 0})
    second = watchdog_check(now + timedelta(minutes=1))
    assert second.opened == [] and second.alerted == [f"stalled:{SCAN}"]
    assert OpsIncident.objects.get().alert_channels == "group"
    third = watchdog_check(now + timedelta(minutes=2))
    assert third.alerted == []
    assert len(on_call.requests) == 2


class BrokenEmail:
    def __init__(self, *args, **kwargs):
        pass

    def send_messages(self, messages):
        raise OSError("connection refused")


def test_with_no_channel_configured_the_in_app_message_is_the_alert(settings, admin_user):
    settings.OPS_ALERT_WECOM_WEBHOOK_URL = ""
    settings.EMAIL_HOST = ""
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    now = timezone.now()
    completed(SCAN, now - timedelta(minutes=30))
    completed(DELIVERY, now)

    report = watchdog_check(now)

    assert report.alerted == [f"stalled:{SCAN}"]
    assert OpsIncident.objects.get().alert_channels == "inapp"
    message = Notification.objects.get(recipient=admin_user)
    assert message.link == "/ops/" and "工单时限扫描" in message.subject


def test_a_task_failing_in_a_row_opens_an_incident(on_call, settings):
    settings.OPS_TASK_FAILURE_THRESHOLD = 3
    now = timezone.now()
    completed(SCAN, now)
    completed(DELIVERY, now)
    PeriodicRun.objects.create(
        task="groups.tasks.reconcile_wecom_groups", consecutive_failures=2, last_error="WeComError: 40001"
    )
    assert watchdog_check(now).opened == []

    PeriodicRun.objects.filter(task="groups.tasks.reconcile_wecom_groups").update(consecutive_failures=3)
    report = watchdog_check(now)

    assert report.opened == ["failing:groups.tasks.reconcile_wecom_groups"]
    assert "连续失败 3 次：WeComError: 40001" in mail.outbox[0].body


def test_outbox_backlog_age_and_failures_past_their_limits(on_call, settings, admin_user):
    settings.OPS_OUTBOX_DUE_THRESHOLD = 2
    settings.OPS_OUTBOX_OLDEST_DUE_MINUTES = 15
    settings.OPS_OUTBOX_FAILED_THRESHOLD = 1
    now = timezone.now()
    completed(SCAN, now)
    completed(DELIVERY, now)
    for minutes in (1, 2):
        NotificationFactory(recipient=admin_user, next_attempt_at=now - timedelta(minutes=minutes))
    NotificationFactory(recipient=admin_user, status=Notification.Status.FAILED, next_attempt_at=now)
    assert watchdog_check(now).opened == []

    NotificationFactory(recipient=admin_user, next_attempt_at=now - timedelta(minutes=16))
    NotificationFactory(recipient=admin_user, status=Notification.Status.FAILED, next_attempt_at=now)
    report = watchdog_check(now)

    assert sorted(report.opened) == ["outbox:backlog", "outbox:failed", "outbox:late"]


def test_two_checks_at_once_open_one_incident(on_call):
    now = timezone.now()
    completed(SCAN, now - timedelta(minutes=30))
    completed(DELIVERY, now)
    OpsIncident.objects.create(key=f"stalled:{SCAN}", summary="opened by the other check", alerted_at=now)

    assert watchdog._open(f"stalled:{SCAN}", "again", now) is None
    assert watchdog_check(now).opened == []
    assert OpsIncident.objects.count() == 1
    assert mail.outbox == []


def test_beat_runs_the_watchdog_every_interval_and_survives_its_errors(settings, monkeypatch):
    settings.OPS_WATCHDOG_SECONDS = 60
    calls = []

    def check():
        calls.append(1)
        raise RuntimeError("database gone")

    monkeypatch.setattr(watchdog, "watchdog_check", check)
    clock = WatchdogClock()

    clock.maybe_check(1000.0)  # beat has just started: the workers get two intervals first
    clock.maybe_check(1119.0)
    assert calls == []
    assert clock.maybe_check(1120.0) is None, "a failing check is logged, not raised"
    clock.maybe_check(1150.0)
    clock.maybe_check(1181.0)

    assert len(calls) == 2


def test_the_beat_scheduler_looks_at_least_every_watchdog_interval(settings, monkeypatch):
    settings.OPS_WATCHDOG_SECONDS = 7
    looked = []
    monkeypatch.setattr(WatchdogClock, "maybe_check", lambda self, now: looked.append(now))
    monkeypatch.setattr(SeedingDatabaseScheduler.__mro__[1], "tick", lambda self, *a, **k: 300)
    scheduler = SeedingDatabaseScheduler.__new__(SeedingDatabaseScheduler)
    scheduler.watchdog = WatchdogClock()

    assert scheduler.tick() == 7
    assert len(looked) == 1
