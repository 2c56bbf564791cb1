"""Delivery channels: one backend per `Notification.Channel`.

A backend's `send(notification)` returns when the message has left, or raises:
- `ChannelNotConfigured` when the deployment has not set the channel up (the
  row is marked SKIPPED, nothing is retried);
- `TransientDeliveryError` for what may work later (timeouts, 5xx, rate limits);
- `PermanentDeliveryError` for what never will (no address, a rejected request).

Error messages end up in `Notification.last_error` and in logs, so they name the
failure (an HTTP status, an error code, an exception class) and never carry an
address, a webhook key or the message text.
"""

from __future__ import annotations

import smtplib
from html import escape
from typing import Protocol

import requests
from django.conf import settings
from django.core.mail import send_mail
from django.urls import reverse

from notifications.models import Notification
from wecom.client import (
    WeComClient,
    WeComError,
    WeComNotConfigured,
    WeComTransientError,
    app_messages_configured,
)

SMTP_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
# WeCom group robots reject text messages longer than 2048 bytes.
WECOM_MAX_CONTENT_BYTES = 2048
# WeCom error codes worth another try: system busy, rate limits.
WECOM_TRANSIENT_ERRCODES = frozenset({-1, 45009, 45033})


class DeliveryError(Exception):
    """A message did not leave. `transient` says whether a later try may succeed."""

    transient = False

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class TransientDeliveryError(DeliveryError):
    transient = True


class PermanentDeliveryError(DeliveryError):
    transient = False


class ChannelNotConfigured(DeliveryError):
    """The channel is switched off in this deployment: not an error, nothing to retry."""

    transient = False


class Backend(Protocol):
    def send(self, notification: Notification) -> None: ...


def message_text(notification: Notification, *, with_subject: bool = True) -> str:
    """Subject, body and (when absolute) the link, one per line."""
    parts = [notification.subject if with_subject else "", notification.body]
    if notification.link.startswith(("http://", "https://")):
        parts.append(notification.link)
    return "\n".join(part for part in parts if part)


def _truncate_utf8(text: str, max_bytes: int) -> str:
    encoded = text.encode("utf-8")
    if len(encoded) <= max_bytes:
        return text
    return encoded[: max_bytes - 3].decode("utf-8", errors="ignore") + "…"


def _post_json(url: str, payload: dict, headers: dict | None = None) -> requests.Response:
    """POST JSON and turn every failure into a DeliveryError without the URL in it."""
    try:
        response = requests.post(
            url, json=payload, headers=headers or {}, timeout=settings.OUTBOUND_HTTP_TIMEOUT
        )
    except requests.Timeout:
        raise TransientDeliveryError("timeout") from None
    except requests.ConnectionError:
        raise TransientDeliveryError("connection error") from None
    except requests.RequestException as exc:
        raise TransientDeliveryError(f"request error: {type(exc).__name__}") from None
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


# WeCom's textcard limits (message/send): title 128 bytes, description 512 bytes,
# a button text of at most 4 characters.
WECOM_TEXTCARD_TITLE_BYTES = 128
WECOM_TEXTCARD_DESCRIPTION_BYTES = 512
WECOM_TEXTCARD_BUTTON = "详情"
# WeCom drops the same card to the same user within this time: a worker that died
# after sending and before marking the row sent repeats the send harmlessly.
WECOM_APP_DUPLICATE_CHECK_SECONDS = 1800


def absolute_link(link: str) -> str:
    """The CRM link as an absolute URL (SITE_URL + path); the inbox when there is none."""
    if link.startswith(("http://", "https://")):
        return link
    return settings.SITE_URL + (link if link.startswith("/") else reverse("notifications:inbox"))


def textcard_description(notification: Notification) -> str:
    """The body as textcard lines (<div class="normal">), within WeCom's byte limit; the subject if empty."""
    lines = [line for line in (notification.body or notification.subject).splitlines() if line.strip()]
    parts: list[str] = []
    used = 0
    for line in lines:
        part = f'<div class="normal">{escape(line, quote=False)}</div>'
        size = len(part.encode("utf-8"))
        if used + size > WECOM_TEXTCARD_DESCRIPTION_BYTES:
            room = WECOM_TEXTCARD_DESCRIPTION_BYTES - used - len('<div class="normal">…</div>'.encode())
            # Cut the plain line, then escape: never in the middle of an entity.
            cut = line
            while cut and len(escape(cut, quote=False).encode("utf-8")) > room:
                cut = cut[:-1]
            if cut:
                parts.append(f'<div class="normal">{escape(cut, quote=False)}…</div>')
            break
        parts.append(part)
        used += size
    return "".join(parts)


class WeComAppBackend:
    """A WeCom app message (应用消息) to the recipient's own WeCom: a textcard linking to the CRM."""

    def send(self, notification: Notification) -> None:
        if not app_messages_configured():
            raise ChannelNotConfigured(
                "WeCom app messages not configured: "
                "WECOM_CORP_ID, WECOM_AGENT_ID or WECOM_AGENT_SECRET is not set"
            )
        userid = notification.address or (
            notification.recipient.wecom_userid if notification.recipient_id else ""
        )
        if not userid:
            raise PermanentDeliveryError("no WeCom userid")
        try:
            answer = WeComClient.agent().send_textcard(
                userids=[userid],
                title=_truncate_utf8(notification.subject, WECOM_TEXTCARD_TITLE_BYTES),
                description=textcard_description(notification),
                url=absolute_link(notification.link),
                btntxt=WECOM_TEXTCARD_BUTTON,
                duplicate_check_seconds=WECOM_APP_DUPLICATE_CHECK_SECONDS,
            )
        except WeComNotConfigured as exc:
            raise ChannelNotConfigured(str(exc)) from None
        except WeComTransientError as exc:
            raise TransientDeliveryError(f"WeCom {exc.reason}") from None
        except WeComError as exc:
            raise PermanentDeliveryError(f"WeCom errcode {exc.errcode}") from None
        if userid in str(answer.get("invaliduser") or "").split("|"):
            raise PermanentDeliveryError("WeCom does not know the recipient's userid")


class SmsGatewayBackend:
    """An HTTP SMS gateway: POST {"mobile", "content", "out_id"}, bearer token when configured.

    `out_id` (also sent as the Idempotency-Key header) is the notification's
    dedupe key: a worker killed between the gateway's answer and marking the
    row sent repeats the POST after its lease, and a gateway that honours the
    key (as carriers' "OutId"/client message ids do) delivers the SMS once.
    """

    def send(self, notification: Notification) -> None:
        if not settings.SMS_GATEWAY_URL:
            raise ChannelNotConfigured("SMS not configured: SMS_GATEWAY_URL is not set")
        mobile = notification.address or (notification.recipient.mobile if notification.recipient_id else "")
        if not mobile:
            raise PermanentDeliveryError("no mobile number")
        headers = {"Idempotency-Key": notification.dedupe_key}
        if settings.SMS_GATEWAY_TOKEN:
            headers["Authorization"] = f"Bearer {settings.SMS_GATEWAY_TOKEN}"
        _post_json(
            settings.SMS_GATEWAY_URL,
            {"mobile": mobile, "content": message_text(notification), "out_id": notification.dedupe_key},
            headers,
        )


BACKENDS: dict[str, Backend] = {
    Notification.Channel.IN_APP: InAppBackend(),
    Notification.Channel.EMAIL: EmailBackend(),
    Notification.Channel.WECOM: WeComWebhookBackend(),
    Notification.Channel.SMS: SmsGatewayBackend(),
    Notification.Channel.WECOM_APP: WeComAppBackend(),
}


def get_backend(channel: str) -> Backend:
    try:
        return BACKENDS[channel]
    except KeyError:
        raise PermanentDeliveryError(f"unknown channel {channel!r}") from None
