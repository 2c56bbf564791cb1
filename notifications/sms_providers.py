"""SMS through Alibaba Cloud SMS (阿里云短信) and Tencent Cloud SMS (腾讯云短信).

Carriers deliver only approved templates, so a row names its kind and
parameters (`template_kind`, `template_params`) and the backend sends the
active `SmsTemplate` for (provider, kind) with the sign name SMS_SIGN_NAME.
A row without a kind uses the `generic` template; every template may also
name `subject`, `body` and `content` (the row's text), filled from the row.

- Aliyun: SendSms of dysmsapi 2017-05-25, RPC style, signed by hand with the
  documented HMAC-SHA1 signature (sorted, percent-encoded parameters; key =
  AccessKey secret + "&"). Hand-written because the official SDK
  (alibabacloud_dysmsapi20170525) pulls in 17 packages (aiohttp, APScheduler,
  cryptography, …) for what is 15 lines of signing, tested against a local
  server that recomputes the signature.
- Tencent: SendSms of sms 2021-01-11 through the official SDK
  (tencentcloud-sdk-python-sms, which needs only requests), signed TC3-HMAC-SHA256;
  its HttpProfile takes the endpoint, so tests point it at a local server.

The dedupe key travels as Aliyun's OutId and Tencent's SessionContext, so a
receipt can be matched even before the provider's message id is recorded.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from datetime import UTC, datetime
from functools import lru_cache
from urllib.parse import quote, urlsplit

from django.conf import settings
from tencentcloud.common import credential
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.sms.v20210111 import models, sms_client

from notifications.delivery import (
    ChannelNotConfigured,
    PermanentDeliveryError,
    SmsSubmission,
    TransientDeliveryError,
    http_post,
    message_text,
)
from notifications.models import Notification, SmsTemplate
from notifications.sms_kinds import SmsKind, SmsProvider

ALIYUN_API_VERSION = "2017-05-25"
# Aliyun codes worth another try: flow control and the provider's own faults.
ALIYUN_TRANSIENT_CODES = frozenset(
    {
        "isv.BUSINESS_LIMIT_CONTROL",
        "isp.SYSTEM_ERROR",
        "isp.GATEWAY_ERROR",
        "ServiceUnavailable",
        "InternalError",
    }
)
ALIYUN_OUT_ID_MAX_LENGTH = 64
TENCENT_API_VERSION = "2021-01-11"
# SessionContext must stay under 512 bytes (SendSms 2021-01-11).
TENCENT_SESSION_CONTEXT_MAX_BYTES = 500
# Tencent: a message (sign name and variables included) is at most 500 characters.
TENCENT_PARAM_MAX_LENGTH = 500
ERROR_CODE_MAX_LENGTH = 64


def sms_mobile(notification: Notification) -> str:
    mobile = notification.address or (notification.recipient.mobile if notification.recipient_id else "")
    if not mobile:
        raise PermanentDeliveryError("no mobile number")
    return mobile


def _e164(mobile: str) -> str:
    """+86 for a mainland number without a country code (Tencent's PhoneNumberSet wants E.164)."""
    mobile = mobile.strip().replace(" ", "").replace("-", "")
    if mobile.startswith("+"):
        return mobile
    if mobile.startswith("0086"):
        return "+" + mobile[2:]
    if len(mobile) == 13 and mobile.startswith("86"):
        return "+" + mobile
    return "+86" + mobile


def provider_out_id(dedupe_key: str, max_bytes: int) -> str:
    """The dedupe key as the provider's own id field: itself when it fits, else a stable hash."""
    if len(dedupe_key.encode("utf-8")) <= max_bytes and dedupe_key.isascii():
        return dedupe_key
    return "h-" + hashlib.sha256(dedupe_key.encode("utf-8")).hexdigest()[: max_bytes - 2]


def template_for(notification: Notification, provider: str) -> tuple[SmsTemplate, list[tuple[str, str]]]:
    """The active template for the row's kind and its parameters in the template's order.

    Refused (permanently: retrying changes nothing) when no active template
    exists for (provider, kind) or a parameter it names is missing or empty.
    """
    kind = notification.template_kind or SmsKind.GENERIC
    template = SmsTemplate.objects.filter(provider=provider, kind=kind, active=True).first()
    if template is None:
        raise PermanentDeliveryError(f"no active {provider} SMS template for kind {kind}", code="no_template")
    values = {
        "subject": notification.subject,
        "body": notification.body,
        "content": message_text(notification),
    }
    values.update({str(k): str(v) for k, v in (notification.template_params or {}).items()})
    params = []
    for name in template.param_names or []:
        value = values.get(name, "")
        if not value.strip():
            raise PermanentDeliveryError(
                f"SMS template {provider}/{kind}: parameter {name!r} missing", code="missing_param"
            )
        params.append((name, value))
    return template, params


def _sign_name() -> str:
    if not settings.SMS_SIGN_NAME:
        raise ChannelNotConfigured("SMS not configured: SMS_SIGN_NAME is not set")
    return settings.SMS_SIGN_NAME


# --- Aliyun -----------------------------------------------------------------


def aliyun_percent_encode(value: str) -> str:
    """RFC 3986 encoding as the signature documentation asks: space %20, * %2A, ~ kept."""
    return quote(value, safe="-_.~")


def aliyun_signature(params: dict[str, str], secret: str, method: str = "POST") -> str:
    """Base64(HMAC-SHA1(secret + "&", METHOD&%2F&encode(sorted canonical query)))."""
    encode = aliyun_percent_encode
    canonical = "&".join(f"{encode(key)}={encode(value)}" for key, value in sorted(params.items()))
    string_to_sign = f"{method}&{encode('/')}&{encode(canonical)}"
    digest = hmac.new(f"{secret}&".encode(), string_to_sign.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def _aliyun_transient(code: str) -> bool:
    return code in ALIYUN_TRANSIENT_CODES or code.startswith("Throttling")


class AliyunSmsBackend:
    def send(self, notification: Notification) -> SmsSubmission:
        if not (settings.ALIYUN_SMS_ACCESS_KEY_ID and settings.ALIYUN_SMS_ACCESS_KEY_SECRET):
            raise ChannelNotConfigured("Aliyun SMS not configured: ALIYUN_SMS_ACCESS_KEY_ID/SECRET not set")
        sign_name = _sign_name()
        mobile = sms_mobile(notification)
        template, params = template_for(notification, SmsProvider.ALIYUN)
        request = {
            "AccessKeyId": settings.ALIYUN_SMS_ACCESS_KEY_ID,
            "Action": "SendSms",
            "Format": "JSON",
            "RegionId": "cn-hangzhou",
            "SignatureMethod": "HMAC-SHA1",
            "SignatureNonce": uuid.uuid4().hex,
            "SignatureVersion": "1.0",
            "Timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "Version": ALIYUN_API_VERSION,
            "PhoneNumbers": mobile,
            "SignName": sign_name,
            "TemplateCode": template.template_code,
            "OutId": provider_out_id(notification.dedupe_key, ALIYUN_OUT_ID_MAX_LENGTH),
        }
        if params:
            request["TemplateParam"] = json.dumps(dict(params), ensure_ascii=False)
        request["Signature"] = aliyun_signature(request, settings.ALIYUN_SMS_ACCESS_KEY_SECRET)
        body = "&".join(f"{aliyun_percent_encode(k)}={aliyun_percent_encode(v)}" for k, v in request.items())
        response = http_post(
            settings.ALIYUN_SMS_ENDPOINT,
            data=body.encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
        )
        try:
            answer = response.json()
            code = str(answer.get("Code") or "")
        except (ValueError, AttributeError):
            answer, code = {}, ""
        if code == "OK":
            return SmsSubmission(SmsProvider.ALIYUN, str(answer.get("BizId") or "")[:64])
        if not code:
            # No JSON answer: a proxy or an outage in front of the service.
            transient = response.status_code >= 500 or response.status_code == 429
            error = TransientDeliveryError if transient else PermanentDeliveryError
            raise error(f"Aliyun SMS HTTP {response.status_code}", code=f"HTTP {response.status_code}")
        error = TransientDeliveryError if _aliyun_transient(code) else PermanentDeliveryError
        raise error(f"Aliyun SMS {code}", code=code[:ERROR_CODE_MAX_LENGTH])


# --- Tencent ----------------------------------------------------------------


def _tencent_transient(code: str) -> bool:
    return code.startswith(("LimitExceeded", "RequestLimitExceeded", "InternalError")) or code in {
        "ClientNetworkError",
        "ServerNetworkError",
    }


@lru_cache(maxsize=4)
def _tencent_client(endpoint: str, secret_id: str, secret_key: str, region: str, timeout: int):
    url = urlsplit(endpoint if "//" in endpoint else f"https://{endpoint}")
    http_profile = HttpProfile(protocol=url.scheme or "https", endpoint=url.netloc, reqTimeout=timeout)
    profile = ClientProfile(signMethod="TC3-HMAC-SHA256", httpProfile=http_profile)
    return sms_client.SmsClient(credential.Credential(secret_id, secret_key), region, profile)


class TencentSmsBackend:
    def send(self, notification: Notification) -> SmsSubmission:
        if not (
            settings.TENCENT_SMS_SECRET_ID
            and settings.TENCENT_SMS_SECRET_KEY
            and settings.TENCENT_SMS_SDK_APP_ID
        ):
            raise ChannelNotConfigured(
                "Tencent SMS not configured: TENCENT_SMS_SECRET_ID/KEY or TENCENT_SMS_SDK_APP_ID not set"
            )
        sign_name = _sign_name()
        mobile = sms_mobile(notification)
        template, params = template_for(notification, SmsProvider.TENCENT)
        limit = settings.TENCENT_SMS_PARAM_MAX_LENGTH or TENCENT_PARAM_MAX_LENGTH
        for name, value in params:
            if len(value) > limit:
                raise PermanentDeliveryError(
                    f"SMS template tencent/{template.kind}: parameter {name!r} longer than {limit}",
                    code="param_too_long",
                )
        request = models.SendSmsRequest()
        request.PhoneNumberSet = [_e164(mobile)]
        request.SmsSdkAppId = settings.TENCENT_SMS_SDK_APP_ID
        request.SignName = sign_name
        request.TemplateId = template.template_code
        request.TemplateParamSet = [value for _, value in params]
        request.SessionContext = provider_out_id(notification.dedupe_key, TENCENT_SESSION_CONTEXT_MAX_BYTES)
        client = _tencent_client(
            settings.TENCENT_SMS_ENDPOINT,
            settings.TENCENT_SMS_SECRET_ID,
            settings.TENCENT_SMS_SECRET_KEY,
            settings.TENCENT_SMS_REGION,
            settings.OUTBOUND_HTTP_TIMEOUT,
        )
        try:
            response = client.SendSms(request)
        except TencentCloudSDKException as exc:
            # The SDK's message may quote the request; only its code is kept.
            code = str(exc.get_code() or "ClientError")
            error = TransientDeliveryError if _tencent_transient(code) else PermanentDeliveryError
            raise error(f"Tencent SMS {code}", code=code[:ERROR_CODE_MAX_LENGTH]) from None
        except ValueError:
            raise TransientDeliveryError("Tencent SMS answered without JSON", code="bad_answer") from None
        statuses = response.SendStatusSet or []
        if not statuses:
            raise TransientDeliveryError("Tencent SMS answered without a send status", code="no_status")
        code = str(statuses[0].Code or "")
        if code == "Ok":
            return SmsSubmission(SmsProvider.TENCENT, str(statuses[0].SerialNo or "")[:64])
        error = TransientDeliveryError if _tencent_transient(code) else PermanentDeliveryError
        raise error(f"Tencent SMS {code}", code=code[:ERROR_CODE_MAX_LENGTH])
