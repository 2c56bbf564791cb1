"""A failing channel is retried with growing delays, then given up on."""

from datetime import timedelta

import pytest
import requests
import time_machine
from django.utils import timezone

from notifications.models import Notification
from notifications.services import notification_enqueue, retry_delay
from notifications.tasks import deliver_due_notifications

WEBHOOK = "http://127.0.0.1:9/cgi-bin/webhook/send?key=secret-robot-key"


@pytest.fixture
def failing_post(monkeypatch) -> list:
    """requests.post that cannot connect; the exception text carries the URL, as requests' does."""
    calls = []

    def post(url, **kwargs):
        calls.append(url)
        raise requests.ConnectionError(f"Max retries exceeded with url: {url}")

    monkeypatch.setattr(requests, "post", post)
    return calls


def test_a_failing_webhook_is_retried_with_backoff_then_failed(db, settings, failing_post):
    settings.NOTIFICATIONS_MAX_ATTEMPTS = 4
    settings.NOTIFICATIONS_RETRY_BASE_SECONDS = 30
    with time_machine.travel(timezone.now(), tick=False) as clock:
        notification_enqueue(
            dedupe_key="wecom:retry", subject="新工单", channel=Notification.Channel.WECOM, address=WEBHOOK
        )
        delays = []
        for attempt in range(1, 4):
            deliver_due_notifications()
            row = Notification.objects.get()
            assert (row.status, row.attempts) == (Notification.Status.PENDING, attempt)
            delays.append(row.next_attempt_at - timezone.now())

            # Not due yet: another scan leaves it alone.
            clock.shift(row.next_attempt_at - timezone.now() - timedelta(seconds=1))
            assert deliver_due_notifications()["claimed"] == 0
            clock.shift(timedelta(seconds=1))

        deliver_due_notifications()

    row = Notification.objects.get()
    assert row.status == Notification.Status.FAILED
    assert row.attempts == 4
    assert len(failing_post) == 4
    assert delays == sorted(delays) and len(set(delays)) == 3
    assert timedelta(seconds=30) <= delays[0] <= timedelta(seconds=33)
    assert timedelta(seconds=60) <= delays[1] <= timedelta(seconds=66)
    assert timedelta(seconds=120) <= delays[2] <= timedelta(seconds=132)
    assert row.last_error == "connection error"
    assert "secret-robot-key" not in row.last_error
    assert deliver_due_notifications()["claimed"] == 0


def test_a_server_error_is_transient_and_a_later_success_sends_it(db, http_endpoint):
    http_endpoint.answer(502, {"error": "bad gateway"})
    notification_enqueue(
        dedupe_key="wecom:flaky",
        subject="提醒",
        channel=Notification.Channel.WECOM,
        address=http_endpoint.url("/w"),
    )

    with time_machine.travel(timezone.now(), tick=False) as clock:
        deliver_due_notifications()
        row = Notification.objects.get()
        assert (row.status, row.last_error) == (Notification.Status.PENDING, "HTTP 502")
        clock.move_to(row.next_attempt_at)
        deliver_due_notifications()

    row.refresh_from_db()
    assert row.status == Notification.Status.SENT
    assert row.last_error == ""
    assert len(http_endpoint.requests) == 2


def test_a_busy_wecom_answer_is_retried(db, http_endpoint):
    http_endpoint.answer(200, {"errcode": 45009, "errmsg": "api freq out of limit"})
    notification_enqueue(
        dedupe_key="wecom:busy",
        subject="提醒",
        channel=Notification.Channel.WECOM,
        address=http_endpoint.url("/w"),
    )

    deliver_due_notifications()

    row = Notification.objects.get()
    assert (row.status, row.attempts, row.last_error) == (
        Notification.Status.PENDING,
        1,
        "WeCom errcode 45009",
    )


def test_the_delay_doubles_with_each_try_within_ten_percent_jitter(settings):
    settings.NOTIFICATIONS_RETRY_BASE_SECONDS = 10

    for attempts_made, base in [(1, 10), (2, 20), (3, 40), (6, 320)]:
        delay = retry_delay(attempts_made).total_seconds()
        assert base <= delay <= base * 1.1
