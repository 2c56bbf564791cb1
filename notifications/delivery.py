"""What a channel backend answers: the errors it raises and, for an SMS, what the provider accepted.

Error reasons end up in `Notification.last_error` and in logs, so they name the
failure (an HTTP status, a provider's error code, an exception class) and never
carry an address, a key or the message text.
"""

from __future__ import annotations

from dataclasses import dataclass

import requests
from django.conf import settings

from notifications.models import Notification


class DeliveryError(Exception):
    """A message did not leave. `transient` says whether a later try may succeed;
    `code` is the provider's short error code, when it gave one."""

    transient = False

    def __init__(self, reason: str, *, code: str = ""):
        super().__init__(reason)
        self.reason = reason
        self.code = code


class TransientDeliveryError(DeliveryError):
    transient = True


class PermanentDeliveryError(DeliveryError):
    transient = False


class ChannelNotConfigured(DeliveryError):
    """The channel is switched off in this deployment: not an error, nothing to retry."""

    transient = False


@dataclass(frozen=True)
class SmsSubmission:
    """An SMS the provider accepted: its short name and its id for the message (BizId, SerialNo)."""

    provider: str
    message_id: str = ""


def message_text(notification: Notification, *, with_subject: bool = True) -> str:
    """Subject, body and (when absolute) the link, one per line."""
    parts = [notification.subject if with_subject else "", notification.body]
    if notification.link.startswith(("http://", "https://")):
        parts.append(notification.link)
    return "\n".join(part for part in parts if part)


def http_post(url: str, **kwargs) -> requests.Response:
    """POST with the outbound timeout; a network failure becomes a transient error without the URL."""
    try:
        return requests.post(url, timeout=settings.OUTBOUND_HTTP_TIMEOUT, **kwargs)
    except requests.Timeout:
        raise TransientDeliveryError("timeout") from None
    except requests.ConnectionError:
        raise TransientDeliveryError("connection error") from None
    except requests.RequestException as exc:
        raise TransientDeliveryError(f"request error: {type(exc).__name__}") from None
