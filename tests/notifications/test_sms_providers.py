"""SMS through Alibaba Cloud and Tencent Cloud: signed requests, approved templates, the providers' answers.

Each provider is a local server that recomputes the signature from the
documented algorithm (tests/notifications/sms_fakes.py) and answers in the
provider's format.
"""

import json

import pytest
from django.utils import timezone

from notifications.models import Notification, SmsTemplate
from notifications.services import notification_enqueue, notifications_deliver_due
from tests.notifications.sms_fakes import TENCENT_APP_ID, TencentSmsServer

MOBILE = "13885550001"
ADVANCE_PARAMS = {"area": "永乐一号台区", "start": "3月3日08:00", "end": "3月3日18:00"}


@pytest.fixture
def templates(db):
    """Approved templates for an advance notice and the generic kind, on both providers."""
    for provider, advance_code, generic_code in (
        ("aliyun", "SMS_465950001", "SMS_465950009"),
        ("tencent", "2128001", "2128009"),
    ):
        SmsTemplate.objects.update_or_create(
            provider=provider,
            kind="outage_advance",
            defaults={
                "template_code": advance_code,
                "param_names": ["area", "start", "end"],
                "sample_text": "尊敬的客户，{area}计划于{start}至{end}停电检修，请提前做好准备。",
                "active": True,
            },
        )
        SmsTemplate.objects.update_or_create(
            provider=provider,
            kind="generic",
            defaults={"template_code": generic_code, "param_names": ["content"], "active": True},
        )


def enqueue(
    key: str = "outage:7:advance:c1", kind: str = "outage_advance", params=None, **extra
) -> Notification:
    return notification_enqueue(
        dedupe_key=key,
        subject="停电预告",
        body="永乐一号台区计划停电。",
        channel=Notification.Channel.SMS,
        address=MOBILE,
        template_kind=kind,
        template_params=ADVANCE_PARAMS if params is None else params,
        **extra,
    )


def deliver() -> Notification:
    notifications_deliver_due()
    return Notification.objects.get()


def due_again(row: Notification) -> None:
    Notification.objects.filter(pk=row.pk).update(next_attempt_at=timezone.now())


# --- Alibaba Cloud ----------------------------------------------------------


def test_aliyun_sends_the_template_with_a_valid_signature(aliyun_sms, templates):
    enqueue()

    row = deliver()

    [sent] = aliyun_sms.requests
    assert sent["verified"]
    params = sent["params"]
    assert params["Action"] == "SendSms"
    assert params["Version"] == "2017-05-25"
    assert params["SignatureMethod"] == "HMAC-SHA1" and params["SignatureVersion"] == "1.0"
    assert params["PhoneNumbers"] == MOBILE
    assert params["SignName"] == "黔东南供电"
    assert params["TemplateCode"] == "SMS_465950001"
    assert json.loads(params["TemplateParam"]) == ADVANCE_PARAMS
    assert params["OutId"] == "outage:7:advance:c1"
    assert row.status == Notification.Status.SENT
    assert (row.provider, row.provider_message_id) == ("aliyun", "900619746936498441^0")
    assert row.delivery_status == Notification.DeliveryStatus.SUBMITTED


def test_aliyun_a_row_without_a_kind_goes_through_the_generic_template(aliyun_sms, templates):
    enqueue(kind="", params={})

    row = deliver()

    [sent] = aliyun_sms.requests
    assert sent["params"]["TemplateCode"] == "SMS_465950009"
    assert json.loads(sent["params"]["TemplateParam"]) == {"content": "停电预告\n永乐一号台区计划停电。"}
    assert row.status == Notification.Status.SENT


@pytest.mark.parametrize("code", ["isv.BUSINESS_LIMIT_CONTROL", "Throttling.User", "isp.SYSTEM_ERROR"])
def test_aliyun_flow_control_is_retried_later_and_then_sent(aliyun_sms, templates, code):
    aliyun_sms.answer(400, {"Code": code, "Message": "触发流控", "RequestId": "r"})
    enqueue()

    row = deliver()

    assert (row.status, row.attempts) == (Notification.Status.PENDING, 1)
    assert row.next_attempt_at > timezone.now()
    assert row.last_error == f"Aliyun SMS {code}"
    assert row.delivery_status == ""

    due_again(row)
    row = deliver()

    assert row.status == Notification.Status.SENT
    assert row.delivery_status == Notification.DeliveryStatus.SUBMITTED
    assert len(aliyun_sms.requests) == 2
    # Both tries carry the same OutId: the dedupe key.
    assert {r["params"]["OutId"] for r in aliyun_sms.requests} == {"outage:7:advance:c1"}


@pytest.mark.parametrize(
    "code", ["isv.MOBILE_NUMBER_ILLEGAL", "isv.SMS_TEMPLATE_ILLEGAL", "isv.AMOUNT_NOT_ENOUGH"]
)
def test_aliyun_a_rejected_message_fails_at_once(aliyun_sms, templates, code):
    aliyun_sms.answer(200, {"Code": code, "Message": "非法", "RequestId": "r"})
    enqueue()

    row = deliver()

    assert (row.status, row.attempts) == (Notification.Status.FAILED, 1)
    assert row.delivery_status == Notification.DeliveryStatus.FAILED
    assert (row.provider, row.delivery_error) == ("aliyun", code)
    assert MOBILE not in row.last_error


def test_aliyun_a_provider_that_is_down_is_retried(aliyun_sms, templates, settings):
    settings.ALIYUN_SMS_ENDPOINT = "http://127.0.0.1:9/"
    enqueue()

    row = deliver()

    assert (row.status, row.last_error) == (Notification.Status.PENDING, "connection error")


def test_aliyun_a_gateway_error_without_json_is_retried(aliyun_sms, templates):
    aliyun_sms.answer(502, {})
    enqueue()

    assert deliver().status == Notification.Status.PENDING


def test_aliyun_a_wrong_secret_is_refused_by_the_provider(aliyun_sms, templates, settings):
    settings.ALIYUN_SMS_ACCESS_KEY_SECRET = "not-the-secret"
    enqueue()

    row = deliver()

    assert aliyun_sms.requests[0]["verified"] is False
    assert row.status == Notification.Status.FAILED
    assert row.delivery_error == "SignatureDoesNotMatch"


def test_no_active_template_fails_without_calling_the_provider(aliyun_sms, templates):
    SmsTemplate.objects.filter(provider="aliyun", kind="outage_advance").update(active=False)
    enqueue()

    row = deliver()

    assert aliyun_sms.requests == []
    assert row.status == Notification.Status.FAILED
    assert row.last_error == "no active aliyun SMS template for kind outage_advance"
    assert row.delivery_error == "no_template"


@pytest.mark.parametrize("params", [{"area": "永乐", "start": "08:00"}, {**ADVANCE_PARAMS, "end": " "}])
def test_a_missing_parameter_fails_without_calling_the_provider(aliyun_sms, templates, params):
    enqueue(params=params)

    row = deliver()

    assert aliyun_sms.requests == []
    assert row.status == Notification.Status.FAILED
    assert row.last_error == "SMS template aliyun/outage_advance: parameter 'end' missing"


def test_aliyun_a_long_dedupe_key_becomes_a_short_stable_out_id(aliyun_sms, templates):
    key = "outage:7:advance:" + "x" * 150
    enqueue(key=key)

    deliver()

    out_id = aliyun_sms.requests[0]["params"]["OutId"]
    assert len(out_id) <= 64 and out_id.startswith("h-")


def test_aliyun_without_credentials_the_channel_is_skipped(aliyun_sms, templates, settings):
    settings.ALIYUN_SMS_ACCESS_KEY_SECRET = ""
    enqueue()

    row = deliver()

    assert row.status == Notification.Status.SKIPPED
    assert "ALIYUN_SMS_ACCESS_KEY_ID" in row.last_error
    assert aliyun_sms.requests == []


# --- Tencent Cloud ----------------------------------------------------------


def test_tencent_sends_the_template_signed_tc3(tencent_sms, templates):
    enqueue()

    row = deliver()

    [sent] = tencent_sms.requests
    assert sent["verified"]
    headers = sent["headers"]
    assert headers["x-tc-action"] == "SendSms"
    assert headers["x-tc-version"] == "2021-01-11"
    assert headers["x-tc-region"] == "ap-guangzhou"
    assert headers["x-tc-timestamp"].isdigit()
    assert sent["json"] == {
        "PhoneNumberSet": ["+86" + MOBILE],
        "SmsSdkAppId": TENCENT_APP_ID,
        "SignName": "黔东南供电",
        "TemplateId": "2128001",
        "TemplateParamSet": ["永乐一号台区", "3月3日08:00", "3月3日18:00"],
        "SessionContext": "outage:7:advance:c1",
    }
    assert row.status == Notification.Status.SENT
    assert (row.provider, row.provider_message_id) == ("tencent", "2028:1f825e6b16e23f73f4123")
    assert row.delivery_status == Notification.DeliveryStatus.SUBMITTED


@pytest.mark.parametrize(
    "answer",
    [
        TencentSmsServer.status("LimitExceeded.PhoneNumberDailyLimit"),
        TencentSmsServer.error("InternalError.Timeout"),
        TencentSmsServer.error("RequestLimitExceeded"),
    ],
)
def test_tencent_limits_and_internal_errors_are_retried(tencent_sms, templates, answer):
    tencent_sms.answer(200, answer)
    enqueue()

    row = deliver()

    assert (row.status, row.attempts) == (Notification.Status.PENDING, 1)
    due_again(row)
    assert deliver().status == Notification.Status.SENT


@pytest.mark.parametrize(
    ("answer", "code"),
    [
        (
            TencentSmsServer.status("InvalidParameterValue.IncorrectPhoneNumber"),
            "InvalidParameterValue.IncorrectPhoneNumber",
        ),
        (
            TencentSmsServer.error("FailedOperation.TemplateIncorrectOrUnapproved"),
            "FailedOperation.TemplateIncorrectOrUnapproved",
        ),
    ],
)
def test_tencent_other_errors_fail_at_once(tencent_sms, templates, answer, code):
    tencent_sms.answer(200, answer)
    enqueue()

    row = deliver()

    assert row.status == Notification.Status.FAILED
    assert (row.delivery_status, row.delivery_error) == (Notification.DeliveryStatus.FAILED, code)


def test_tencent_a_wrong_key_is_refused_by_the_provider(tencent_sms, templates, settings):
    settings.TENCENT_SMS_SECRET_KEY = "not-the-key"
    enqueue()

    row = deliver()

    assert tencent_sms.requests[0]["verified"] is False
    assert (row.status, row.delivery_error) == (Notification.Status.FAILED, "AuthFailure.SignatureFailure")


def test_tencent_a_parameter_over_the_accounts_limit_is_refused(tencent_sms, templates, settings):
    settings.TENCENT_SMS_PARAM_MAX_LENGTH = 12  # a personally verified account
    enqueue(params={**ADVANCE_PARAMS, "area": "雷山县丹江镇永乐村一号台区及二号台区"})

    row = deliver()

    assert tencent_sms.requests == []
    assert row.status == Notification.Status.FAILED
    assert row.delivery_error == "param_too_long"


def test_tencent_a_provider_that_is_down_is_retried(tencent_sms, templates, settings):
    settings.TENCENT_SMS_ENDPOINT = "http://127.0.0.1:9"
    enqueue()

    row = deliver()

    assert (row.status, row.last_error) == (Notification.Status.PENDING, "Tencent SMS ClientNetworkError")


# --- Generic gateway ----------------------------------------------------------


def test_the_gateway_also_gets_the_kind_and_parameters(db, http_endpoint, settings):
    settings.SMS_PROVIDER = "gateway"
    settings.SMS_GATEWAY_URL = http_endpoint.url("/sms")
    http_endpoint.answer(200, {"ok": True, "message_id": "gw-42"})
    enqueue()

    row = deliver()

    [received] = http_endpoint.requests
    assert received["json"]["content"] == "停电预告\n永乐一号台区计划停电。"
    assert received["json"]["template_kind"] == "outage_advance"
    assert received["json"]["template_params"] == ADVANCE_PARAMS
    assert (row.provider, row.provider_message_id) == ("gateway", "gw-42")
    assert row.delivery_status == Notification.DeliveryStatus.SUBMITTED
