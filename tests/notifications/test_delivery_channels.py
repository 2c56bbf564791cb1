"""deliver_due_notifications sends each due row through its channel once."""

import pytest
from django.core import mail

from notifications.models import Notification
from notifications.services import notification_enqueue
from notifications.tasks import deliver_due_notifications
from tests.factories import NotificationFactory, UserFactory

LOCMEM = "django.core.mail.backends.locmem.EmailBackend"
SMTP = "django.core.mail.backends.smtp.EmailBackend"


def statuses():
    return dict(Notification.objects.values_list("dedupe_key", "status"))


def test_an_in_app_message_is_marked_sent(manager):
    notification_enqueue(dedupe_key="inapp:1", subject="工单已转办", recipient=manager)

    report = deliver_due_notifications()

    row = Notification.objects.get()
    assert row.status == Notification.Status.SENT
    assert row.sent_at is not None
    assert row.claim_token is None
    assert report["sent"] == 1


def test_an_email_goes_out_through_the_configured_backend(manager, settings):
    settings.EMAIL_BACKEND = LOCMEM
    manager.email = "zhangsan@example.com"
    manager.save()
    notification_enqueue(
        dedupe_key="mail:1",
        subject="停电通知",
        body="明日 9:00 至 12:00 计划停电。",
        channel=Notification.Channel.EMAIL,
        recipient=manager,
    )

    deliver_due_notifications()

    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["zhangsan@example.com"]
    assert mail.outbox[0].subject == "停电通知"
    assert "计划停电" in mail.outbox[0].body
    assert statuses() == {"mail:1": Notification.Status.SENT}


def test_a_wecom_robot_gets_the_text_message(db, http_endpoint):
    http_endpoint.answer(200, {"errcode": 0, "errmsg": "ok"})
    notification_enqueue(
        dedupe_key="wecom:1",
        subject="新工单",
        body="客户报修：台区停电。",
        channel=Notification.Channel.WECOM,
        address=http_endpoint.url("/cgi-bin/webhook/send?key=group-key"),
    )

    deliver_due_notifications()

    [received] = http_endpoint.requests
    assert received["path"] == "/cgi-bin/webhook/send?key=group-key"
    assert received["json"] == {"msgtype": "text", "text": {"content": "新工单\n客户报修：台区停电。"}}
    assert statuses() == {"wecom:1": Notification.Status.SENT}


def test_the_default_wecom_webhook_is_used_without_an_address(db, http_endpoint, settings):
    settings.WECOM_WEBHOOK_URL = http_endpoint.url("/default-robot")
    notification_enqueue(dedupe_key="wecom:2", subject="日报", channel=Notification.Channel.WECOM)

    deliver_due_notifications()

    assert [r["path"] for r in http_endpoint.requests] == ["/default-robot"]
    assert statuses() == {"wecom:2": Notification.Status.SENT}


def test_an_sms_is_posted_to_the_gateway_with_the_token(manager, http_endpoint, settings):
    settings.SMS_GATEWAY_URL = http_endpoint.url("/sms/send")
    settings.SMS_GATEWAY_TOKEN = "gateway-token"
    notification_enqueue(
        dedupe_key="sms:1",
        subject="抢修到达",
        body="抢修人员已出发。",
        channel=Notification.Channel.SMS,
        recipient=manager,
    )

    deliver_due_notifications()

    [received] = http_endpoint.requests
    assert received["path"] == "/sms/send"
    assert received["headers"]["Authorization"] == "Bearer gateway-token"
    assert received["json"] == {
        "mobile": manager.mobile,
        "content": "抢修到达\n抢修人员已出发。",
        "out_id": "sms:1",
    }
    # The gateway delivers a repeated post with the same key once.
    assert received["headers"]["Idempotency-Key"] == "sms:1"
    assert statuses() == {"sms:1": Notification.Status.SENT}


def test_a_second_scan_sends_nothing_twice(manager, http_endpoint, settings):
    settings.EMAIL_BACKEND = LOCMEM
    settings.SMS_GATEWAY_URL = http_endpoint.url("/sms")
    notification_enqueue(
        dedupe_key="w", subject="群", channel=Notification.Channel.WECOM, address=http_endpoint.url("/w")
    )
    notification_enqueue(
        dedupe_key="s", subject="短信", channel=Notification.Channel.SMS, address="13595569999"
    )
    notification_enqueue(
        dedupe_key="m", subject="邮件", channel=Notification.Channel.EMAIL, address="a@example.com"
    )
    notification_enqueue(dedupe_key="i", subject="站内", recipient=manager)

    first = deliver_due_notifications()
    second = deliver_due_notifications()

    assert first["sent"] == 4
    assert second["claimed"] == 0
    assert sorted(r["path"] for r in http_endpoint.requests) == ["/sms", "/w"]
    assert len(mail.outbox) == 1
    assert set(statuses().values()) == {Notification.Status.SENT}


def test_deciding_the_same_reminder_again_after_delivery_sends_nothing(manager, http_endpoint):
    url = http_endpoint.url("/w")
    notification_enqueue(dedupe_key="ticket:9:overdue:1", subject="超时", channel="wecom", address=url)
    deliver_due_notifications()

    notification_enqueue(dedupe_key="ticket:9:overdue:1", subject="超时", channel="wecom", address=url)
    deliver_due_notifications()

    assert len(http_endpoint.requests) == 1


def test_batches_are_looped_until_nothing_is_due(manager, settings):
    settings.NOTIFICATIONS_BATCH_SIZE = 3
    for i in range(10):
        NotificationFactory(recipient=manager, dedupe_key=f"b:{i}")

    report = deliver_due_notifications()

    assert report["batches"] == 4
    assert report["sent"] == 10
    assert not Notification.objects.exclude(status=Notification.Status.SENT).exists()


def test_a_run_stops_at_its_batch_cap_and_asks_for_another(manager, settings, kicks):
    settings.NOTIFICATIONS_BATCH_SIZE = 2
    for i in range(5):
        NotificationFactory(recipient=manager, dedupe_key=f"c:{i}")

    report = deliver_due_notifications(max_batches=2)

    assert report["sent"] == 4
    assert report["more_due"] is True
    assert kicks == ["kick"]
    assert Notification.objects.filter(status=Notification.Status.PENDING).count() == 1


@pytest.mark.parametrize(
    ("channel", "address", "missing"),
    [
        (Notification.Channel.WECOM, "", "WECOM_WEBHOOK_URL"),
        (Notification.Channel.SMS, "13595569999", "SMS_GATEWAY_URL"),
        (Notification.Channel.EMAIL, "a@example.com", "EMAIL_HOST"),
    ],
)
def test_an_unconfigured_channel_is_skipped_with_the_missing_setting_named(
    db, settings, channel, address, missing
):
    settings.WECOM_WEBHOOK_URL = ""
    settings.SMS_GATEWAY_URL = ""
    settings.EMAIL_HOST = ""
    settings.EMAIL_BACKEND = SMTP
    notification_enqueue(dedupe_key="x", subject="提醒", channel=channel, address=address)

    deliver_due_notifications()

    row = Notification.objects.get()
    assert row.status == Notification.Status.SKIPPED
    assert missing in row.last_error
    assert row.attempts == 0
    assert deliver_due_notifications()["claimed"] == 0


def test_a_rejected_webhook_fails_at_once_without_leaking_its_key(db, http_endpoint):
    http_endpoint.answer(200, {"errcode": 93000, "errmsg": "invalid webhook url"})
    notification_enqueue(
        dedupe_key="bad",
        subject="提醒",
        channel=Notification.Channel.WECOM,
        address=http_endpoint.url("/send?key=secret-robot-key"),
    )

    deliver_due_notifications()

    row = Notification.objects.get()
    assert row.status == Notification.Status.FAILED
    assert row.attempts == 1
    assert row.last_error == "WeCom errcode 93000"
    assert deliver_due_notifications()["claimed"] == 0
    assert len(http_endpoint.requests) == 1


def test_an_sms_without_a_number_fails_permanently(db, settings, http_endpoint, org_tree):
    settings.SMS_GATEWAY_URL = http_endpoint.url("/sms")
    recipient = UserFactory(mobile="", org_unit=org_tree["station"])
    notification_enqueue(
        dedupe_key="sms:none", subject="提醒", channel=Notification.Channel.SMS, recipient=recipient
    )

    deliver_due_notifications()

    row = Notification.objects.get()
    assert (row.status, row.last_error) == (Notification.Status.FAILED, "no mobile number")
    assert http_endpoint.requests == []
