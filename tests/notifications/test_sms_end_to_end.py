"""An outbox row end to end: enqueued in a transaction, sent by the provider, confirmed by its receipt."""

import json
import logging

import pytest
from django.db import transaction
from django.urls import reverse

from notifications.models import Notification, SmsTemplate
from notifications.services import notification_enqueue
from notifications.tasks import deliver_due_notifications

TOKEN = "receipt-token-e2e"
MOBILE = "13885550002"


@pytest.fixture
def restored_templates(db):
    for provider, code in (("aliyun", "SMS_465950004"), ("tencent", "2128004")):
        SmsTemplate.objects.update_or_create(
            provider=provider,
            kind="outage_restored",
            defaults={"template_code": code, "param_names": ["area", "time"], "active": True},
        )


def enqueue_restoration():
    with transaction.atomic():
        notification_enqueue(
            dedupe_key="outage:31:restored:c7",
            subject="恢复送电",
            channel=Notification.Channel.SMS,
            address=MOBILE,
            template_kind="outage_restored",
            template_params={"area": "永乐一号台区", "time": "17:40"},
        )


def test_aliyun_enqueue_send_receipt_delivered(client, settings, aliyun_sms, restored_templates):
    settings.SMS_RECEIPT_TOKEN = TOKEN
    enqueue_restoration()

    report = deliver_due_notifications()
    row = Notification.objects.get()
    assert report["sent"] == 1
    assert (row.status, row.delivery_status) == ("sent", "submitted")
    [sent] = aliyun_sms.requests
    assert sent["verified"] and sent["params"]["OutId"] == row.dedupe_key

    receipt = {
        "phone_number": MOBILE,
        "send_time": "2026-03-03 17:40:01",
        "report_time": "2026-03-03 17:40:04",
        "success": True,
        "err_code": "DELIVERED",
        "err_msg": "用户接收成功",
        "sms_size": "1",
        "biz_id": row.provider_message_id,
        "out_id": row.dedupe_key,
    }
    response = client.post(
        reverse("notifications:sms_receipts", args=["aliyun"]) + f"?token={TOKEN}",
        data=json.dumps([receipt]),
        content_type="application/json",
    )

    row.refresh_from_db()
    assert response.json() == {"code": 0, "msg": "成功"}
    assert row.delivery_status == Notification.DeliveryStatus.DELIVERED
    assert row.delivered_at is not None
    # A second scan sends nothing more.
    assert deliver_due_notifications()["claimed"] == 0
    assert len(aliyun_sms.requests) == 1


def test_tencent_enqueue_send_receipt_failed(client, settings, tencent_sms, restored_templates):
    settings.SMS_RECEIPT_TOKEN = TOKEN
    enqueue_restoration()

    deliver_due_notifications()
    row = Notification.objects.get()
    assert tencent_sms.requests[0]["json"]["TemplateParamSet"] == ["永乐一号台区", "17:40"]

    receipt = {
        "user_receive_time": "2026-03-03 17:40:09",
        "nationcode": "86",
        "mobile": MOBILE,
        "report_status": "FAIL",
        "errmsg": "MN:0017",
        "description": "关机",
        "sid": row.provider_message_id,
    }
    response = client.post(
        reverse("notifications:sms_receipts", args=["tencent"]),
        data=json.dumps([receipt]),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {TOKEN}",
    )

    row.refresh_from_db()
    assert response.json() == {"result": 0, "errmsg": "OK"}
    assert (row.status, row.delivery_status, row.delivery_error) == ("sent", "failed", "MN:0017")


def test_sending_and_receipts_log_no_phone_number(client, settings, tencent_sms, restored_templates, caplog):
    # The Tencent SDK would log whole requests at DEBUG; settings keep its logger at WARNING.
    for name, config in settings.LOGGING["loggers"].items():
        caplog.set_level(config["level"], logger=name)
    caplog.set_level(logging.DEBUG)
    settings.SMS_RECEIPT_TOKEN = TOKEN
    enqueue_restoration()
    tencent_sms.answer(200, tencent_sms.status("InvalidParameterValue.IncorrectPhoneNumber"))

    deliver_due_notifications()
    receipt = {"report_status": "SUCCESS", "sid": "2028:unknown", "mobile": MOBILE, "user_receive_time": ""}
    client.post(
        reverse("notifications:sms_receipts", args=["tencent"]) + f"?token={TOKEN}",
        data=json.dumps([receipt]),
        content_type="application/json",
    )

    assert "InvalidParameterValue.IncorrectPhoneNumber" in caplog.text
    assert "138****0002" in caplog.text
    assert MOBILE not in caplog.text
