"""Delivery receipts pushed by the SMS providers turn rows delivered or failed, once and in order."""

import json
import logging
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse

from notifications import services
from notifications.delivery import SmsSubmission
from notifications.models import Notification
from notifications.services import notification_enqueue, notifications_claim_due, notifications_deliver_due
from notifications.sms_receipts import SmsReceipt, sms_receipts_apply

TOKEN = "receipt-token-8f3a"
SHANGHAI = ZoneInfo("Asia/Shanghai")
MOBILE = "13885550001"


@pytest.fixture(autouse=True)
def receipt_token(settings):
    settings.SMS_RECEIPT_TOKEN = TOKEN


def sent_sms(key: str, provider: str, message_id: str, **fields) -> Notification:
    return Notification.objects.create(
        dedupe_key=key,
        subject="停电预告",
        channel=Notification.Channel.SMS,
        address=MOBILE,
        status=fields.pop("status", Notification.Status.SENT),
        provider=provider,
        provider_message_id=message_id,
        delivery_status=fields.pop("delivery_status", Notification.DeliveryStatus.SUBMITTED),
        **fields,
    )


def aliyun(
    biz_id: str, *, success: bool = True, at: str = "2026-03-03 08:00:05", out_id: str = "", code=None
):
    return {
        "phone_number": MOBILE,
        "send_time": "2026-03-03 08:00:00",
        "report_time": at,
        "success": success,
        "err_code": code or ("DELIVERED" if success else "MK:0001"),
        "err_msg": "用户接收成功" if success else "失败",
        "sms_size": "1",
        "biz_id": biz_id,
        "out_id": out_id,
    }


def tencent(sid: str, *, success: bool = True, at: str = "2026-03-03 08:00:05"):
    return {
        "user_receive_time": at,
        "nationcode": "86",
        "mobile": MOBILE,
        "report_status": "SUCCESS" if success else "FAIL",
        "errmsg": "DELIVRD" if success else "MN:0017",
        "description": "用户短信送达成功" if success else "失败",
        "sid": sid,
    }


def post(client, provider: str, body, *, token: str | None = TOKEN, query: str = "", **headers):
    url = reverse("notifications:sms_receipts", args=[provider]) + query
    if token is not None:
        headers.setdefault("HTTP_X_RECEIPT_TOKEN", token)
    data = body if isinstance(body, str | bytes) else json.dumps(body, ensure_ascii=False)
    return client.post(url, data=data, content_type="application/json", **headers)


def state(row: Notification) -> tuple:
    row.refresh_from_db()
    return row.delivery_status, row.delivery_error, row.delivered_at


def test_an_aliyun_report_marks_the_row_delivered(client, db):
    row = sent_sms("outage:1:c1", "aliyun", "900619746936498440^0")

    response = post(client, "aliyun", [aliyun("900619746936498440^0")])

    assert response.status_code == 200
    assert response.json() == {"code": 0, "msg": "成功"}
    assert state(row) == ("delivered", "", datetime(2026, 3, 3, 8, 0, 5, tzinfo=SHANGHAI))


def test_an_aliyun_failure_is_recorded_with_its_code(client, db):
    row = sent_sms("outage:1:c1", "aliyun", "biz-1")

    post(client, "aliyun", [aliyun("biz-1", success=False)])

    assert state(row) == ("failed", "MK:0001", None)


def test_tencent_reports_mark_rows_delivered_or_failed(client, db):
    ok = sent_sms("outage:1:c1", "tencent", "2028:aaa")
    bad = sent_sms("outage:1:c2", "tencent", "2028:bbb")

    response = post(client, "tencent", [tencent("2028:aaa"), tencent("2028:bbb", success=False)])

    assert response.json() == {"result": 0, "errmsg": "OK"}
    assert state(ok)[0] == "delivered"
    assert state(bad)[:2] == ("failed", "MN:0017")


def test_a_message_id_of_another_provider_does_not_match(client, db):
    row = sent_sms("outage:1:c1", "aliyun", "2028:aaa")

    post(client, "tencent", [tencent("2028:aaa")])

    assert state(row)[0] == "submitted"


def test_a_repeated_receipt_changes_nothing(client, db):
    row = sent_sms("outage:1:c1", "aliyun", "biz-1")
    post(client, "aliyun", [aliyun("biz-1")])
    first = state(row)

    report = sms_receipts_apply(
        provider="aliyun",
        receipts=[
            SmsReceipt("biz-1", "", True, "DELIVERED", datetime(2026, 3, 3, 8, 0, 5, tzinfo=SHANGHAI), MOBILE)
        ],
    )
    response = post(client, "aliyun", [aliyun("biz-1")])

    assert (report.applied, report.unchanged) == (0, 1)
    assert response.status_code == 200
    assert state(row) == first


def test_an_older_report_arriving_late_loses(client, db):
    row = sent_sms("outage:1:c1", "aliyun", "biz-1")

    post(client, "aliyun", [aliyun("biz-1", success=True, at="2026-03-03 08:05:00")])
    post(client, "aliyun", [aliyun("biz-1", success=False, at="2026-03-03 08:01:00")])

    assert state(row)[0] == "delivered"


def test_within_one_batch_the_later_report_wins(client, db):
    row = sent_sms("outage:1:c1", "tencent", "2028:aaa")

    post(
        client,
        "tencent",
        [
            tencent("2028:aaa", success=False, at="2026-03-03 08:09:00"),
            tencent("2028:aaa", at="2026-03-03 08:02:00"),
        ],
    )

    assert state(row)[:2] == ("failed", "MN:0017")


def test_a_failed_receipt_is_final(client, db):
    row = sent_sms("outage:1:c1", "aliyun", "biz-1")

    post(client, "aliyun", [aliyun("biz-1", success=False, at="2026-03-03 08:01:00")])
    post(client, "aliyun", [aliyun("biz-1", success=True, at="2026-03-03 08:30:00")])

    assert state(row)[:2] == ("failed", "MK:0001")


def test_a_receipt_for_an_unknown_message_is_ignored_and_logged_masked(client, db, caplog):
    row = sent_sms("outage:1:c1", "aliyun", "biz-1")
    caplog.set_level(logging.INFO, logger="notifications.sms_receipts")

    response = post(client, "aliyun", [aliyun("biz-unknown"), aliyun("biz-1")])

    assert response.status_code == 200
    assert state(row)[0] == "delivered"
    [line] = [r.getMessage() for r in caplog.records if "unknown" in r.getMessage()]
    assert "biz-unknown" in line and "138****0001" in line
    assert MOBILE not in caplog.text


@pytest.mark.parametrize(
    ("headers", "query", "status"),
    [
        ({"token": None}, "", 401),
        ({"token": "forged-token"}, "", 403),
        ({"token": None, "HTTP_AUTHORIZATION": "Bearer forged"}, "", 403),
        ({"token": None}, "?token=forged", 403),
    ],
)
def test_a_receipt_without_the_right_token_is_refused_and_changes_nothing(client, db, headers, query, status):
    row = sent_sms("outage:1:c1", "aliyun", "biz-1")

    response = post(client, "aliyun", [aliyun("biz-1")], query=query, **headers)

    assert response.status_code == status
    assert response.json()["code"] in ("token_missing", "token_invalid")
    assert state(row)[0] == "submitted"


@pytest.mark.parametrize(
    ("headers", "query"),
    [({"token": None, "HTTP_AUTHORIZATION": f"Bearer {TOKEN}"}, ""), ({"token": None}, f"?token={TOKEN}")],
)
def test_the_token_may_come_as_a_bearer_header_or_in_the_url(client, db, headers, query):
    row = sent_sms("outage:1:c1", "aliyun", "biz-1")

    assert post(client, "aliyun", [aliyun("biz-1")], query=query, **headers).status_code == 200
    assert state(row)[0] == "delivered"


def test_without_a_configured_token_every_receipt_is_refused(client, db, settings):
    settings.SMS_RECEIPT_TOKEN = ""
    row = sent_sms("outage:1:c1", "aliyun", "biz-1")

    assert post(client, "aliyun", [aliyun("biz-1")], token="").status_code == 401
    assert post(client, "aliyun", [aliyun("biz-1")], token="anything").status_code == 403
    assert state(row)[0] == "submitted"


@pytest.mark.parametrize(
    ("provider", "body", "code"),
    [
        ("aliyun", "{not json", "malformed_json"),
        ("aliyun", b"\xff\xfe", "malformed_json"),
        ("aliyun", ["biz-1"], "malformed_receipt"),
        ("aliyun", [{"biz_id": "biz-1"}], "malformed_receipt"),
        ("aliyun", 42, "malformed_receipt"),
        ("tencent", [{"sid": "biz-1", "report_status": "MAYBE"}], "malformed_receipt"),
    ],
)
def test_a_malformed_body_is_a_400_with_a_code_and_changes_nothing(client, db, provider, body, code):
    row = sent_sms("outage:1:c1", provider, "biz-1")

    response = post(client, provider, body)

    assert response.status_code == 400
    assert response.json()["code"] == code
    assert state(row)[0] == "submitted"
    # The same request with a valid body goes through: the body was the fault.
    valid = aliyun("biz-1") if provider == "aliyun" else tencent("biz-1")
    assert post(client, provider, [valid]).status_code == 200
    assert state(row)[0] == "delivered"


def test_an_unknown_provider_is_404_and_a_get_is_405(client, db):
    assert post(client, "nexmo", []).status_code == 404
    assert client.get(reverse("notifications:sms_receipts", args=["aliyun"])).status_code == 405


@pytest.mark.parametrize("count", [5, 60])
def test_a_batch_runs_a_fixed_number_of_queries(client, db, django_assert_num_queries, count):
    rows = [sent_sms(f"outage:1:c{i}", "aliyun", f"biz-{i}") for i in range(count)]

    # the locking read and one bulk UPDATE, inside a transaction (savepoint on SQLite and PostgreSQL)
    with django_assert_num_queries(4):
        response = post(client, "aliyun", [aliyun(f"biz-{i}") for i in range(count)] + [aliyun("biz-x")])

    assert response.status_code == 200
    assert {state(row)[0] for row in rows} == {"delivered"}


def test_a_receipt_before_the_worker_marks_the_row_is_matched_by_out_id_and_kept(db):
    notification_enqueue(
        dedupe_key="outage:9:advance:c1", subject="停电预告", channel=Notification.Channel.SMS, address=MOBILE
    )
    claim = notifications_claim_due()
    [row] = claim.rows

    sms_receipts_apply(
        provider="aliyun",
        receipts=[SmsReceipt("biz-9", "outage:9:advance:c1", True, "DELIVERED", None, MOBILE)],
    )
    marked = services._mark(
        row,
        claim.token,
        status=Notification.Status.SENT,
        **services._submitted(SmsSubmission("aliyun", "biz-9")),
    )

    row.refresh_from_db()
    assert marked
    assert (row.status, row.delivery_status, row.provider_message_id) == ("sent", "delivered", "biz-9")


def test_a_delivered_receipt_for_a_row_waiting_to_retry_stops_the_second_sms(client, db):
    # The first try timed out, yet the provider had taken the message.
    row = sent_sms("outage:1:c1", "", "", status=Notification.Status.PENDING, delivery_status="", attempts=1)

    post(client, "aliyun", [aliyun("biz-late", out_id="outage:1:c1")])

    row.refresh_from_db()
    assert (row.status, row.delivery_status) == ("sent", "delivered")
    assert (row.provider, row.provider_message_id) == ("aliyun", "biz-late")
    assert notifications_deliver_due().claimed == 0
