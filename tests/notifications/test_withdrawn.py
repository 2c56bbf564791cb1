"""Withdrawn outbox rows (a start notice after restoration): final, never retried, never sent."""

import threading
from datetime import timedelta

import pytest
from django.db import connection, connections
from django.urls import reverse
from django.utils import timezone

from notifications import services
from notifications.models import Notification
from notifications.services import (
    notification_deliver,
    notification_enqueue,
    notifications_claim_due,
    notifications_deliver_due,
    notifications_retry_now,
    notifications_withdraw,
)
from tests.factories import NotificationFactory

CHANGELIST = reverse("admin:notifications_notification_changelist")


def sms(key: str) -> Notification:
    return notification_enqueue(
        dedupe_key=key, subject="停电通知", channel=Notification.Channel.SMS, address="13595569999"
    )


def test_withdrawing_makes_pending_rows_withdrawn_and_leaves_sent_ones(db):
    pending, sent = sms("n:1"), sms("n:2")
    Notification.objects.filter(pk=sent.pk).update(status=Notification.Status.SENT)

    assert notifications_withdraw(notifications=Notification.objects.all()) == 1

    pending.refresh_from_db()
    sent.refresh_from_db()
    assert (pending.status, pending.get_status_display()) == (Notification.Status.WITHDRAWN, "已撤回")
    assert sent.status == Notification.Status.SENT
    assert not Notification.objects.due().exists()


def test_retry_now_never_puts_a_withdrawn_row_back(db):
    row = sms("n:1")
    notifications_withdraw(notifications=Notification.objects.all())

    assert notifications_retry_now(notifications=Notification.objects.all()) == 0

    row.refresh_from_db()
    assert row.status == Notification.Status.WITHDRAWN
    assert not Notification.objects.due().exists()


def test_the_admin_retry_action_refuses_withdrawn_rows_and_says_so(login, admin_user, manager):
    failed = NotificationFactory(recipient=manager, status=Notification.Status.FAILED, attempts=5)
    withdrawn = NotificationFactory(recipient=manager, status=Notification.Status.WITHDRAWN)

    response = login(admin_user).post(
        CHANGELIST,
        {"action": "retry_now", "_selected_action": [failed.pk, withdrawn.pk]},
        follow=True,
    )

    page = response.content.decode()
    assert "已安排 1 条通知立即重新发送" in page
    assert "1 条通知已撤回，不会重新发送" in page
    withdrawn.refresh_from_db()
    assert withdrawn.status == Notification.Status.WITHDRAWN
    listed = login(admin_user).get(CHANGELIST, {"status__exact": "withdrawn"})
    assert [n.pk for n in listed.context["cl"].result_list] == [withdrawn.pk]
    assert "已撤回" in listed.content.decode()


def test_a_row_withdrawn_after_a_worker_claimed_it_is_not_sent(db, settings, http_endpoint):
    settings.SMS_GATEWAY_URL = http_endpoint.url("/sms")
    sms("n:1"), sms("n:2")
    claim = notifications_claim_due()
    assert len(claim.rows) == 2

    # Restoration comes while the worker holds the batch, before it started sending.
    assert notifications_withdraw(notifications=Notification.objects.all()) == 2
    outcomes = [notification_deliver(notification=row, claim_token=claim.token) for row in claim.rows]

    assert outcomes == [None, None]
    assert http_endpoint.requests == []
    assert set(Notification.objects.values_list("status", flat=True)) == {Notification.Status.WITHDRAWN}


def test_a_withdrawal_during_a_delivery_run_stops_the_rest_of_the_batch(
    db, settings, http_endpoint, monkeypatch
):
    settings.SMS_GATEWAY_URL = http_endpoint.url("/sms")
    first, second, third = sms("n:1"), sms("n:2"), sms("n:3")
    real_get_backend = services.get_backend

    class WithdrawAfterFirstSend:
        """The real gateway backend; after its first send the outage is restored."""

        def __init__(self, backend):
            self.backend = backend

        def send(self, notification):
            outcome = self.backend.send(notification)
            notifications_withdraw(notifications=Notification.objects.exclude(pk=notification.pk))
            return outcome

    monkeypatch.setattr(
        services, "get_backend", lambda channel: WithdrawAfterFirstSend(real_get_backend(channel))
    )

    report = notifications_deliver_due()

    assert (report.sent, report.lost) == (1, 2)
    assert len(http_endpoint.requests) == 1
    statuses = dict(Notification.objects.values_list("pk", "status"))
    assert statuses == {
        first.pk: Notification.Status.SENT,
        second.pk: Notification.Status.WITHDRAWN,
        third.pk: Notification.Status.WITHDRAWN,
    }


def test_a_send_already_started_under_a_live_lease_is_beyond_recall(db):
    row = sms("n:1")
    claim = notifications_claim_due()
    Notification.objects.filter(pk=row.pk).update(send_started_at=timezone.now())

    assert notifications_withdraw(notifications=Notification.objects.all()) == 0

    # Its lease ran out (the worker died mid-send): now it can be withdrawn.
    Notification.objects.filter(pk=row.pk).update(
        lease_expires_at=claim.lease_expires_at - timedelta(hours=1)
    )
    assert notifications_withdraw(notifications=Notification.objects.all()) == 1


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="needs PostgreSQL: a worker in its own connection"
)
@pytest.mark.django_db(transaction=True)
def test_a_withdrawal_from_another_connection_stops_a_worker_mid_batch(settings, http_endpoint, monkeypatch):
    settings.SMS_GATEWAY_URL = http_endpoint.url("/sms")
    rows = [sms(f"n:{index}") for index in range(5)]
    first_sent, withdrawn = threading.Event(), threading.Event()
    real_get_backend = services.get_backend

    class PausingBackend:
        """The real gateway backend; the worker pauses after its first send."""

        def __init__(self, backend):
            self.backend = backend

        def send(self, notification):
            outcome = self.backend.send(notification)
            if not first_sent.is_set():
                first_sent.set()
                withdrawn.wait(timeout=30)
            return outcome

    monkeypatch.setattr(services, "get_backend", lambda channel: PausingBackend(real_get_backend(channel)))
    result: dict = {}

    def worker():
        try:
            result["report"] = notifications_deliver_due()
        except Exception as exc:  # surfaced by the assertions below
            result["report"] = exc
        finally:
            connections.close_all()

    thread = threading.Thread(target=worker)
    thread.start()
    try:
        assert first_sent.wait(timeout=30)
        # Restoration, in its own transaction, while the worker holds the batch: it does not wait for it.
        withdrawn_count = notifications_withdraw(notifications=Notification.objects.all())
    finally:
        withdrawn.set()
        thread.join(timeout=30)

    report = result["report"]
    assert not isinstance(report, Exception), report
    assert withdrawn_count == 4
    assert (report.sent, report.lost) == (1, 4)
    assert len(http_endpoint.requests) == 1
    statuses = dict(Notification.objects.values_list("pk", "status"))
    assert sorted(statuses.values()) == [Notification.Status.SENT] + [Notification.Status.WITHDRAWN] * 4
    assert statuses[rows[0].pk] == Notification.Status.SENT
