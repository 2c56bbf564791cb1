"""Reads of the outbox shared by the inbox page and the page header."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Case, CharField, Count, F, Max, Q, Value, When, Window
from django.db.models.functions import Cast, Concat, RowNumber
from django.utils import timezone

from notifications.models import DigestEntry, Notification, NotificationQuerySet

# Digests' dedupe keys start so (notifications.digests).
DIGEST_KEY_PREFIX = "digest:"

INBOX_PAGE_SIZE = 20


def inbox_for(user) -> NotificationQuerySet:
    """The user's in-app messages that have come due: a scheduled one shows from its send time."""
    return Notification.objects.inbox_of(user).filter(next_attempt_at__lte=timezone.now())


# Earlier messages shown under a group's latest one; the rest are a click away (the link).
GROUP_EARLIER_SHOWN = 10


@dataclass
class InboxGroup:
    """The messages about one thing (one order: they share a link), shown as one row:
    the latest, how many there are and how many unread, and the few before it."""

    latest: Notification
    count: int
    unread: int
    earlier: list[Notification] = field(default_factory=list)
    digest_lines: list = field(default_factory=list)

    @property
    def more(self) -> int:
        """Earlier messages not shown under the row."""
        return self.count - 1 - len(self.earlier)


@dataclass(frozen=True)
class InboxPage:
    items: list[InboxGroup]
    next_before: int | None


def _stands_alone() -> Q:
    return Q(link="") | Q(dedupe_key__startswith=DIGEST_KEY_PREFIX)


def _group_key():
    """Messages with the same link are about the same thing; one without a link, and a
    digest (it is about many), stands alone."""
    return Case(
        When(_stands_alone(), then=Concat(Value("#"), Cast("id", CharField()))),
        default=F("link"),
        output_field=CharField(),
    )


def inbox_page(*, user, before: int | None = None, size: int = INBOX_PAGE_SIZE) -> InboxPage:
    """One page of the inbox grouped by what the messages are about (their link), the group
    with the newest message first, keyset-paginated on that message's id (`?before=<id>`).

    Two queries (the groups, then their messages, at most GROUP_EARLIER_SHOWN + 1 each),
    and one more for the lines of the digests on the page, if any.
    """
    groups = (
        inbox_for(user)
        .annotate(group=_group_key())
        .values("group")
        .annotate(latest_id=Max("id"), count=Count("id"), unread=Count("id", filter=Q(read_at__isnull=True)))
        .order_by("-latest_id")
    )
    if before is not None:
        groups = groups.filter(latest_id__lt=before)
    heads = list(groups[: size + 1])
    has_more = len(heads) > size
    heads = heads[:size]
    if not heads:
        return InboxPage(items=[], next_before=None)
    links = [head["group"] for head in heads if not head["group"].startswith("#")]
    latest_ids = [head["latest_id"] for head in heads]
    rows = list(
        inbox_for(user)
        .filter(Q(id__in=latest_ids) | (Q(link__in=links) & ~_stands_alone()))
        .annotate(
            position=Window(RowNumber(), partition_by=[_group_key()], order_by=F("id").desc()),
        )
        .filter(position__lte=GROUP_EARLIER_SHOWN + 1)
        .order_by("-id")
    )
    by_group: dict[str, list[Notification]] = {}
    for row in rows:
        alone = not row.link or row.dedupe_key.startswith(DIGEST_KEY_PREFIX)
        by_group.setdefault(f"#{row.pk}" if alone else row.link, []).append(row)
    items = []
    for head in heads:
        members = by_group.get(head["group"], [])
        latest = next(row for row in members if row.pk == head["latest_id"])
        earlier = [row for row in members if row.pk != latest.pk]
        items.append(InboxGroup(latest=latest, count=head["count"], unread=head["unread"], earlier=earlier))
    digests = [group for group in items if group.latest.dedupe_key.startswith(DIGEST_KEY_PREFIX)]
    if digests:
        lines: dict[int, list] = {}
        for entry in DigestEntry.objects.filter(notification__in=[g.latest for g in digests]).order_by("id"):
            lines.setdefault(entry.notification_id, []).append(entry)
        for group in digests:
            group.digest_lines = lines.get(group.latest.pk, [])
    return InboxPage(items=items, next_before=items[-1].latest.pk if has_more else None)


def notifications_with_key_prefix(prefix: str, *, limit: int) -> list[Notification]:
    """The outbox rows a business object caused, newest first, at most `limit`: its
    dedupe keys start with `prefix` (e.g. "ticket:4711:"). One query, recipients joined."""
    return list(
        Notification.objects.filter(dedupe_key__startswith=prefix)
        .select_related("recipient")
        .order_by("-created_at", "-id")[:limit]
    )
