"""Telling the people on call, straight through the channels: never through the outbox,
whose delivery may be the very thing that stopped.

Administrators (active superusers and users of the administrator role) get an
e-mail (with OPS_ALERT_EMAILS), a WeCom app message and an in-app message; the
monitoring group gets a message from its WeCom group robot. Each channel is
tried once with the outbound timeout; a failure is logged by class, never with
an address.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import get_connection, send_mail
from django.db.models import Q

from accounts.models import User
from notifications.backends import SMTP_BACKEND, WeComAppBackend, WeComWebhookBackend
from notifications.delivery import DeliveryError
from notifications.models import Notification
from notifications.services import notifications_enqueue_many
from wecom.client import app_messages_configured

logger = logging.getLogger(__name__)


def administrators():
    return User.objects.filter(is_active=True).filter(Q(is_superuser=True) | Q(role=User.Role.ADMINISTRATOR))


def _email(subject: str, body: str, admins: list[User]) -> bool | None:
    if not settings.EMAIL_HOST and settings.EMAIL_BACKEND == SMTP_BACKEND:
        return None
    addresses = sorted({user.email for user in admins if user.email} | set(settings.OPS_ALERT_EMAILS))
    if not addresses:
        return None
    connection = get_connection(timeout=settings.OUTBOUND_HTTP_TIMEOUT)
    send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, addresses, connection=connection)
    return True


def _wecom_app(subject: str, body: str, admins: list[User]) -> bool | None:
    userids = [user.wecom_userid for user in admins if user.wecom_userid]
    if not userids or not app_messages_configured():
        return None
    backend = WeComAppBackend()
    for userid in userids:
        backend.send(Notification(address=userid, subject=subject, body=body, link="/ops/"))
    return True


def _monitoring_group(subject: str, body: str, admins: list[User]) -> bool | None:
    if not settings.OPS_ALERT_WECOM_WEBHOOK_URL:
        return None
    link = settings.SITE_URL + "/ops/"
    WeComWebhookBackend().send(
        Notification(address=settings.OPS_ALERT_WECOM_WEBHOOK_URL, subject=subject, body=body, link=link)
    )
    return True


CHANNELS = {"email": _email, "wecomapp": _wecom_app, "group": _monitoring_group}


def alert_people(*, subject: str, body: str, dedupe_key: str) -> list[str]:
    """Send the alert on every configured channel; the names of those that took it.

    Empty when channels are configured but none took it (the caller tries
    again later). The in-app message is always written (once per key) but
    counts as telling only when no other channel is configured: it is read only
    by someone who signs in.
    """
    admins = list(administrators())
    told, tried = [], False
    for name, send in CHANNELS.items():
        try:
            if send(subject, body, admins):
                told.append(name)
                tried = True
        except Exception as exc:  # an alert channel must never stop the watchdog
            tried = True
            reason = str(exc) if isinstance(exc, DeliveryError) else type(exc).__name__
            logger.warning("ops alert: %s failed: %s", name, reason)
    if admins:
        notifications_enqueue_many(
            [
                {
                    "recipient": user,
                    "channel": Notification.Channel.IN_APP,
                    "subject": subject,
                    "body": body,
                    "link": "/ops/",
                    "dedupe_key": f"{dedupe_key}:{user.pk}",
                }
                for user in admins
            ]
        )
        if not tried:
            told.append("inapp")
    return told
