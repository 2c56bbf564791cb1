"""Delivery channels: one backend per `Notification.Channel`.

A backend's `send(notification)` returns when the message has left, or raises:
- `ChannelNotConfigured` when the deployment has not set the channel up (the
  row is marked SKIPPED, nothing is retried);
- `TransientDeliveryError` for what may work later (timeouts, 5xx, rate limits);
- `PermanentDeliveryError` for what never will (no address, a rejected request).
An SMS backend returns an `SmsSubmission` (the provider and its message id),
which the delivery receipt later matches.

Error messages end up in `Notification.last_error` and in logs, so they name the
failure (an HTTP status, an error code, an exception class) and never carry an
address, a webhook key or the message text.
"""

from __future__ import annotations

import smtplib
from typing import Protocol

import requests  # noqa: F401  (tests patch requests.post through this module)
from django.conf import settings
from django.core.mail import send_mail

from notifications.delivery import (
    ChannelNotConfigured,
    DeliveryError,
    PermanentDeliveryError,
    SmsSubmission,
    TransientDeliveryError,
    http_post,
    message_text,
)
from notifications.models import Notification
from notifications.sms_kinds import SmsProvider
from notifications.sms_providers import AliyunSmsBackend, TencentSmsBackend, sms_mobile

# Re-exported: callers catch these from here.
__all__ = [
    "ChannelNotConfigured",
    "DeliveryError",
    "PermanentDeliveryError",
    "SmsSubmission",
    "TransientDeliveryError",
    "get_backend",
    "message_text",
]

SMTP_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
# WeCom group robots reject text messages longer than 2048 bytes.
WECOM_MAX_CONTENT_BYTES = 2048
# WeCom error codes worth another try: system busy, rate limits.
WECOM_TRANSIENT_ERRCODES = frozenset({-1, 45009, 45033})


class Backend(Protocol):
    def send(self, notification: Notification) -> SmsSubmission | None: ...


def _truncate_utf8(text: str, max_bytes: int) -> str:
    encoded = text.encode("utf-8")
    if len(encoded) <= max_bytes:
        return text
    return encoded[: max_bytes - 3].decode("utf-8", errors="ignore") + "…"


def _post_json(url: str, payload: dict, headers: dict | None = None) -> requests.Response:
    """POST JSON and turn every failure into a DeliveryError without the URL in it."""
    response = http_post(url, json=payload, headers=headers or {})
    if response.status_code == 429 or response.status_code >= 500:
        raise TransientDeliveryError(f"HTTP {response.status_code}")
    if response.status_code >= 400:
        raise PermanentDeliveryError(f"HTTP {response.status_code}")
    return response


class InAppBackend:
    """The row itself is the message: the inbox reads it, nothing leaves."""

    def send(self, notification: Notification) -> None:
        if notification.recipient_id is None:
            raise PermanentDeliveryError("in-app message without a recipient")


class EmailBackend:
    def send(self, notification: Notification) -> None:
        if not settings.EMAIL_HOST and settings.EMAIL_BACKEND == SMTP_BACKEND:
            raise ChannelNotConfigured("e-mail not configured: EMAIL_HOST is not set")
        to = notification.address or (notification.recipient.email if notification.recipient_id else "")
        if not to:
            raise PermanentDeliveryError("no e-mail address")
        try:
            send_mail(
                notification.subject,
                message_text(notification, with_subject=False),
                settings.DEFAULT_FROM_EMAIL,
                [to],
                fail_silently=False,
            )
        except smtplib.SMTPRecipientsRefused:
            raise PermanentDeliveryError("SMTP recipient refused") from None
        except smtplib.SMTPResponseException as exc:
            if 500 <= exc.smtp_code < 600:
                raise PermanentDeliveryError(f"SMTP {exc.smtp_code}") from None
            raise TransientDeliveryError(f"SMTP {exc.smtp_code}") from None
        except (smtplib.SMTPException, OSError) as exc:
            raise TransientDeliveryError(f"SMTP error: {type(exc).__name__}") from None


class WeComWebhookBackend:
    """A WeCom (企业微信) group robot: a text message to the row's webhook or the default one."""

    def send(self, notification: Notification) -> None:
        url = notification.address or settings.WECOM_WEBHOOK_URL
        if not url:
            raise ChannelNotConfigured("WeCom not configured: WECOM_WEBHOOK_URL is not set")
        content = _truncate_utf8(message_text(notification), WECOM_MAX_CONTENT_BYTES)
        response = _post_json(url, {"msgtype": "text", "text": {"content": content}})
        try:
            errcode = int(response.json().get("errcode", -1))
        except (ValueError, AttributeError, TypeError):
            raise TransientDeliveryError("WeCom answered without a JSON errcode") from None
        if errcode == 0:
            return
        if errcode in WECOM_TRANSIENT_ERRCODES:
            raise TransientDeliveryError(f"WeCom errcode {errcode}")
        raise PermanentDeliveryError(f"WeCom errcode {errcode}")


class SmsGatewayBackend:
    """An HTTP SMS gateway: POST {"mobile", "content", "out_id"}, bearer token when configured.

    `out_id` (also sent as the Idempotency-Key header) is the notification's
    dedupe key: a worker killed between the gateway's answer and marking the
    row sent repeats the POST after its lease, and a gateway that honours the
    key (as carriers' "OutId"/client message ids do) delivers the SMS once.
    A row with a template kind also passes `template_kind` and
    `template_params`; the gateway's `message_id` in its answer, when it gives
    one, is what its delivery receipts name.
    """

    def send(self, notification: Notification) -> SmsSubmission:
        if not settings.SMS_GATEWAY_URL:
            raise ChannelNotConfigured("SMS not configured: SMS_GATEWAY_URL is not set")
        mobile = sms_mobile(notification)
        headers = {"Idempotency-Key": notification.dedupe_key}
        if settings.SMS_GATEWAY_TOKEN:
            headers["Authorization"] = f"Bearer {settings.SMS_GATEWAY_TOKEN}"
        payload = {"mobile": mobile, "content": message_text(notification), "out_id": notification.dedupe_key}
        if notification.template_kind:
            payload["template_kind"] = notification.template_kind
            payload["template_params"] = notification.template_params
        response = _post_json(settings.SMS_GATEWAY_URL, payload, headers)
        try:
            message_id = str(response.json().get("message_id") or "")
        except (ValueError, AttributeError):
            message_id = ""
        return SmsSubmission(SmsProvider.GATEWAY, message_id[:64])


SMS_BACKENDS: dict[str, Backend] = {
    SmsProvider.GATEWAY: SmsGatewayBackend(),
    SmsProvider.ALIYUN: AliyunSmsBackend(),
    SmsProvider.TENCENT: TencentSmsBackend(),
}


BACKENDS: dict[str, Backend] = {
    Notification.Channel.IN_APP: InAppBackend(),
    Notification.Channel.EMAIL: EmailBackend(),
    Notification.Channel.WECOM: WeComWebhookBackend(),
}


def get_backend(channel: str) -> Backend:
    """The channel's backend; for SMS the provider SMS_PROVIDER names."""
    if channel == Notification.Channel.SMS:
        return SMS_BACKENDS[settings.SMS_PROVIDER]
    try:
        return BACKENDS[channel]
    except KeyError:
        raise PermanentDeliveryError(f"unknown channel {channel!r}") from None
