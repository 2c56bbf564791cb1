"""The outbox in the admin: filters, search and the retry-now action."""

from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from notifications.models import Notification
from tests.factories import NotificationFactory

CHANGELIST = reverse("admin:notifications_notification_changelist")


def test_the_changelist_filters_and_searches(login, admin_user, manager):
    failed = NotificationFactory(
        recipient=manager, subject="停电通知", dedupe_key="outage:7:notice", status=Notification.Status.FAILED
    )
    NotificationFactory(recipient=manager, subject="工单提醒", dedupe_key="ticket:1:overdue:1")
    client = login(admin_user)

    by_status = client.get(CHANGELIST, {"status__exact": "failed"})
    by_key = client.get(CHANGELIST, {"q": "outage:7"})
    by_channel = client.get(CHANGELIST, {"channel__exact": "sms"})

    assert [n.pk for n in by_status.context["cl"].result_list] == [failed.pk]
    assert [n.pk for n in by_key.context["cl"].result_list] == [failed.pk]
    assert list(by_channel.context["cl"].result_list) == []


def test_retry_now_puts_failed_and_skipped_rows_back_but_not_sent_or_scheduled_ones(
    login, admin_user, manager
):
    later = timezone.now() + timedelta(hours=1)
    failed = NotificationFactory(
        recipient=manager, status=Notification.Status.FAILED, attempts=5, last_error="HTTP 500"
    )
    skipped = NotificationFactory(recipient=manager, status=Notification.Status.SKIPPED)
    backing_off = NotificationFactory(recipient=manager, attempts=2, next_attempt_at=later)
    sent = NotificationFactory(recipient=manager, status=Notification.Status.SENT)
    scheduled = NotificationFactory(recipient=manager, next_attempt_at=later)
    selected = [failed, skipped, backing_off, sent, scheduled]

    response = login(admin_user).post(
        CHANGELIST,
        {"action": "retry_now", "_selected_action": [row.pk for row in selected]},
        follow=True,
    )

    assert response.status_code == 200
    assert "已安排 3 条通知立即重新发送" in response.content.decode()
    for row in selected:
        row.refresh_from_db()
    assert (failed.status, failed.attempts) == (Notification.Status.PENDING, 0)
    assert skipped.status == Notification.Status.PENDING
    assert sent.status == Notification.Status.SENT
    assert scheduled.next_attempt_at == later
    assert set(Notification.objects.due()) == {failed, skipped, backing_off}


def test_an_account_manager_cannot_open_the_outbox_admin(login, manager):
    assert login(manager).get(CHANGELIST).status_code == 302
