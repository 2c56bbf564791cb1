"""Reads of the outbox shared by the inbox page and the page header."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils import timezone

from notifications.models import Notification, NotificationQuerySet

INBOX_PAGE_SIZE = 20


def inbox_for(user) -> NotificationQuerySet:
    """The user's in-app messages that have come due: a scheduled one shows from its send time."""
    return Notification.objects.inbox_of(user).filter(next_attempt_at__lte=timezone.now())


@dataclass(frozen=True)
class InboxPage:
    items: list[Notification]
    next_before: int | None


def inbox_page(*, user, before: int | None = None, size: int = INBOX_PAGE_SIZE) -> InboxPage:
    """One page of the inbox, newest first, keyset-paginated on id (`?before=<id>`): one query."""
    queryset = inbox_for(user).order_by("-id")
    if before is not None:
        queryset = queryset.filter(id__lt=before)
    rows = list(queryset[: size + 1])
    items = rows[:size]
    return InboxPage(items=items, next_before=items[-1].pk if len(rows) > size else None)


def notifications_with_key_prefix(prefix: str, *, limit: int) -> list[Notification]:
    """The outbox rows a business object caused, newest first, at most `limit`: its
    dedupe keys start with `prefix` (e.g. "ticket:4711:"). One query, recipients joined."""
    return list(
        Notification.objects.filter(dedupe_key__startswith=prefix)
        .select_related("recipient")
        .order_by("-created_at", "-id")[:limit]
    )
